"""The labelled preference pairs of vanilla_dpo and dense_dpo (make_pairs@<family>-<method>).

vanilla: two base generations of each training caption from independent noise, labelled as whole clips
by `dense_dpo.labeller`; ties are dropped and the preferred clip becomes the winner.

dense: DenseDPO's guided pairs (videodpo.pairs.guided), two denoised corrupted copies of one
ground-truth clip (toy renders of training captions; on the hub tiers the user's captioned videos of
`data.gt_videos`), labelled per segment by the labeller. A label budget (dense_dpo_third) labels that
many segments at random; a pair none of whose segments is drawn is not made. Both write the labels
beside the clips, the ground truth, η and both seeds to the manifest, and the motion bias, labels and
ties to the branch's pairs metrics (videodpo.core.layout).

With `dense_dpo.labeller: human` every made pair is written unlabelled, for people to label on the
labelling page; encode_latents then applies their labels (videodpo.labelling.training_labels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from videodpo import families, toyworld
from videodpo.core import distributed, model_card, outputs, precision, prompts, seeds
from videodpo.pairs import guided, labellers, store, user_videos


def ground_truth(settings, pair_seeds: list[int], prompt_set: prompts.PromptSet) -> guided.GroundTruth:
    """The ground-truth clip of every pair: toy renders of the training prompts, or the user's videos
    taken in turn."""
    if settings.source == "toy":
        world = settings.toyworld
        captions = []
        for i, prompt in enumerate(prompt_set.prompts):
            try:
                captions.append(toyworld.Caption.parse(prompt))
            except ValueError as error:
                raise prompts.PromptError(
                    f"{prompt_set.where(i)}: {error}; dense_dpo on the embedded default renders its ground truth from the "
                    "training prompts, so each must be a toy-world caption"
                ) from error
        return guided.toy_ground_truth(captions, len(pair_seeds), pair_seeds, world.frames, world.frame_size, world.radius, world.speed)
    videos = user_videos.read_captioned_videos(settings.gt_videos, settings.frames, settings.resolution, settings.frames_key)
    return guided.GroundTruth(*videos)


def copy_noise_share(settings, card: model_card.ModelCard) -> float:
    """Share of the corrupted copies' noise common to all frames: the setting's, else the model's."""
    chosen = settings.dense.copy_shared_noise
    return card.shared_noise if chosen is None else chosen


def make_labelled_pairs(branch, settings, state) -> None:
    """settings: videodpo.methods.vanilla_dpo.LabelledPairSettings."""
    card = model_card.ModelCard.load(branch.family.base)
    copy_share = copy_noise_share(settings, card)
    count = settings.num_pairs
    pair_seeds = seeds.pair_seeds(settings.seed, count)
    noise_seeds = [seeds.candidate_seeds(seed, 2) for seed in pair_seeds]  # clip a's and clip b's
    if settings.kind == "dense":
        prompt_set = prompts.training_prompts(settings.train_prompts, card.source, families.load_base_tokenizer(branch.family.base)) if settings.source == "toy" else None  # the hub tiers' captions are the videos'
        truth = guided.cycled(ground_truth(settings, pair_seeds, prompt_set), count)  # read before the model: a bad video fails fast
        captions, origins = truth.captions, truth.origins
        parts = families.frame_segments(branch.family.name, card.frames, settings.dense.segment_frames)
    else:
        training = prompts.training_prompts(settings.train_prompts, card.source, families.load_base_tokenizer(branch.family.base)).prompts  # as make_pairs@dpo's winners
        captions, origins = [training[i % len(training)] for i in range(count)], [None] * count
        parts = [range(card.frames)]

    def labeller_of(caption: str) -> labellers.Labeller:
        return labellers.resolve(settings.dense.labeller, settings.dense.tie_margin, caption)

    if settings.dense.labeller != labellers.HUMAN:
        labeller_of(captions[0])  # a bad labeller name fails before the model loads
    asked = labellers.budget_mask(count, len(parts), settings.label_budget, settings.seed)
    made_pairs = pairs_to_make(asked)
    model = families.load_base(branch.family.base, precision.weight_dtype(settings.mixed_precision)).to(state.device)
    shard = distributed.my_shard(len(made_pairs))  # every pair is a pure function of its seeds and ground truth
    mine = made_pairs[shard.start : shard.stop]
    copies = []
    for which in (0, 1):
        my_seeds = [noise_seeds[i][which] for i in mine]
        my_captions = [captions[i] for i in mine]
        desc = f"{branch.stage('make_pairs')}: clips {'ab'[which]}"
        if settings.kind == "dense":
            made = guided.corrupted_copies(
                model, truth.clips[mine], my_captions, my_seeds, settings.dense.eta, settings.num_inference_steps,
                settings.guidance_scale, copy_share, desc=desc,
            )
        else:
            made = model.generate(
                my_captions, my_seeds, card.frames, settings.num_inference_steps, settings.guidance_scale,
                card.shared_noise, desc=desc, resolution=card.frame_size,
            )
        copies.append(distributed.gather_rows(made, len(made_pairs)))
    with distributed.main_process_writes() as writes:
        if writes:
            label_and_write(
                branch, settings, copies[0], copies[1], asked, captions, origins, noise_seeds, parts, labeller_of, copy_share,
            )


def pairs_to_make(asked: np.ndarray) -> np.ndarray:
    """The pairs with a segment to label: a pair with none is never made (dense_dpo_third)."""
    return np.flatnonzero(asked.any(axis=1))


def label_and_write(
    branch, settings, clips_a, clips_b, asked, prompts, origins, noise_seeds, parts, labeller_of,
    copy_share: float,
) -> None:
    """Label the made pairs (clips_a[k], clips_b[k] are pair pairs_to_make(asked)[k]) where `asked`
    (pairs × segments) says, report the labels and write the pairs with at least one."""
    if settings.dense.labeller == labellers.HUMAN:
        return write_for_people(branch, settings, clips_a, clips_b, asked, prompts, origins, noise_seeds, parts, copy_share)
    made_pairs = pairs_to_make(asked)
    labels = np.zeros(asked.shape, np.int8)
    motion_a, motion_b = np.zeros(asked.shape), np.zeros(asked.shape)
    for k, i in enumerate(tqdm(made_pairs, desc=f"{branch.stage('make_pairs')}: label", unit="pair")):
        labels[i] = labellers.label_pair(labeller_of(prompts[i]), clips_a[k], clips_b[k], parts)
        labels[i][~asked[i]] = 0
        motion_a[i], motion_b[i] = labellers.segment_motion(clips_a[k], parts), labellers.segment_motion(clips_b[k], parts)
    report = {"maker": settings.kind, "labeller": settings.dense.labeller, "segments_per_pair": len(parts)}
    report |= labellers.labels_report(labels, asked, motion_a, motion_b)
    outputs.write_json(branch.pairs_metrics, report)
    keep = [int(i) for i in made_pairs if labels[i].any()]
    if not keep:
        raise SystemExit(
            f"{branch.stage('make_pairs')}: the labeller tied every pair (see {branch.pairs_metrics}): lower dense_dpo.tie_margin"
        )
    rows = np.searchsorted(made_pairs, keep)  # where each kept pair's clips are
    if settings.kind == "vanilla":  # one clip label: the preferred clip is the winner
        flip = np.array([labels[i, 0] < 0 for i in keep])
        winners = np.where(flip[:, None, None, None, None], clips_b[rows], clips_a[rows])
        losers = np.where(flip[:, None, None, None, None], clips_a[rows], clips_b[rows])
        shard_labels = None
    else:
        winners, losers, shard_labels = clips_a[rows], clips_b[rows], labels[keep]
    with outputs.atomic_directory(branch.pairs) as staging:
        shard = store.write_pair_shard(Path(staging), 0, winners, losers, shard_labels)
        records = []
        for row, i in enumerate(keep):
            record = {"row": row, "shard": shard, "pair": i, "caption": prompts[i], "method": settings.kind, "seeds": noise_seeds[i]}
            if settings.kind == "dense":
                record |= {"ground_truth": origins[i], "eta": settings.dense.eta, "copy_shared_noise": copy_share}
                record["labels"] = labels[i].tolist()
            else:
                record["winner_is"] = "b" if labels[i, 0] < 0 else "a"
            records.append(record)
        store.write_manifest(Path(staging), records)


def write_for_people(branch, settings, clips_a, clips_b, asked, prompts, origins, noise_seeds, parts, copy_share: float) -> None:
    """Every made pair unlabelled, clips a and b as made, each record naming the segments asked of it."""
    made_pairs = pairs_to_make(asked)
    outputs.write_json(branch.pairs_metrics, {
        "maker": settings.kind, "labeller": labellers.HUMAN, "segments_per_pair": len(parts), "pairs_made": len(made_pairs),
        "labels_asked": int(asked.sum()), "label_with": labellers.label_command(branch),
    })
    with outputs.atomic_directory(branch.pairs) as staging:
        shard = store.write_pair_shard(Path(staging), 0, clips_a, clips_b)
        records = []
        for row, i in enumerate(made_pairs):
            record = {"row": row, "shard": shard, "pair": int(i), "caption": prompts[i], "method": settings.kind, "seeds": noise_seeds[i],
                      "labeller": labellers.HUMAN, "segments": len(parts), "asked": np.flatnonzero(asked[i]).tolist()}
            if settings.kind == "dense":
                record |= {"ground_truth": origins[i], "eta": settings.dense.eta, "copy_shared_noise": copy_share}
            records.append(record)
        store.write_manifest(Path(staging), records)
