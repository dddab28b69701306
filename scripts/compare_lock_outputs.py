"""Compare the outputs of two dvc.lock files, stage by stage: each output of each stage of the first, by
its hash, against the same output in the second. Two kinds of output are expected to differ and are
counted apart: the settings files (they carry a digest of the code each step runs) and what records
training time (stage metrics, dvclive tables, validation tables and the chart drawn from them). Any
other difference is a changed result, and the script exits 1.

    git show 12147c2:dvc.lock > /tmp/before.lock
    python scripts/compare_lock_outputs.py /tmp/before.lock dvc.lock
    python scripts/compare_lock_outputs.py --single-family old.lock dvc.lock   # a lock from before families: X@S is X@animatediff-S
"""

from __future__ import annotations

import argparse
import fnmatch
import sys

import yaml

CODE_DIGESTS = ("data/*/settings/*",)
TIMINGS = (
    "plots/base/*/training/metrics.json", "metrics/*/train_*.json", "plots/train/*/*/metrics.json",
    "plots/train/*/*/plots/metrics", "plots/train/*/*/validation.csv", "plots/eval/validation.png",
)


def single_family_name(name: str) -> str:
    stage, _, item = name.partition("@")
    return f"{stage}@animatediff-{item}" if item else f"{stage}@animatediff"


def kind(path: str) -> str:
    if any(fnmatch.fnmatch(path, pattern) for pattern in CODE_DIGESTS):
        return "code digest"
    if any(fnmatch.fnmatch(path, pattern) for pattern in TIMINGS):
        return "timing"
    return "result"


def compare(before: dict, after: dict, rename=lambda name: name) -> dict[str, list[str]]:
    """The outputs of `before`'s stages by how they compare in `after`: same, or differing by kind."""
    found: dict[str, list[str]] = {"same": [], "missing": []}
    for name, stage in before.items():
        target = after.get(rename(name)) or after.get(name)
        if target is None:
            found["missing"].append(name)
            continue
        outputs = {out["path"]: out for out in target.get("outs", [])}
        for out in stage.get("outs", []):
            new = outputs.get(out["path"])
            if new is not None and (out.get("md5"), out.get("size")) == (new.get("md5"), new.get("size")):
                found["same"].append(out["path"])
            else:
                found.setdefault(f"differs ({kind(out['path'])})", []).append(f"{name}: {out['path']}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--single-family", action="store_true", help="the first lock is from before families")
    args = parser.parse_args()
    before = yaml.safe_load(open(args.before))["stages"]
    after = yaml.safe_load(open(args.after))["stages"]
    found = compare(before, after, single_family_name if args.single_family else lambda name: name)
    for group, items in found.items():
        if group != "same":
            for item in items:
                print(f"{group}: {item}")
    print(", ".join(f"{group} {len(items)}" for group, items in found.items()))
    return 1 if found["missing"] or found.get("differs (result)") else 0


if __name__ == "__main__":
    sys.exit(main())
