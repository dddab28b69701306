"""A family's dev-chosen recipe run on another family, scored on that family's test split against what it
commits: does the recipe lose the other family's results? Writes docs/measured/<on>/recipe_of_<family>.json.

    python scripts/recipe_check.py --recipe-of wan --on animatediff

For each method whose sweep on `--recipe-of` chose a candidate (docs/measured/<family>/sweep_<method>.json),
the chosen changes are applied to the shared params (the recipe as `--on` would take it), the method runs
alone on `--on` up to evaluate@<on>-test, and its test change from the base is set beside the committed
run's. "Lost" means the recipe's warping-error change lies above the committed interval. No setting is chosen
here: the test split only checks a recipe already chosen on dev.
"""

from __future__ import annotations

import argparse
import json
import sys

from experiments import ROOT, change_cells, experiments_on_the_commit, read_json, run_experiment, write_report

SHOWN = ("warping_error", "frame_difference", "motion", "travel", "contrast")


def shared_changes(overrides: list[str], family: str) -> list[str]:
    """A sweep's changes as a shared key each (a family's own override `wan.overrides.x.y=v` becomes `x.y=v`)."""
    return [change.lstrip("+").replace(f"{family}.overrides.", "", 1) for change in overrides]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe-of", default="wan")
    parser.add_argument("--on", default="animatediff")
    args = parser.parse_args()
    committed = json.loads((ROOT / "metrics" / args.on / "eval_test.json").read_text())
    sweeps = sorted((ROOT / "docs/measured" / args.recipe_of).glob("sweep_*.json"))
    report = {"recipe_of": args.recipe_of, "on": args.on, "split": "test", "methods": {}}
    with experiments_on_the_commit() as commit:
        report["commit"] = commit
        for path in sweeps:
            sweep = json.loads(path.read_text())
            method, chosen = sweep["method"], sweep["chosen"]
            if not chosen or not sweep["runs"][chosen]["overrides"]:
                continue
            changes = shared_changes(sweep["runs"][chosen]["overrides"], args.recipe_of)
            label = f"recipe-{args.recipe_of}-on-{args.on}-{method}"
            ref = run_experiment(label, [f"families=[{args.on}]", f"methods=[{method}]", *changes], f"evaluate@{args.on}-test")
            change = read_json(ref, f"metrics/{args.on}/eval_test.json")["methods"][method]["change"]
            before = committed["methods"][method]["change"]
            report["methods"][method] = {
                "changes": changes, "experiment": ref,
                "recipe": {key: change[key] for key in SHOWN}, "committed": {key: before[key] for key in SHOWN},
                "lost": change["warping_error"]["relative"] > before["warping_error"]["ci95"][1],
            }
            print(f"{method}: recipe {change_cells(report['methods'][method]['recipe'])}")
            print(f"{'':{len(method)}}  committed {change_cells(report['methods'][method]['committed'])}")
    path = write_report(args.on, f"recipe_of_{args.recipe_of}", report)
    print(f"written {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
