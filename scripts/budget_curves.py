"""Turn a budget grid's finished experiments into the curves `dvc plots show` draws and the verdicts the
docs quote.

    python scripts/budget_curves.py grids/budgets.yaml                 # every family of the grid
    python scripts/budget_curves.py grids/budgets.yaml --family wan

For each point of the grid (scripts/budget_grid.py names them) it reads the experiment's committed
metrics from its git ref: the test split's change from the base (each measure's relative change and
95 % interval), the training seconds, the labels asked, and for vader and grpo the optimised reward's
gain in training. A teammate who fetched the experiments (`dvc exp pull <remote> <names>`, or
`git fetch <remote> 'refs/exps/*:refs/exps/*'`) draws the same curves and verdicts: the points a queue
lost are kept in docs/measured/budget_failures.json. Points not found are listed, not guessed.

Writes plots/budgets/<family>/{labels,pairs,reward_queries}.csv (the curves, in percent), and
docs/measured/<family>/budget_curves.json (every point and the verdicts, read by the rules in
videodpo.evaluation.judgements). The reward gain: the mean of the optimised reward over the last tenth
of the training steps less its mean over the first tenth (at least one step each), from the run's
reward curve (vader: reward.tsv; grpo: reward_mean.tsv).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys

import yaml
from budget_grid import AXES, Point, finished_refs, load_grid, points, read_queue
from experiments import ROOT, git, write_report

sys.path.insert(0, str(ROOT / "src"))
from videodpo.evaluation import judgements  # noqa: E402

MEASURES = ("warping_error", "frame_difference", "motion", "travel", "contrast", "saturation")
CURVE_MEASURES = ("warping_error", "motion", "travel")  # the plotted ones, with their intervals
REWARD_CURVES = {"vader": ("reward.tsv", "reward"), "grpo": ("reward_mean.tsv", "reward_mean")}
PLOTS = ROOT / "plots/budgets"
# Points a queue ran and lost, with their stage's last words. DVC keeps failures only in the queue that ran them
# (`dvc exp pull` brings finished experiments alone), so a teammate reads them here and draws the same verdicts.
FAILURES = ROOT / "docs/measured/budget_failures.json"


def show(ref: str, path: str) -> str | None:
    result = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def reward_gain(tsv: str) -> float:
    """The mean of the last tenth of a reward curve less the mean of its first tenth (at least one step each)."""
    rows = list(csv.reader(io.StringIO(tsv), delimiter="\t"))[1:]
    values = [float(row[1]) for row in rows if len(row) > 1]
    if not values:
        raise ValueError("an empty reward curve")
    tenth = max(1, len(values) // 10)
    return sum(values[-tenth:]) / tenth - sum(values[:tenth]) / tenth


def read_point(point: Point, ref: str) -> dict:
    family, method = point.family, point.method
    evaluation = json.loads(show(ref, f"metrics/{family}/eval_test.json"))
    cost = json.loads(show(ref, f"metrics/{family}/train_{method}.json"))
    pairs = json.loads(show(ref, f"metrics/{family}/pairs_{method}.json") or "{}")
    change = evaluation["methods"][method]["change"]
    record = {
        "name": point.name, "experiment": ref, "commit": git("rev-parse", f"{ref}^"), "method": method, "axis": point.axis,
        "budget": point.budget, "seed": point.seed, "pretrain_seed": point.pretrain_seed, "n_samples": evaluation["n_samples"],
        "change": {key: change[key] for key in MEASURES if key in change},
        "adherence_points": judgements.adherence_points(evaluation, method),
        "train_seconds": cost["train_seconds"], "optimizer_steps": cost["optimizer_steps"],
    }
    if point.axis == "labels":
        record.update(labels_asked=pairs.get("labels_asked", 0), labels_used=pairs.get("labels", 0), pairs_kept=pairs.get("pairs_kept"))
    else:
        file, _ = REWARD_CURVES[method]
        record.update(clips=cost["clips_sampled"], optimised_rewards=cost["optimised_rewards"],
                      reward_gain=reward_gain(show(ref, f"plots/train/{family}/{method}/plots/metrics/{file}")))
    return record


def series_name(record: dict, committed_seed: int) -> str:
    return record["method"] if record["pretrain_seed"] == committed_seed else f"{record['method']} (base seed {record['pretrain_seed']})"


X_VALUES = {"labels": "labels_asked", "pairs": "budget", "clips": "clips"}  # a curve file's x → the record's field


def curve_rows(records: list[dict], committed_seed: int, x_key: str) -> list[dict]:
    rows = []
    for r in records:
        base = "committed base" if r["pretrain_seed"] == committed_seed else f"base seed {r['pretrain_seed']}"
        row = {"series": series_name(r, committed_seed), "method": r["method"], "base": base, "pretrain_seed": r["pretrain_seed"], "seed": r["seed"],
               "budget": r["budget"], x_key: r[X_VALUES[x_key]], "train_seconds": round(r["train_seconds"], 2)}
        for measure in CURVE_MEASURES:
            change = r["change"][measure]
            row[measure] = round(100 * change["relative"], 3)
            row[f"{measure}_low"], row[f"{measure}_high"] = (round(100 * bound, 3) for bound in change["ci95"])
        row["train_seconds_low"] = row["train_seconds_high"] = row["train_seconds"]
        if "reward_gain" in r:
            row["reward_gain"] = round(r["reward_gain"], 5)
        rows.append(row)
    return rows


def write_csv(path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def curves(records: list[dict], method: str) -> dict:
    """{budget: [each seed's change]} of one method."""
    out: dict = {}
    for r in sorted(records, key=lambda r: (r["budget"], r["seed"])):
        if r["method"] == method:
            out.setdefault(r["budget"], []).append(r["change"])
    return out


def mean_by_budget(records: list[dict], method: str, key: str) -> dict:
    values: dict = {}
    for r in records:
        if r["method"] == method:
            values.setdefault(r["budget"], []).append(r[key])
    return {budget: sum(v) / len(v) for budget, v in values.items()}


def verdicts(records: list[dict], unfinished: dict | None = None) -> dict[str, dict]:
    """Each claim's verdict on these records (one base), by the judgements' rules; a claim whose methods did not run is left out.
    `unfinished`: {method: {budget: why it has no finished run there}}, for the rules read at every budget."""
    unfinished = unfinished or {}
    present = {r["method"] for r in records}
    out = {}

    def add(key: str, verdict) -> None:
        out[key] = {"claim": verdict.claim, "rule": verdict.rule, "supported": verdict.supported, "budgets": list(verdict.budgets), "where": verdict.where,
                    "detail": verdict.detail}

    if {"vanilla_dpo", "dense_dpo_third"} <= present:
        add("third_of_the_labels", judgements.third_of_the_labels(curves(records, "vanilla_dpo"), curves(records, "dense_dpo_third"),
                                                                   {**unfinished.get("dense_dpo_third", {}), **unfinished.get("vanilla_dpo", {})}))
    if {"vanilla_dpo", "dense_dpo"} <= present:
        add("dense_keeps_motion", judgements.dense_keeps_motion(curves(records, "vanilla_dpo"), curves(records, "dense_dpo"),
                                                                 unfinished.get("dense_dpo", {})))
    if "dpo" in present:
        add("more_pairs", judgements.more_pairs_help(curves(records, "dpo")))
    if {"vader", "grpo"} <= present:
        add("per_query", judgements.ahead_per_query(curves(records, "vader"), curves(records, "grpo")))
        add("per_second", judgements.ahead_per_second(curves(records, "vader"), curves(records, "grpo"),
                                                      mean_by_budget(records, "vader", "train_seconds"), mean_by_budget(records, "grpo", "train_seconds")))
    for method in ("vader", "grpo"):
        if method in present:
            gains: dict = {}
            for r in records:
                if r["method"] == method:
                    gains.setdefault(r["budget"], []).append(r["reward_gain"])
            add(f"hacked_{method}", judgements.hacked_budgets(curves(records, method), gains, method))
    return out


def last_words(log: str) -> str:
    """What a failed experiment's stage said last before DVC's own error (`dvc queue logs`), progress bars left out."""
    lines = [line.strip() for line in log.splitlines()]
    end = next((i for i, line in enumerate(lines) if line.startswith("ERROR:")), len(lines))
    said = [line for line in lines[:end] if line and "|" not in line]
    return said[-1].split(" (see ")[0] if said else "no output"


def failed_points(names: set[str], recorded: dict[str, str]) -> dict[str, str]:
    """The points among `names` (those with no finished experiment) that a queue ran and lost, each with its stage's
    last words: those this workspace's queue lost, and those `recorded` (FAILURES) from a queue elsewhere. A point
    queued here again is not failed: it is waiting."""
    rows = [(name, status) for name, status in read_queue()[0] if name in names]
    again = {name for name, status in rows if status in ("Queued", "Running")}  # failed once, queued again
    lost_here = {name: last_words(subprocess.run(["dvc", "queue", "logs", name], cwd=ROOT, capture_output=True, text=True).stdout)
                 for name in sorted({name for name, status in rows if status == "Failed"} - again)}
    return known_failures(recorded, lost_here, names, again)


def recorded_failures() -> dict[str, str]:
    return json.loads(FAILURES.read_text()) if FAILURES.is_file() else {}


def known_failures(recorded: dict[str, str], lost_here: dict[str, str], missing: set[str], queued_again: set[str]) -> dict[str, str]:
    """The failed points among `missing`: the ledger's, then this queue's (its last words win), less those queued again."""
    return {name: why for name, why in sorted({**recorded, **lost_here}.items()) if name in missing and name not in queued_again}


def record_failures(recorded: dict[str, str], failed: dict[str, str], grid_names: set[str]) -> None:
    """Write FAILURES as `recorded` with this grid's points replaced by `failed` (a point that finished since leaves it)."""
    kept = {name: why for name, why in recorded.items() if name not in grid_names}
    FAILURES.write_text(json.dumps(dict(sorted({**kept, **failed}.items())), indent=2) + "\n")


def base_counts(grid_points: list, not_run: list[str]) -> dict:
    """Per base (its pretrain seed): the points asked, those not run yet (neither finished nor failed), and the training
    seeds its verdicts read."""
    bases: dict = {}
    for point in grid_points:
        base = bases.setdefault(str(point.pretrain_seed), {"points": 0, "not_run": 0, "training_seeds": []})
        base["points"] += 1
        base["not_run"] += point.name in not_run
        base["training_seeds"] = sorted({*base["training_seeds"], point.seed})
    return bases


def unfinished_budgets(grid_points: list[Point], records: list[dict], failed: dict[str, str]) -> dict:
    """{pretrain seed: {method: {budget: why}}}: each base's budgets at which a method finished on no training seed."""
    finished = {(r["pretrain_seed"], r["method"], r["budget"]) for r in records}
    out: dict = {}
    for point in grid_points:
        key = (point.pretrain_seed, point.method, point.budget)
        if key not in finished:
            reasons = out.setdefault(point.pretrain_seed, {}).setdefault(point.method, {})
            if point.name in failed or point.budget not in reasons:
                reasons[point.budget] = failed.get(point.name, "not run")
    return out


def collect(grid_path, family: str, grid: dict, params: dict) -> dict:
    refs = finished_refs()
    committed_seed = params[family]["pretrain"]["seed"]
    grid_points = points(grid, params, [family])
    records, missing = [], []
    for point in grid_points:
        ref = refs.get(point.name)
        if ref is None:
            missing.append(point.name)
            continue
        records.append(read_point(point, ref))
    recorded = recorded_failures()
    failed = failed_points(set(missing), recorded)
    record_failures(recorded, failed, {point.name for point in grid_points})
    unfinished = unfinished_budgets(grid_points, records, failed)
    curve_files = {  # file → its records and x: labels asked (the labelled methods; dpo asks none), pairs (every pair method), clips
        "labels": ([r for r in records if r["axis"] == "labels" and r["labels_asked"] > 0], "labels"),
        "pairs": ([r for r in records if r["axis"] == "labels"], "pairs"),
        "reward_queries": ([r for r in records if r["axis"] == "reward_queries"], "clips"),
    }
    for name, (chosen, x_key) in curve_files.items():
        if chosen:
            write_csv(PLOTS / family / f"{name}.csv", curve_rows(chosen, committed_seed, x_key))
    by_base: dict = {}
    for r in records:
        by_base.setdefault(r["pretrain_seed"], []).append(r)
    not_run = [name for name in missing if name not in failed]
    return {
        "grid": str(grid_path), "family": family, "split": "test", "committed_pretrain_seed": committed_seed,
        "experiment_commits": sorted({r["commit"] for r in records}), "points": len(records) + len(missing), "missing": not_run, "failed": failed,
        "bases": base_counts(grid_points, not_run),
        "axes": {axis: grid[axis] for axis in AXES if axis in grid},
        "verdicts": {str(seed): verdicts(rs, unfinished.get(seed)) for seed, rs in sorted(by_base.items())}, "records": records,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", help="the grid file the experiments were queued from")
    parser.add_argument("--family", action="append", help="only this family (repeatable; default: the grid's families)")
    args = parser.parse_args()
    grid = load_grid(args.grid)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for family in args.family or grid["families"]:
        report = collect(args.grid, family, grid, params)
        name = "budget_curves" if args.grid.endswith("budgets.yaml") else f"budget_curves_{args.grid.rsplit('/', 1)[-1].removesuffix('.yaml')}"
        path = write_report(family, name, report)
        print(f"{family}: {len(report['records'])} of {report['points']} points read; failed {len(report['failed'])}, missing {len(report['missing'])}; wrote {path.relative_to(ROOT)}")
        for seed, claims in report["verdicts"].items():
            for verdict in claims.values():
                print(f"  base seed {seed}: {verdict['claim']}: {'yes' if verdict['supported'] else 'no'} {verdict['budgets']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
