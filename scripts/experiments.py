"""DVC experiments run by the measurement scripts (dev_sweep.py, training_seeds.py), and read back.

Each experiment is `dvc exp run -n <name> -S ... <target>` in the workspace, from the committed
params, and is read back from its git ref (refs/exps/…/<name>) once it has finished. An experiment
already finished for the commit is read, not run again, so an interrupted script picks up where it
stopped. When the script ends, the workspace gets the commit's params, lock and outputs back.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).parents[1]
COMMITTED = ("params.yaml", "dvc.lock", "metrics", "plots")  # what an experiment run in the workspace rewrites


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def baseline() -> str:
    """The commit the experiments branch from."""
    return git("rev-parse", "HEAD")


def experiment_ref(name: str) -> str | None:
    """The ref of the finished experiment `name` of this commit, or None."""
    head = baseline()
    refs = git("for-each-ref", "--format=%(refname)", f"refs/exps/{head[:2]}/{head[2:]}/").split()
    return next((ref for ref in refs if ref.rsplit("/", 1)[-1] == name), None)


def locked_bases(lock_text: str) -> dict[str, str]:
    """The hash of each family's base model in a dvc.lock's text, by family ("" for the `base` of a lock of one family)."""
    import yaml

    stages = (yaml.safe_load(lock_text) or {}).get("stages", {})
    return {name.partition("@")[2]: stage["outs"][0]["md5"] for name, stage in stages.items() if name.partition("@")[0] == "base"}


def family_base(bases: dict[str, str], family: str) -> str | None:
    """The family's hash among locked_bases' (a lock of one family's `base` serves any), or None."""
    return bases.get(family, bases.get(""))


def locked_base(lock_text: str, family: str) -> str | None:
    """The hash of the family's base model in a dvc.lock's text (`base` in a lock of one family), or None."""
    return family_base(locked_bases(lock_text), family)


def base_at(commit: str, family: str) -> str | None:
    """The hash of the family's base model in the dvc.lock of `commit`: the base a run of that commit trained on."""
    return locked_base(git("show", f"{commit}:dvc.lock"), family)


def read_json(ref: str, path: str) -> dict:
    """A JSON file as the experiment (or any commit) `ref` holds it."""
    return json.loads(git("show", f"{ref}:{path}"))


def run_experiment(name: str, overrides: list[str], target: str) -> str:
    """Run (or find) the experiment `name`: the committed params with `overrides` (-S syntax), reproduced
    up to `target`; its ref."""
    ref = experiment_ref(name)
    if ref:
        print(f"{name}: finished before, read from {ref}", flush=True)
        return ref
    git("checkout", "--", "params.yaml")  # -S applies to the committed params, not the last experiment's
    command = ["dvc", "exp", "run", "-n", name, *(word for change in overrides for word in ("-S", change)), target]
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)
    ref = experiment_ref(name)
    if ref is None:
        raise SystemExit(f"{name}: `dvc exp run` finished but no experiment ref was written; see `dvc exp show`")
    return ref


@contextmanager
def experiments_on_the_commit():
    """Experiments from a workspace whose tracked files match the commit (so each branches from it
    alone); the commit's params, lock and outputs restored at the end, however the block ends."""
    changed = git("status", "--porcelain", "--untracked-files=no")
    if changed:
        raise SystemExit(f"the workspace differs from the commit:\n{changed}\ncommit or stash first: experiments branch from the commit")
    try:
        yield baseline()
    finally:
        git("checkout", "--", *COMMITTED)
        subprocess.run(["dvc", "checkout", "--quiet"], cwd=ROOT, check=False)


def write_report(family: str, name: str, report: dict) -> Path:
    """A measurement script's report as docs/measured/<family>/<name>.json; its path."""
    path = ROOT / "docs/measured" / family / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def change_cells(change: dict) -> str:
    """Each measure's relative change from the base, for a script's printout."""
    return "  ".join(f"{key} {100 * value['relative']:+.1f} %" for key, value in change.items())
