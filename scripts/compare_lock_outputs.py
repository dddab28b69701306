"""Compare the outputs of two dvc.lock files, stage by stage: each output of each stage of the first, by
its hash, against the same output in the second. Two kinds of output are expected to differ and are
counted apart: the settings files (they carry a digest of the code each step runs) and what records
training time (stage metrics, dvclive tables, validation tables and the chart drawn from them). With
both runs' workspaces (--workspaces), a JSON output whose hashes differ is read from both: if it
differs only in its timing keys (wall_seconds …), it is a timing too. Any other difference is a
changed result, and the script exits 1.

    git show 12147c2:dvc.lock > /tmp/before.lock
    python scripts/compare_lock_outputs.py /tmp/before.lock dvc.lock
    python scripts/compare_lock_outputs.py run1/dvc.lock run2/dvc.lock --workspaces run1 run2
    python scripts/compare_lock_outputs.py --single-family old.lock dvc.lock   # a lock from before families: X@S is X@animatediff-S
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path

import yaml

CODE_DIGESTS = ("data/*/settings/*",)
TIMINGS = (
    "plots/base/*/training/metrics.json", "metrics/*/train_*.json", "plots/train/*/*/metrics.json",
    "plots/train/*/*/plots/metrics", "plots/train/*/*/validation.csv", "plots/eval/validation.png",
)


TIMING_KEYS = ("wall_seconds", "train_seconds", "pretrain_minutes", "seconds")


def without_timings(value):
    """A JSON value with every timing key left out, at any depth."""
    if isinstance(value, dict):
        return {key: without_timings(item) for key, item in value.items() if key not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def differs_in_timings_alone(path: str, workspaces: tuple[Path, Path] | None) -> bool:
    """Whether a JSON output, read from both runs' workspaces, differs in its timing keys alone."""
    if workspaces is None or not path.endswith(".json"):
        return False
    files = [workspace / path for workspace in workspaces]
    if not all(file.is_file() for file in files):
        return False
    before, after = (without_timings(json.loads(file.read_text())) for file in files)
    return before == after


def single_family_name(name: str) -> str:
    stage, _, item = name.partition("@")
    return f"{stage}@animatediff-{item}" if item else f"{stage}@animatediff"


def kind(path: str) -> str:
    if any(fnmatch.fnmatch(path, pattern) for pattern in CODE_DIGESTS):
        return "code digest"
    if any(fnmatch.fnmatch(path, pattern) for pattern in TIMINGS):
        return "timing"
    return "result"


def compare(before: dict, after: dict, rename=lambda name: name, workspaces: tuple[Path, Path] | None = None) -> dict[str, list[str]]:
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
                how = "timing" if differs_in_timings_alone(out["path"], workspaces) else kind(out["path"])
                found.setdefault(f"differs ({how})", []).append(f"{name}: {out['path']}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--single-family", action="store_true", help="the first lock is from before families")
    parser.add_argument("--workspaces", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="the two runs' folders, to read JSON outputs from")
    args = parser.parse_args()
    before = yaml.safe_load(open(args.before))["stages"]
    after = yaml.safe_load(open(args.after))["stages"]
    rename = single_family_name if args.single_family else lambda name: name
    found = compare(before, after, rename, tuple(args.workspaces) if args.workspaces else None)
    for group, items in found.items():
        if group != "same":
            for item in items:
                print(f"{group}: {item}")
    print(", ".join(f"{group} {len(items)}" for group, items in found.items()))
    return 1 if found["missing"] or found.get("differs (result)") else 0


if __name__ == "__main__":
    sys.exit(main())
