"""How often people's labels agree with the formulas the project labels by: the warping-error labeller
(dense_dpo.labeller: warping_error) and, on the toy world, its oracle. Each annotator and their
consensus are compared segment by segment on the segments they labelled (videodpo.labelling).

    PYTHONPATH=src python scripts/label_agreement.py wan dense_dpo
    PYTHONPATH=src python scripts/label_agreement.py wan dense_dpo --tie-margin 0.1 --out metrics/wan/label_agreement_dense_dpo.json

Reads data/<family>/pairs/<method> and labels/<family>/<method>.jsonl; prints the report as JSON.
Agreement is the share of equal answers (a, b or tie); kappa discounts what the two label rates agree
on by chance; `opposite` counts segments where one preferred clip a and the other clip b.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "src"))

from videodpo import toyworld  # noqa: E402
from videodpo.core import layout, outputs  # noqa: E402
from videodpo.labelling import labels_file  # noqa: E402
from videodpo.labelling.pair_view import BranchPairs  # noqa: E402
from videodpo.pairs import labellers  # noqa: E402


def formula_answers(pairs: BranchPairs, labeller_name: str, tie_margin: float, wanted: set[tuple[int, int]]) -> dict:
    """A formula labeller's answer for each (pair, segment) in `wanted`."""
    answers = {}
    for view in pairs.pairs:
        asked = [segment for segment in view.asked if (view.pair, segment) in wanted]
        if not asked:
            continue
        labeller = labellers.resolve(labeller_name, tie_margin, view.caption)
        parts = [range(start, stop) for start, stop in view.segments]
        values = labellers.label_pair(labeller, pairs.clip(view.pair, "a"), pairs.clip(view.pair, "b"), parts)
        answers |= {(view.pair, segment): values[segment] for segment in asked}
    return answers


def is_toy_world(pairs: BranchPairs) -> bool:
    try:
        for view in pairs.pairs:
            toyworld.Caption.parse(view.caption)
    except ValueError:
        return False
    return True


def agreement_report(pairs: BranchPairs, labels: list[labels_file.Label], tie_margin: float) -> dict:
    people = labels_file.by_annotator(labels) | {"consensus": labels_file.consensus(labels)}
    labelled = set().union(*(set(answers) for answers in people.values())) if people else set()
    formulas = ["warping_error"] + (["oracle"] if is_toy_world(pairs) else [])
    by_formula = {name: formula_answers(pairs, name, tie_margin, labelled) for name in formulas}
    report = {"segments_labelled": len(labelled), "tie_margin": tie_margin, "formulas": formulas}
    for who, answers in people.items():
        report[who] = {name: labels_file.agreement(answers, by_formula[name]) for name in formulas}
    if "oracle" in by_formula:
        report["warping_error_vs_oracle"] = labels_file.agreement(by_formula["warping_error"], by_formula["oracle"])
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family")
    parser.add_argument("method")
    parser.add_argument("--tie-margin", type=float, default=0.1, help="the formulas' tie margin (params dense_dpo.tie_margin)")
    parser.add_argument("--labels", type=Path, help="labels file (default labels/<family>/<method>.jsonl)")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args()
    branch = layout.branch(args.family, args.method)
    pairs = BranchPairs(branch)
    labels = [label for label in labels_file.read_labels(args.labels or branch.labels).values() if label.pair in pairs.by_number]
    if not labels:
        print(f"no labels for {branch.pairs} in {args.labels or branch.labels}: label some with python -m videodpo.label {args.family} {args.method}")
        return 1
    report = agreement_report(pairs, labels, args.tie_margin)
    print(json.dumps(report, indent=1))
    if args.out:
        outputs.write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
