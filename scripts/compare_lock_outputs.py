"""Compare the output hashes of a single-family dvc.lock (before families) with the animatediff
stages of a two-family one: `X@S` there is `X@animatediff-S` here.

    git show 7353d02:dvc.lock > /tmp/before.lock
    python scripts/compare_lock_outputs.py /tmp/before.lock dvc.lock
"""

from __future__ import annotations

import sys

import yaml


def renamed(name: str) -> str:
    stage, _, item = name.partition("@")
    return f"{stage}@animatediff-{item}" if item else f"{stage}@animatediff"


def main(before_path: str, after_path: str) -> None:
    before = yaml.safe_load(open(before_path))["stages"]
    after = yaml.safe_load(open(after_path))["stages"]
    same = differ = 0
    for name, stage in before.items():
        target = after.get(renamed(name)) or after.get(name)
        if target is None:
            print("missing", name)
            continue
        for old, new in zip(stage.get("outs", []), target.get("outs", [])):
            if (old.get("md5"), old.get("size")) == (new.get("md5"), new.get("size")):
                same += 1
            else:
                differ += 1
                print("differs", name, old["path"], "->", new["path"])
    print("same", same, "differ", differ)


if __name__ == "__main__":
    main(*sys.argv[1:3])
