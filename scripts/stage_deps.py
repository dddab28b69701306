"""Rewrite the module dependencies of every stage in dvc.yaml to the modules its script imports
(videodpo.core.code_closure), leaving every other line as it is; tests/unit/test_stage_deps.py checks them.

    python scripts/stage_deps.py          # rewrite dvc.yaml
    python scripts/stage_deps.py --check  # exit 1 if dvc.yaml is not up to date
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "src"))

from videodpo.core.code_closure import script_closure  # noqa: E402

MODULE_DEP = re.compile(r"^(\s*)- src/videodpo/\S+\.py\s*$")


def rewritten(text: str) -> str:
    lines, out, script = text.splitlines(keepends=True), [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        found = re.search(r"(stages/\w+\.py)", line)
        if "cmd:" in line and found:
            script = found.group(1)
        match = MODULE_DEP.match(line)
        if match and script:
            while i < len(lines) and MODULE_DEP.match(lines[i]):
                i += 1
            indent = match.group(1)
            modules = sorted(str(path.relative_to(ROOT)) for path in script_closure(ROOT / script))
            out += [f"{indent}- {module}\n" for module in modules]
            continue
        out.append(line)
        i += 1
    return "".join(out)


def main() -> int:
    path = ROOT / "dvc.yaml"
    text = path.read_text()
    new = rewritten(text)
    if "--check" in sys.argv[1:]:
        if new != text:
            print("dvc.yaml: the stages' module dependencies are not their imports; run python scripts/stage_deps.py")
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
