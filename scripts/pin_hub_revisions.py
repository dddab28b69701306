"""Pin the hub models to commits: resolve every revision of each family's `hub` section
(`animatediff.hub.revision`, `animatediff.hub.motion_adapter_revision`, `wan.hub.revision`: branches
or tags) to the commits they point at now, and write those into params.yaml.

    python scripts/pin_hub_revisions.py            # needs the network (or a cache that holds the refs)
    python scripts/pin_hub_revisions.py --dry-run  # only print what it would write

A pinned params.yaml loads the same weights on every machine and in every later run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ruamel.yaml import YAML


def commit_of(repo: str, revision: str) -> str:
    from huggingface_hub import HfApi

    return HfApi().model_info(repo, revision=revision).sha


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    yaml = YAML()  # round-trip: comments and layout of params.yaml are kept
    path = Path(args.params)
    params = yaml.load(path.read_text())
    for family in params["families"]:
        hub = params[family]["hub"]
        for revision_key in [key for key in hub if key == "revision" or key.endswith("_revision")]:
            repo_key = "base" if revision_key == "revision" else revision_key.removesuffix("_revision")
            commit = commit_of(hub[repo_key], str(hub[revision_key]))
            print(f"{family}.hub.{revision_key}: {hub[revision_key]} -> {commit}  ({hub[repo_key]})")
            hub[revision_key] = commit
    if not args.dry_run:
        with open(path, "w") as handle:
            yaml.dump(params, handle)


if __name__ == "__main__":
    main()
