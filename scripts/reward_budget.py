"""GRPO beside VADER at the same budget, on the test split: the committed `grpo` settings, run long enough
to sample as many clips as the committed `vader` run scored (the same number of reward queries), and
long enough to train as many seconds (the same wall time). The number of steps follows from the
committed runs' own metrics by the rule in `budget_steps`, fixed before any run; no figure of either
run chooses anything.

    python scripts/reward_budget.py --family animatediff   # writes docs/measured/animatediff/reward_budget.json
    python scripts/reward_budget.py --family wan

Each budget is a DVC experiment of `grpo` alone in its family (`families=[<family>]`, `methods=[grpo]`)
up to `evaluate@<family>-test`; run it from a committed workspace whose metrics hold both methods'
runs (`dvc repro`). An interrupted run resumes (finished budgets are read from their experiment refs).
"""

from __future__ import annotations

import argparse
import json
import sys

import yaml
from dev_sweep import for_family
from experiments import ROOT, base_at, change_cells, experiments_on_the_commit, read_json, run_experiment, write_report

sys.path.insert(0, str(ROOT / "src"))
from videodpo.config import family_overlay  # noqa: E402
from videodpo.evaluation import judgements  # noqa: E402

SHOWN = ("warping_error", "frame_difference", "motion", "travel", "contrast", "saturation", "adherence", "warping_error_seed", "temporal_flickering")


def budget_steps(vader_cost: dict, grpo_cost: dict, grpo: dict) -> dict[str, int]:
    """GRPO's max_steps at VADER's budgets: `clips`, the whole rounds that sample VADER's number of clips
    (the nearest, at least one); `seconds`, the whole rounds whose steps take VADER's training seconds at
    the committed GRPO run's seconds per step (the nearest, at least one)."""
    per_round, updates = grpo["prompts_per_round"] * grpo["group_size"], grpo["updates_per_round"]
    rounds_for_clips = max(1, round(vader_cost["clips_sampled"] / per_round))
    seconds_per_step = grpo_cost["train_seconds"] / grpo_cost["optimizer_steps"]
    rounds_for_seconds = max(1, round(vader_cost["train_seconds"] / seconds_per_step / updates))
    return {"clips": rounds_for_clips * updates, "seconds": rounds_for_seconds * updates}


def measure(family: str) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    metrics = json.loads((ROOT / f"metrics/{family}/eval_test.json").read_text())
    costs = {m: json.loads((ROOT / f"metrics/{family}/train_{m}.json").read_text()) for m in ("vader", "grpo")}
    steps = budget_steps(costs["vader"], costs["grpo"], family_overlay(params, family)["grpo"])  # as the family's stages read it

    def row(evaluation: dict, method: str, cost: dict) -> dict:
        result = evaluation["methods"][method]
        return {
            "clips_sampled": cost["clips_sampled"], "train_seconds": cost["train_seconds"], "optimizer_steps": cost["optimizer_steps"],
            "optimised_rewards": cost["optimised_rewards"],
            "change": {key: result["change"][key] for key in SHOWN if key in result["change"]},
            "adherence_points": judgements.adherence_points(evaluation, method),
            "keeps_the_video": judgements.keeps_the_video(evaluation, method),
            "hacked_reward_signs": judgements.hacked_reward_signs(result["change"])[1],
        }

    rows = {"vader (committed)": row(metrics, "vader", costs["vader"]), "grpo (committed)": row(metrics, "grpo", costs["grpo"])}
    with experiments_on_the_commit() as commit:
        budgets: dict[int, list[str]] = {}  # both budgets may come to the same steps: one run then serves both
        for budget, max_steps in steps.items():
            budgets.setdefault(max_steps, []).append(budget)
        for max_steps, names in budgets.items():
            change = for_family(f"grpo.max_steps={max_steps}", family, params)
            ref = run_experiment(f"budget-{family}-grpo-{'-'.join(names)}", [f"families=[{family}]", "methods=[grpo]", change], f"evaluate@{family}-test")
            label = "grpo at vader's " + " and ".join({"clips": "clips", "seconds": "training seconds"}[name] for name in names)
            rows[label] = {**row(read_json(ref, f"metrics/{family}/eval_test.json"), "grpo", read_json(ref, f"metrics/{family}/train_grpo.json")),
                           "experiment": ref, "max_steps": max_steps}
    return {
        "family": family, "split": "test", "n_samples": metrics["n_samples"], "commit": commit,
        "base": base_at(commit, family),  # the base both methods trained on
        "rule": "grpo's committed settings with max_steps in whole rounds: the nearest to vader's clips sampled, and the nearest to "
                "vader's training seconds at the committed grpo run's seconds per step",
        "steps": steps, "runs": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="animatediff", help="the model family (default: animatediff)")
    args = parser.parse_args()
    report = measure(args.family)
    path = write_report(args.family, "reward_budget", report)
    for name, run in report["runs"].items():
        print(f"{name:36s} clips {run['clips_sampled']:4d}  seconds {run['train_seconds']:6.0f}  {change_cells(run['change'])}")
    print(f"written: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
