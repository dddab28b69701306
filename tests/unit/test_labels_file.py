"""The labels file: answers kept one per pair, segment and annotator; a malformed line named by file and
line; annotators merged, with disagreements as ties and their agreement measured."""

import json

import pytest

from videodpo.labelling import labels_file
from videodpo.labelling.labels_file import Label, LabelsFileError


def line(pair=0, segment=0, label="a", annotator="ana", at="2026-12-07T00:00:00Z", **changes):
    record = {"pair": pair, "segment": segment, "label": label, "annotator": annotator, "at": at} | changes
    return json.dumps({key: value for key, value in record.items() if value is not ...})


def test_labels_round_trip_and_a_later_answer_replaces_an_earlier_one(tmp_path):
    path = tmp_path / "labels" / "wan" / "dense_dpo.jsonl"
    labels_file.write_labels(path, [Label(2, 1, "b", "ana", "t1"), Label(0, 0, "tie", "ana", "t0")])
    assert [json.loads(text)["pair"] for text in path.read_text().splitlines()] == [0, 2]  # sorted
    path.write_text(path.read_text() + line(pair=2, segment=1, label="a", at="t2") + "\n")
    labels = labels_file.read_labels(path)
    assert labels[(2, 1, "ana")].label == "a" and len(labels) == 2
    assert not list(tmp_path.rglob(".*.tmp"))
    assert labels_file.read_labels(tmp_path / "absent.jsonl") == {}


@pytest.mark.parametrize("text, problem", [
    ("{not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    (line(label="A"), "label 'A' is not one of a, b, tie"),
    (line(segment=-1), "segment must be a whole number"),
    (line(pair="3"), "pair must be a whole number"),
    (line(annotator=" "), "annotator must be a name"),
    (line(at=...), "missing at"),
])
def test_a_malformed_line_is_reported_with_its_file_and_line_number(tmp_path, text, problem):
    path = tmp_path / "dense_dpo.jsonl"
    path.write_text(line() + "\n\n" + text + "\n")
    with pytest.raises(LabelsFileError, match=rf"dense_dpo.jsonl:3: .*{problem}"):
        labels_file.read_labels(path)


def test_annotators_who_disagree_on_a_segment_give_a_tie():
    labels = [Label(0, 0, "a", "ana", "t"), Label(0, 0, "a", "bo", "t"), Label(0, 1, "a", "ana", "t"), Label(0, 1, "b", "bo", "t"),
              Label(1, 0, "b", "bo", "t")]
    assert labels_file.consensus(labels) == {(0, 0): 1, (0, 1): 0, (1, 0): -1}


def test_agreement_counts_only_segments_both_labelled_and_corrects_for_chance():
    first = {(0, 0): 1, (0, 1): 1, (1, 0): -1, (1, 1): 0, (2, 0): 1}
    second = {(0, 0): 1, (0, 1): -1, (1, 0): -1, (1, 1): 0}
    report = labels_file.agreement(first, second)
    # observed 3/4; chance: a 2/4·1/4 + b 1/4·2/4 + tie 1/4·1/4 = 0.3125; kappa (0.75 − 0.3125) / 0.6875
    assert report == {"segments_both": 4, "agreement": 0.75, "kappa": round(0.4375 / 0.6875, 4), "opposite": 1}
    assert labels_file.agreement(first, {})["agreement"] is None


def test_merging_two_annotators_files_keeps_both_and_reports_their_agreement(tmp_path):
    ana, bo = tmp_path / "ana.jsonl", tmp_path / "bo.jsonl"
    labels_file.write_labels(ana, [Label(0, 0, "a", "ana", "t"), Label(0, 1, "b", "ana", "t"), Label(1, 0, "tie", "ana", "t")])
    labels_file.write_labels(bo, [Label(0, 0, "a", "bo", "t"), Label(0, 1, "a", "bo", "t")])
    report = labels_file.merge_files([ana, bo], tmp_path / "merged.jsonl")
    merged = labels_file.read_labels(tmp_path / "merged.jsonl")
    assert len(merged) == 5 and {key[2] for key in merged} == {"ana", "bo"}
    assert report["annotators"] == {"ana": 3, "bo": 2} and report["segments"] == 3 and report["disagreements_as_ties"] == 1
    assert report["agreement"] == [{"annotators": ["ana", "bo"], "segments_both": 2, "agreement": 0.5, "kappa": 0.0, "opposite": 1}]
    with pytest.raises(LabelsFileError, match="absent.jsonl: no such labels file"):
        labels_file.merge_files([ana, tmp_path / "absent.jsonl"], tmp_path / "out.jsonl")


def test_the_merge_command_writes_the_merged_file_and_prints_the_agreement(tmp_path, capsys):
    from videodpo import label

    ana, bo = tmp_path / "ana.jsonl", tmp_path / "bo.jsonl"
    labels_file.write_labels(ana, [Label(0, 0, "a", "ana", "t")])
    labels_file.write_labels(bo, [Label(0, 0, "a", "bo", "t")])
    assert label.main(["merge", str(ana), str(bo), "--out", str(tmp_path / "merged.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out)["agreement"][0]["agreement"] == 1.0
    assert len(labels_file.read_labels(tmp_path / "merged.jsonl")) == 2
    bo.write_text("{broken\n")
    assert label.main(["merge", str(ana), str(bo), "--out", str(tmp_path / "again.jsonl")]) == 2
    assert "bo.jsonl:1: not JSON" in capsys.readouterr().err
