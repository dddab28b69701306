"""The page `dvc plots show` writes, with vega, vega-lite and vega-embed inside it: curves draw
without network (DVC's own page loads them from a CDN, and offline every curve is blank).

    python scripts/vendor_vega.py            # fetch the pinned npm tarballs, write the template
    python scripts/vendor_vega.py --from DIR # the same from tarballs already downloaded to DIR

Writes vendor/vega/plots_template.html, which `.dvc/config` names as `plots.html_template`: DVC
fills its `{plot_divs}`; it has no `{scripts}` placeholder, so DVC's CDN script tags are left out.
Each tarball is checked against its pinned SHA-256 before anything is written. The three packages
are BSD-3-Clause (vendor/vega/LICENSE); their licence notices are kept in the page too.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).parents[1]
TEMPLATE = ROOT / "vendor/vega/plots_template.html"
LICENSE = ROOT / "vendor/vega/LICENSE"

# (package, version, the browser build inside the tarball, the tarball's SHA-256)
PINS = (
    ("vega", "5.33.1", "package/build/vega.min.js", "1b8504b6731c5311be3269c4d84ca996a5cc293bc772283293ede20c490e16c3"),
    ("vega-lite", "5.23.0", "package/build/vega-lite.min.js", "e4cbfdd8f6f1abe381c59cd558fd6a559c12b1496bfdf2e0c3295263a40fe4da"),
    ("vega-embed", "6.29.0", "package/build/vega-embed.min.js", "ecf1ee709c2bac9e0a4ead6908114b05b62c71493e10a8a4308109bb070f8eb1"),
)

PAGE = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <meta charset="utf-8">
    <title>DVC Plot</title>
{scripts}
    <style>
        table {{
            border-spacing: 15px;
        }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def tarball_name(package: str, version: str) -> str:
    return f"{package}-{version}.tgz"


def read_tarball(package: str, version: str, sha256: str, folder: Path | None) -> bytes:
    name = tarball_name(package, version)
    if folder is not None:
        data = (folder / name).read_bytes()
    else:
        url = f"https://registry.npmjs.org/{package}/-/{name}"
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{name}: SHA-256 {digest}, pinned {sha256}; refusing to vendor it")
    return data


def member(data: bytes, path: str) -> str | None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        try:
            return archive.extractfile(path).read().decode("utf-8")
        except KeyError:
            return None


def inline_script(package: str, version: str, code: str) -> str:
    if "</script" in code or any(f"{{{key}}}" in code for key in ("plot_divs", "scripts", "refresh_tag")):
        raise SystemExit(f"{package}: its code would break the page or DVC's placeholders")
    return f'    <!-- {package}@{version}, BSD-3-Clause: vendor/vega/LICENSE -->\n    <script type="text/javascript">{code}</script>'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="folder", type=Path, help="a folder holding the pinned .tgz files")
    args = parser.parse_args()
    scripts, licences = [], []
    for package, version, build, sha256 in PINS:
        data = read_tarball(package, version, sha256, args.folder)
        scripts.append(inline_script(package, version, member(data, build)))
        licences.append((f"{package}@{version}", member(data, "package/LICENSE")))
    shipped = [notice for _, notice in licences if notice is not None]
    if not shipped:
        raise SystemExit("no licence text in any of the tarballs")
    # vega's tarball ships no LICENSE file; its package.json declares BSD-3-Clause, the licence of the
    # vega repository, from the same copyright holder as vega-lite's and vega-embed's
    licences = [(name, notice or f"(no LICENSE file in the tarball; package.json: BSD-3-Clause)\n\n{shipped[0]}") for name, notice in licences]
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE.write_text(PAGE.format(scripts="\n".join(scripts)), encoding="utf-8")
    LICENSE.write_text("\n".join(f"{name} (BSD-3-Clause)\n\n{notice.strip()}\n" for name, notice in licences), encoding="utf-8")
    print(f"wrote {TEMPLATE.relative_to(ROOT)} ({TEMPLATE.stat().st_size / 1e6:.2f} MB) and {LICENSE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
