"""People's labels as a branch trains on them.

With `dense_dpo.labeller: human`, make_pairs writes every pair it makes unlabelled: each manifest record
says `"labeller": "human"`, how many segments the pair has and which of them are asked for a label
(all, or those a label budget draws). People answer on the labelling page (videodpo.labelling.server)
into labels/<family>/<method>.jsonl. encode_latents then reads that file, takes the annotators'
consensus (labels_file.consensus: a disagreement is a tie) and keeps what a formula's labels would
have kept: a segment-labelled pair with at least one labelled segment, or a whole-clip pair that is
not a tie, with the preferred clip as its winner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videodpo import families
from videodpo.core import outputs
from videodpo.core.integrity import InputError
from videodpo.labelling import labels_file
from videodpo.labelling.labels_file import Label, consensus
from videodpo.pairs import store
from videodpo.pairs.labellers import HUMAN, label_command


def awaits_people(manifest: list[dict]) -> bool:
    """Whether make_pairs left these pairs for people to label."""
    return bool(manifest) and all(record.get("labeller") == HUMAN for record in manifest)


@dataclass(frozen=True)
class PeoplesLabels:
    rows: dict[int, list[int]]  # pair → one value per segment: +1 (a better), −1 (b better), 0 (tie, unasked or unlabelled)
    missing: list[tuple[int, int]]  # asked (pair, segment)s nobody labelled
    stale: list[tuple[int, int]]  # labelled (pair, segment)s the pairs do not ask for: made by another run of make_pairs

    def kept(self, manifest: list[dict], whole_clip: bool) -> list[dict]:
        """The manifest records of the pairs training keeps, in manifest order."""
        return [record for record in manifest if (self.rows[record["pair"]][0] != 0 if whole_clip else any(self.rows[record["pair"]]))]


def peoples_labels(manifest: list[dict], labels: Iterable[Label]) -> PeoplesLabels:
    """The consensus of `labels` on the segments the manifest's pairs ask for."""
    asked = {(record["pair"], segment) for record in manifest for segment in record["asked"]}
    agreed = consensus(labels)
    rows = {
        record["pair"]: [agreed.get((record["pair"], segment), 0) if (record["pair"], segment) in asked else 0 for segment in range(record["segments"])]
        for record in manifest
    }
    return PeoplesLabels(rows, sorted(asked - set(agreed)), sorted(set(agreed) - asked))


def winners_and_losers(clips_a: np.ndarray, clips_b: np.ndarray, values: np.ndarray, whole_clip: bool):
    """What a kept pair trains on: for whole-clip labels the preferred clip is the winner and no
    segment labels are stored; for segment labels clips a and b stay as they are, beside their labels."""
    if not whole_clip:
        return clips_a, clips_b, values.astype(np.int8)
    a_wins = values[:, 0] > 0
    chosen = a_wins[:, None, None, None, None]
    return np.where(chosen, clips_a, clips_b), np.where(chosen, clips_b, clips_a), None


def left_to_people(branch) -> bool:
    """Whether make_pairs wrote the branch's pairs for people to label."""
    return awaits_people(store.read_manifest(branch.pairs, branch.stage("make_pairs")))


def encode_peoples_pairs(branch, state) -> None:
    """encode_latents of pairs people labelled: the pairs their labels keep, as a formula's labels
    would have written them (so the same labels train the same LoRA), encoded as one shard. A missing
    label stops it before the model loads."""
    made_by = branch.stage("make_pairs")
    manifest = store.read_manifest(branch.pairs, made_by)
    answers = peoples_labels(manifest, labels_file.read_labels(branch.labels).values())
    asked = sum(len(record["asked"]) for record in manifest)
    if answers.missing:
        shown = ", ".join(f"{pair}:{segment}" for pair, segment in answers.missing[:5]) + (" …" if len(answers.missing) > 5 else "")
        raise InputError(
            f"{len(answers.missing)} of the {asked} segments asked for a label have none in {branch.labels} (pair:segment {shown}); "
            f"`{label_command(branch)}` opens the labelling page"
        )
    if answers.stale:
        print(f"{branch.stage('encode_latents')}: {len(answers.stale)} label(s) in {branch.labels} name pairs or segments "
              f"{made_by} did not ask for (a label from another run of it?): not used", flush=True)
    whole_clip = manifest[0]["method"] == "vanilla"
    kept = answers.kept(manifest, whole_clip)
    if not kept:
        raise InputError(f"every pair in {branch.labels} is a tie (or the annotators disagree on all of it): nothing to train on")
    shards = dict(store.iter_pair_arrays(branch.pairs, made_by))
    clips_a = np.stack([shards[record["shard"]]["winners"][record["row"]] for record in kept])
    clips_b = np.stack([shards[record["shard"]]["losers"][record["row"]] for record in kept])
    values = np.array([answers.rows[record["pair"]] for record in kept])
    winners, losers, segment_labels = winners_and_losers(clips_a, clips_b, values, whole_clip)
    model = families.load_base(branch.family.base).to(state.device)  # fp32, as dpo's encode_latents
    with outputs.atomic_directory(branch.latents) as staging:
        store.encode_latent_shard(
            model, Path(staging), "latents-00000.safetensors", winners, losers, [record["caption"] for record in kept], segment_labels
        )
