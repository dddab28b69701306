"""scripts/label_agreement.py: people's labels against the warping-error labeller and the toy world's
oracle, per annotator and for their consensus, on the segments they labelled."""

import sys
from pathlib import Path

from labelling_pairs import write_branch_pairs

from videodpo.labelling.labels_file import Label
from videodpo.labelling.pair_view import BranchPairs

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))
from label_agreement import agreement_report, formula_answers  # noqa: E402

NAMES = {1: "a", -1: "b", 0: "tie"}


def test_an_annotator_who_labels_as_the_formula_agrees_fully_and_one_who_flips_it_is_opposite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pairs = BranchPairs(write_branch_pairs(tmp_path, "wan", "dense_dpo", pairs=4, frames=9, segment_frames=4))
    everything = {(view.pair, segment) for view in pairs.pairs for segment in view.asked}
    formula = formula_answers(pairs, "warping_error", 0.0, everything)  # noise clips: no margin, or all tie
    assert set(formula) == everything and any(formula.values())
    labels = [Label(pair, segment, NAMES[value], "ana", "t") for (pair, segment), value in formula.items()]
    labels += [Label(pair, segment, NAMES[-value], "bo", "t") for (pair, segment), value in formula.items() if pair < 2]
    report = agreement_report(pairs, labels, 0.0)
    assert report["formulas"] == ["warping_error", "oracle"] and report["segments_labelled"] == 8
    assert report["ana"]["warping_error"]["agreement"] == 1.0 and report["ana"]["warping_error"]["opposite"] == 0
    flipped = sum(1 for (pair, _), value in formula.items() if pair < 2 and value)
    assert report["bo"]["warping_error"]["segments_both"] == 4 and report["bo"]["warping_error"]["opposite"] == flipped
    # the consensus: ties where ana and bo disagree, ana's answers on the pairs bo left
    assert report["consensus"]["warping_error"]["segments_both"] == 8
    assert "warping_error_vs_oracle" in report
