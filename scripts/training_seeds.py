"""How much of a method's test figure one training run can show by luck: each method's committed
settings trained again at other seeds, scored on the test split, beside the committed run (seed 0).

    python scripts/training_seeds.py                  # every method in params `methods`, seeds 1 and 2, on animatediff
    python scripts/training_seeds.py --methods dpo --seeds 1 2 3 --family wan

Each run is a DVC experiment up to `evaluate@<family>-test` with the method alone in its family and
its seed parameter changed (`training.seed`; vader: `vader.seed`, which also draws its queries);
nothing here chooses a setting. Writes docs/measured/<family>/training_seeds.json, which the README's
training-seed table is generated from. Run from a committed workspace; an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import sys

import yaml
from experiments import ROOT, base_at, experiments_on_the_commit, read_json, run_experiment

SEED_PARAMS = {"vader": "vader.seed"}  # the rest train with the `training` loop
MEASURES = ("warping_error", "frame_difference", "motion", "travel", "contrast", "adherence")


def seed_param(method: str) -> str:
    return SEED_PARAMS.get(method, "training.seed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", help="default: params `methods`")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2], help="seeds besides the committed one")
    parser.add_argument("--family", default="animatediff", help="the model family whose branches are trained (default: animatediff)")
    args = parser.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    methods = args.methods or params["methods"]
    family = args.family
    committed = json.loads((ROOT / "metrics" / family / "eval_test.json").read_text())
    measures = [key for key in MEASURES if key in committed["base"]]
    report = {"family": family, "split": "test", "n_samples": committed["n_samples"], "measures": measures, "methods": {}}
    with experiments_on_the_commit() as commit:
        report["commit"] = commit
        report["base"] = base_at(commit, family)  # the base the seeds trained on
        for method in methods:
            param = seed_param(method)
            section, key = param.split(".")
            runs = {str(params[section][key]): committed["methods"][method]["change"]}
            for seed in args.seeds:
                overrides = [f"families=[{family}]", f"methods=[{method}]", f"{param}={seed}"]
                ref = run_experiment(f"seed-{family}-{method}-{seed}", overrides, f"evaluate@{family}-test")
                runs[str(seed)] = read_json(ref, f"metrics/{family}/eval_test.json")["methods"][method]["change"]
            report["methods"][method] = {"seed_param": param, "runs": {seed: {k: change[k] for k in measures} for seed, change in runs.items()}}
            cells = "  ".join(f"{seed}: {100 * change['warping_error']['relative']:+.1f} %" for seed, change in runs.items())
            print(f"{method}: warping error at {param} {cells}", flush=True)
    report["seeds"] = sorted({int(seed) for result in report["methods"].values() for seed in result["runs"]})
    path = ROOT / "docs/measured" / family / "training_seeds.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
