"""People's labels as a branch trains on them: the consensus on the asked segments, the pairs kept as a
formula's labels would keep them, and a missing label stopping encode_latents before any model loads."""

import numpy as np
import pytest
from labelling_pairs import write_branch_pairs

from videodpo.core.integrity import InputError
from videodpo.labelling import labels_file, training_labels
from videodpo.labelling.labels_file import Label
from videodpo.pairs import store

MANIFEST = [
    {"pair": 0, "segments": 2, "asked": [0, 1], "labeller": "human"},
    {"pair": 3, "segments": 2, "asked": [1], "labeller": "human"},
    {"pair": 4, "segments": 2, "asked": [0, 1], "labeller": "human"},
]


def test_the_consensus_fills_the_asked_segments_and_names_the_missing_and_the_stale():
    labels = [Label(0, 0, "a", "ana", "t"), Label(0, 1, "tie", "ana", "t"), Label(3, 1, "b", "ana", "t"), Label(3, 0, "a", "ana", "t"),
              Label(4, 0, "a", "ana", "t"), Label(4, 0, "b", "bo", "t"), Label(9, 0, "a", "ana", "t")]
    answers = training_labels.peoples_labels(MANIFEST, labels)
    assert answers.rows == {0: [1, 0], 3: [0, -1], 4: [0, 0]}  # 3:0 was not asked; ana and bo disagree on 4:0
    assert answers.missing == [(4, 1)] and answers.stale == [(3, 0), (9, 0)]
    assert [record["pair"] for record in answers.kept(MANIFEST, whole_clip=False)] == [0, 3]
    assert training_labels.awaits_people(MANIFEST) and not training_labels.awaits_people([{"pair": 0, "labels": [1]}])


def test_whole_clip_labels_make_the_preferred_clip_the_winner_and_drop_ties():
    clips_a, clips_b = np.zeros((3, 2, 1, 1, 3), np.uint8), np.ones((3, 2, 1, 1, 3), np.uint8)
    manifest = [{"pair": pair, "segments": 1, "asked": [0]} for pair in range(3)]
    answers = training_labels.PeoplesLabels({0: [1], 1: [0], 2: [-1]}, [], [])
    assert [record["pair"] for record in answers.kept(manifest, whole_clip=True)] == [0, 2]
    winners, losers, segment_labels = training_labels.winners_and_losers(clips_a[[0, 2]], clips_b[[0, 2]], np.array([[1], [-1]]), True)
    assert winners[:, 0, 0, 0, 0].tolist() == [0, 1] and losers[:, 0, 0, 0, 0].tolist() == [1, 0] and segment_labels is None
    _, _, dense = training_labels.winners_and_losers(clips_a[:1], clips_b[:1], np.array([[1, -1]]), False)
    assert dense.dtype == np.int8 and dense.tolist() == [[1, -1]]


def people_branch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    branch = write_branch_pairs(tmp_path, "wan", "dense_dpo", pairs=2, frames=9, segment_frames=4)
    records = store.read_manifest(branch.pairs)
    for record in records:
        record |= {"labeller": "human", "segments": 2, "asked": [0, 1]}
    store.write_manifest(branch.pairs, records)
    return branch


def test_missing_labels_stop_encode_latents_before_any_model_loads(tmp_path, monkeypatch):
    branch = people_branch(tmp_path, monkeypatch)  # no models/wan/base at all: loading one would fail otherwise
    labels_file.write_labels(branch.labels, [Label(0, 0, "a", "ana", "t")])
    assert training_labels.left_to_people(branch)
    with pytest.raises(InputError, match=r"3 of the 4 segments asked for a label have none in labels/wan/dense_dpo.jsonl "
                                         r"\(pair:segment 0:1, 1:0, 1:1\); `python -m videodpo.label wan dense_dpo --annotator NAME`"):
        training_labels.encode_peoples_pairs(branch, state=None)
    labels_file.write_labels(branch.labels, [Label(p, s, "tie", "ana", "t") for p in (0, 1) for s in (0, 1)])
    with pytest.raises(InputError, match="every pair in labels/wan/dense_dpo.jsonl is a tie"):
        training_labels.encode_peoples_pairs(branch, state=None)
