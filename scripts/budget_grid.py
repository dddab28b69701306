"""Queue a budget grid (grids/*.yaml) as DVC experiments, and optionally run and time it.

    python scripts/budget_grid.py grids/budgets.yaml --family wan --dry-run   # the points and their -S changes
    python scripts/budget_grid.py grids/budgets.yaml --family wan             # queue them: dvc exp run --queue …
    dvc queue start -j 1 && dvc queue status                                  # run them (or add --start below)
    python scripts/budget_grid.py grids/budgets.yaml --family wan --start     # queue, run, wait, and record the wall time

Each point is one method alone in one family (`families=[F]`, `methods=[M]`) reproduced up to
`evaluate@F-test`, named `budget-<family>-<method>-<budget>-s<training seed>[-b<pretrain seed>]`, with
the committed params and only its budget, its training seed, its base's pretrain seed and (with
`validation: false`) its validation cadence changed. Points already finished for this commit, or
already queued, are skipped: run it again after an interruption and it queues what is left. The
queue runs the points in the order queued: on each base the first training seed's points first, so
the later seeds find the pairs made (make_pairs reads no training seed) in DVC's run-cache.
Run from a committed workspace whose family bases are in the DVC cache (`dvc repro` or `dvc pull`).
`--start` appends the run's wall time, its points and the machine to docs/measured/budget_runs.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from experiments import ROOT, experiment_ref, experiments_on_the_commit, git

sys.path.insert(0, str(ROOT / "src"))
from videodpo.config import family_overlay  # noqa: E402

AXES = {"labels": "pairs", "reward_queries": "clips"}  # a grid's axis → the key of its budgets
SEED_PARAMS = {"vader": "vader.seed", "grpo": "grpo.seed"}  # the pair methods train with the `training` loop
VALIDATION_PARAMS = {"vader": "vader.val_every", "grpo": "grpo.val_every"}
RUNS_LOG = ROOT / "docs/measured/budget_runs.json"


@dataclass(frozen=True)
class Point:
    name: str
    family: str
    method: str
    axis: str  # labels | reward_queries
    budget: int  # pairs, or clips the reward scores
    seed: int  # the training seed
    pretrain_seed: int  # the base's
    changes: tuple[str, ...] = field(default=())  # -S changes

    @property
    def target(self) -> str:
        return f"evaluate@{self.family}-test"

    def overrides(self) -> list[str]:
        return [f"families=[{self.family}]", f"methods=[{self.method}]", *self.changes]


def load_grid(path: Path) -> dict:
    """A grid file, checked: a ValueError names the file and key at fault."""
    grid = yaml.safe_load(Path(path).read_text()) or {}
    known = {"families", "labels", "reward_queries", "training_seeds", "second_base", "validation"}
    if unknown := set(grid) - known:
        raise ValueError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; a grid has {', '.join(sorted(known))}")
    for key in ("families", "training_seeds"):
        if not grid.get(key):
            raise ValueError(f"{path}: `{key}` must list at least one")
    for axis, budgets in AXES.items():
        if axis in grid and not (grid[axis].get("methods") and grid[axis].get(budgets)):
            raise ValueError(f"{path}: `{axis}` needs `methods` and `{budgets}`")
    return grid


def method_seed_param(method: str) -> str:
    return SEED_PARAMS.get(method, "training.seed")


def reward_steps(method: str, clips: int, sections: dict) -> int:
    """vader's or grpo's max_steps that have the reward score `clips` clips in training (a ValueError if none does exactly)."""
    if method == "vader":
        per_step = sections["vader"]["clips_per_step"]
        steps, left = divmod(clips, per_step)
        if left or not steps:
            raise ValueError(f"reward_queries.clips: {clips} is not a whole number of vader steps of {per_step} clips (vader.clips_per_step)")
        return steps
    if method == "grpo":
        grpo = sections["grpo"]
        per_round = grpo["prompts_per_round"] * grpo["group_size"]
        rounds, left = divmod(clips, per_round)
        if left or not rounds:
            raise ValueError(f"reward_queries.clips: {clips} is not a whole number of grpo rounds of {per_round} clips "
                             "(grpo.prompts_per_round × grpo.group_size)")
        return rounds * grpo["updates_per_round"]
    raise ValueError(f"reward_queries.methods: {method!r} scores no reward in training; the reward methods are vader and grpo")


def budget_changes(axis: str, method: str, budget: int, family: str, params: dict) -> list[str]:
    """The -S changes (shared keys) that give `method` the budget on `family`."""
    if axis == "labels":
        return [f"tiers.{params['tier']}.data.num_pairs={budget}"]
    return [f"{method}.max_steps={reward_steps(method, budget, family_overlay(params, family))}"]


def points(grid: dict, params: dict, families: list[str] | None = None, base: str = "both") -> list[Point]:
    """Every point of the grid in the order they should run: base by base (the committed one first), each
    training seed in turn, then method and budget. `base`: committed | second | both."""
    committed_seed = {family: params[family]["pretrain"]["seed"] for family in grid["families"]}
    second = grid.get("second_base")
    bases = ([(None, grid["training_seeds"])] if base != "second" else []) + (
        [(second["pretrain_seed"], second["training_seeds"])] if second and base != "committed" else [])
    chosen = []
    for family in families or grid["families"]:
        if family not in grid["families"]:
            raise ValueError(f"--family {family}: not one of the grid's families ({', '.join(grid['families'])})")
        for pretrain_seed, training_seeds in bases:
            for seed in training_seeds:
                for axis, key in AXES.items():
                    for method in grid.get(axis, {}).get("methods", []):
                        for budget in grid[axis][key]:
                            changes = budget_changes(axis, method, budget, family, params) + [f"{method_seed_param(method)}={seed}"]
                            if grid.get("validation") is False:
                                changes.append(f"{VALIDATION_PARAMS.get(method, 'training.val_every')}=0")
                            if pretrain_seed is not None and pretrain_seed != committed_seed[family]:
                                changes.append(f"{family}.pretrain.seed={pretrain_seed}")
                            own = pretrain_seed if pretrain_seed is not None else committed_seed[family]
                            name = f"budget-{family}-{method}-{key}{budget}-s{seed}" + ("" if pretrain_seed is None else f"-b{pretrain_seed}")
                            chosen.append(Point(name, family, method, axis, budget, seed, own,
                                                tuple(reach(change, family, params) for change in changes)))
    return chosen


def reach(change: str, family: str, params: dict) -> str:
    """A shared key's change as the family's run must get it: through the family's own override where it sets
    that key (it would win), else the shared key itself (the family's overrides merge over it key by key). Never
    a new key under `<family>.overrides`: the family's base depends on its overrides of the clips (toyworld, tiers),
    and a key added there would pretrain the base again."""
    key, value = change.split("=", 1)
    node = (params.get(family) or {}).get("overrides") or {}
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return f"{family}.overrides.{key}={value}" if node is not None and not isinstance(node, dict) else change


def finished_refs() -> dict[str, str]:
    """Every finished experiment's ref by name, whatever commit it branched from; where a name was run from
    several commits, the newest run's."""
    out = git("for-each-ref", "--sort=committerdate", "--format=%(refname)", "refs/exps")
    return {ref.rsplit("/", 1)[-1]: ref for ref in out.split()}


def read_queue() -> tuple[list[tuple[str, str]], str]:
    """`dvc queue status`: each named task as (name, status: Queued | Running | Success | Failed), and the text itself."""
    out = subprocess.run(["dvc", "queue", "status"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    rows = [(words[1], words[-1]) for words in (line.split() for line in out.splitlines())
            if len(words) >= 3 and words[-1] in ("Queued", "Running", "Success", "Failed")]
    return rows, out


def queue_status() -> tuple[dict[str, str], int]:
    """The experiments waiting or running in DVC's queue (name → Queued | Running), and the queue's live workers."""
    rows, out = read_queue()
    tasks = {name: status for name, status in rows if status in ("Queued", "Running")}
    workers = live_workers()
    if workers is None:
        counted = re.search(r"Worker status: (\d+) active, (\d+) idle", out)
        workers = sum(map(int, counted.groups())) if counted else 0
    return tasks, workers


def worker_node_prefix() -> str:
    """DVC names a workspace's queue workers dvc-exp-<sha256 of its celery folder, 6 digits>-<n>@localhost."""
    return "dvc-exp-" + hashlib.sha256(str(ROOT / ".dvc/tmp/exps/celery").encode()).hexdigest()[:6] + "-"


def live_workers() -> int | None:
    """This workspace's queue workers alive, by node name, from the process table (None without /proc). DVC's own
    count pings each worker through its filesystem broker, and a worker busy on two shared cores can miss the
    second it is given: counted dead, it would be started a second time."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    prefix, nodes = worker_node_prefix(), set()
    for cmdline in proc.glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "queue-worker" in words:
            nodes.update(word for word in words if word.startswith(prefix))
    return len(nodes)


def queued_names() -> set[str]:
    return set(queue_status()[0])


def queue(grid_points: list[Point], resume: bool = False) -> list[Point]:
    """Queue the points neither finished for this commit (with `resume`: for any commit) nor queued; the points queued."""
    waiting, added = queued_names(), []
    finished_before = finished_refs() if resume else {}
    for point in grid_points:
        if experiment_ref(point.name) or point.name in finished_before or point.name in waiting:
            continue
        git("checkout", "--", "params.yaml")  # -S applies to the committed params
        command = ["dvc", "exp", "run", "--queue", "-n", point.name, *(w for c in point.overrides() for w in ("-S", c)), point.target]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
        added.append(point)
        print(f"queued {point.name}", flush=True)
    git("checkout", "--", "params.yaml")
    return added


def wait_for(names: set[str], jobs: int, poll_seconds: float = 15.0, grace_seconds: float = 90.0) -> None:
    """Until none of `names` waits or runs. A worker that dies (DVC's filesystem broker can lose one to a message
    read while another writes it) is started again, so the queue keeps `jobs` workers. A worker only counts as
    dead when the queue has been short of workers for `grace_seconds`: one just started takes seconds to report,
    and starting another in its place runs a third point on the cores and slows every point it overlaps."""
    short_since = None
    while True:
        tasks, workers = queue_status()
        if not names & set(tasks):
            return
        waiting = any(tasks[name] == "Queued" for name in names & set(tasks))
        if workers >= jobs or not waiting:
            short_since = None
        elif short_since is None:
            short_since = time.monotonic()
        elif time.monotonic() - short_since >= grace_seconds:
            print(f"{workers} of {jobs} queue workers alive for {grace_seconds:.0f} s: starting {jobs - workers} again", flush=True)
            subprocess.run(["dvc", "queue", "start", "-j", str(jobs)], cwd=ROOT, check=True)
            short_since = None
        time.sleep(poll_seconds)


TASK_DONE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+: INFO/MainProcess\] Task \S+run_exp\[\S+\] succeeded in ([\d.]+)s")


def worker_seconds(since: float, until: float = float("inf")) -> tuple[float, int]:
    """Seconds the queue's workers spent on experiments that finished between `since` and `until` (epoch), and how
    many, from their logs (.dvc/tmp/exps/celery/*.out, local time): the grid's cost less any time a dead worker left idle."""
    busy, count = 0.0, 0
    for log in (ROOT / ".dvc/tmp/exps/celery").glob("*.out"):
        for line in log.read_text(errors="replace").splitlines():
            if (found := TASK_DONE.match(line)) and since <= time.mktime(time.strptime(found[1], "%Y-%m-%d %H:%M:%S")) <= until:
                busy, count = busy + float(found[2]), count + 1
    return busy, count


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        return f"{fields['Model name'].strip()}, family {fields['CPU family'].strip()} model {fields['Model'].strip()}"
    except (OSError, KeyError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"


def record_run(grid_path: Path, families: list[str], grid_points: list[Point], started: float, stopped: float,
               jobs: int, threads: int | None) -> dict:
    """Append one timed run of the grid, from `started` to `stopped` (epoch), to RUNS_LOG. A grid run in parts (a queue
    stopped and started again, a machine that went down) is one entry a part: each counts the points it finished."""
    refs = finished_refs()
    finished = [p.name for p in grid_points if p.name in refs]
    in_run = [name for name in finished if started <= int(git("log", "-1", "--format=%ct", refs[name])) <= stopped]
    entry = {
        "grid": str(Path(grid_path).resolve().relative_to(ROOT)), "families": families,
        "pretrain_seeds": sorted({p.pretrain_seed for p in grid_points}),  # the bases' (the committed one's, a second one's)
        "commits": sorted({git("rev-parse", f"{refs[name]}^") for name in in_run}),  # the commits the experiments branched from
        "points": len(grid_points), "finished": len(finished), "finished_in_run": len(in_run),
        # not finished when the part ended: not run yet, or failed (`dvc queue status`, `dvc queue logs <name>`)
        "unfinished": sorted({p.name for p in grid_points} - set(finished)),
        "wall_seconds": round(stopped - started, 1), "worker_seconds": round(worker_seconds(started, stopped)[0], 1),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "jobs": jobs, "threads_per_job": threads or "torch's default (the cores)", "cpu": cpu_name(), "cores": os.cpu_count(),
    }
    runs = json.loads(RUNS_LOG.read_text()) if RUNS_LOG.is_file() else []
    RUNS_LOG.parent.mkdir(parents=True, exist_ok=True)
    RUNS_LOG.write_text(json.dumps([*runs, entry], indent=2) + "\n")
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", type=Path, help="a grid file (grids/budgets.yaml, grids/budgets_small.yaml)")
    parser.add_argument("--family", action="append", help="only this family's points (repeatable; default: the grid's families)")
    parser.add_argument("--dry-run", action="store_true", help="print the points and their changes; queue nothing")
    parser.add_argument("--start", action="store_true", help="then run the queue (dvc queue start), wait, and record the wall time")
    parser.add_argument("--base", choices=("committed", "second", "both"), default="both", help="the points on the committed base, the second base's, or both")
    parser.add_argument("--first", type=int, metavar="N", help="only the first N points (one alone pretrains a second base before -j 2 runs the rest)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="workers for --start (default 1)")
    parser.add_argument("--wait-from", type=float, metavar="EPOCH", help="queue nothing: wait for the grid's queued points (a queue "
                        "started by hand, `date +%%s` then `dvc queue start`) and record the wall time since EPOCH")
    parser.add_argument("--stopped-at", type=float, metavar="EPOCH", help="with --wait-from: do not wait; record the part of "
                        "a run that went from --wait-from to EPOCH (a queue stopped with `dvc queue stop`, a machine that went down)")
    parser.add_argument("--resume", action="store_true", help="skip points finished for any commit, not only this one: a grid "
                        "carried on after commits that changed no stage's work (its record lists each part's commits)")
    parser.add_argument("--threads", type=int, help="torch threads a worker's stages use (OMP_NUM_THREADS); with -j 2 on 2 cores give 1")
    args = parser.parse_args()
    if args.threads:  # the queue's workers inherit the environment they are started from
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    try:
        grid = load_grid(args.grid)
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        grid_points = points(grid, params, args.family, args.base)[: args.first]
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if args.stopped_at and not args.wait_from:
        raise SystemExit("--stopped-at records a part of a run: give its start with --wait-from EPOCH")
    if args.wait_from:
        if not args.stopped_at:
            wait_for({point.name for point in grid_points}, args.jobs)
        entry = record_run(args.grid, args.family or grid["families"], grid_points, args.wait_from,
                           args.stopped_at or time.time(), args.jobs, args.threads)
        print(f"{entry['finished_in_run']} points finished in {entry['wall_seconds'] / 60:.1f} min; "
              f"{entry['finished']} of the grid's {entry['points']} finished in all")
        return 0
    if args.dry_run:
        for point in grid_points:
            print(f"{point.name}: {' '.join('-S ' + change for change in point.overrides())} {point.target}")
        print(f"{len(grid_points)} points")
        return 0
    with experiments_on_the_commit():
        added = queue(grid_points, resume=args.resume)
        print(f"{len(added)} queued, {len(grid_points) - len(added)} finished or queued before")
        if args.start:
            started = time.time()
            subprocess.run(["dvc", "queue", "start", "-j", str(args.jobs)], cwd=ROOT, check=True)
            wait_for({point.name for point in grid_points}, args.jobs)
            entry = record_run(args.grid, args.family or grid["families"], grid_points, started, time.time(), args.jobs, args.threads)
            print(f"{entry['finished']} of {entry['points']} points finished in {entry['wall_seconds'] / 60:.1f} min; "
                  f"not finished: {', '.join(entry['unfinished']) or 'none'} (dvc queue status; dvc queue logs <name>)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
