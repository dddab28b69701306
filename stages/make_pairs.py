"""DVC stage `make_pairs@<method>`: what a method trains on, from the base model.

vader: its training queries (training captions with recorded seeds) and the reference model's clip of
each, sampled as VADER's training samples are; the appearance guard holds the policy near them.
Writes data/pairs/vader and metrics/pairs_vader.json (the references' flicker).

vanilla_dpo: two base generations of each training caption from independent noise, labelled as
whole clips by `dense_dpo.labeller`; ties are dropped and the preferred clip becomes the winner.

dense_dpo: DenseDPO's guided pairs (videodpo.guided_pairs), two denoised corrupted copies of one
ground-truth clip (toy renders of training captions; on the hub tiers the user's captioned videos
of `data.gt_videos`), labelled per segment by the labeller. dense_dpo_third: the same pairs with a
third of vanilla's labels, at random segments; a pair none of whose segments is drawn is not made.
Both write the labels beside the clips, the ground truth, η and both seeds to the manifest, and per
maker the motion bias, labels and ties to metrics/pairs_<method>.json.

dpo: preference pairs.

Winners are base generations for training captions with recorded seeds; each loser is its winner
made temporally jittery by `data.jitter_method` (one maker or a mix taken in turn). Every pair is
verified: its winner must flicker less than its loser (warping error) and match it in contrast and
saturation within `data.appearance_tolerance`; pairs that fail are dropped and counted in
metrics/pairs_<method>.json. Writes data/pairs/<method> (uint8 shards + manifest.jsonl). Settings come
from data/settings/<method>/pairs.json. Under `accelerate launch` each process makes its own block
of pairs; the main process verifies and writes them all.
"""

import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from videodpo import (
    clips, distributed, families, guided_pairs, integrity, labellers, latents, models, outputs, pairs, precision, prompts, seeds, temporal,
    toyworld, user_videos, vader,
)
from videodpo.method_settings import DPOPairSettings, LabelledPairSettings, VaderQuerySettings, read_stage_settings
from videodpo.sampling import regenerate_frames

PAIR_MAKERS = ("dpo", "vader", "vanilla_dpo", "dense_dpo", "dense_dpo_third")  # methods whose training data this stage makes


def training_prompts(settings, card: models.ModelCard) -> prompts.PromptSet:
    """The training prompt set, every prompt checked against the base model's tokenizer before the
    model loads (evaluation prompts never make pairs)."""
    prompt_set = prompts.read_prompt_set(settings.train_prompts, card.source, "prompts.train")
    prompts.require_untruncated(prompt_set, prompts.model_tokenizer("models/base"))
    return prompt_set


def steadiest_generations(model, card, prompts, pair_seeds, settings: DPOPairSettings):
    """Winners and their seeds: per pair, the generation with the lowest warping error of
    `data.candidates_per_pair` (seeds from videodpo.seeds.candidate_seeds)."""
    count = settings.data.candidates_per_pair
    candidate_seeds = [seed for pair_seed in pair_seeds for seed in seeds.candidate_seeds(pair_seed, count)]
    generated = model.generate(
        [p for p in prompts for _ in range(count)], candidate_seeds, card.frames, settings.num_inference_steps,
        settings.guidance_scale, card.shared_noise, desc="make_pairs: winners", resolution=card.frame_size,
    )
    if count == 1:
        return generated, list(pair_seeds)
    errors = np.array([temporal.warping_error(c) for c in tqdm(generated, desc="make_pairs: rank candidates", unit="clip")])
    best = errors.reshape(len(pair_seeds), count).argmin(axis=1) + np.arange(len(pair_seeds)) * count
    return generated[best], [candidate_seeds[i] for i in best]


def make_losers(model, winners, prompts, seeds, methods, strength, settings: DPOPairSettings) -> np.ndarray:
    """The loser of every pair, each made by its own method."""
    losers = np.empty_like(winners)
    for method in dict.fromkeys(methods):
        rows = [i for i, m in enumerate(methods) if m == method]
        if method == pairs.IMG2IMG:
            regenerated = regenerate_frames(
                model, winners[rows], [prompts[i] for i in rows], [seeds[i] for i in rows], strength,
                settings.num_inference_steps, settings.guidance_scale, desc="make_pairs: img2img losers",
            )
            # regenerated frames come back a little lighter or darker: give them their winner's appearance
            losers[rows] = np.stack([pairs.match_frame_statistics(r, winners[i]) for r, i in zip(regenerated, rows)])
        else:
            for i in tqdm(rows, desc=f"make_pairs: {method} losers", unit="pair"):
                losers[i] = pairs.make_jitter_pair(winners[i], method, strength, seeds[i])[1]
    return losers


def main(method: str, state) -> None:
    if method not in PAIR_MAKERS:
        raise SystemExit(f"make_pairs: makes pairs for {', '.join(PAIR_MAKERS)}, not {method!r}")
    settings = read_stage_settings(f"data/settings/{method}", method, "pairs")
    if method == "vader":
        return make_queries(settings, state)
    if isinstance(settings, LabelledPairSettings):
        return make_labelled_pairs(method, settings, state)
    data = settings.data
    card = models.ModelCard.load("models/base")
    captions = training_prompts(settings, card).prompts
    model = families.load_base("models/base", precision.weight_dtype(settings.mixed_precision)).to(state.device)
    count = data.num_pairs
    prompts = [captions[i % len(captions)] for i in range(count)]
    pair_seeds = seeds.pair_seeds(data.seed, count)
    makers = pairs.methods_for_pairs(data.jitter_method, count)
    shard = distributed.my_shard(count)  # every pair is a pure function of its prompt, seed and maker
    mine = slice(shard.start, shard.stop)
    winners, my_seeds = steadiest_generations(model, card, prompts[mine], pair_seeds[mine], settings)
    losers = make_losers(model, winners, prompts[mine], my_seeds, makers[mine], data.jitter_strength, settings)
    winners, losers = distributed.gather_rows(winners, count), distributed.gather_rows(losers, count)
    winner_seeds = distributed.gather_rows(np.asarray(my_seeds, dtype=np.int64), count).tolist()
    with distributed.main_process_writes() as writes:
        if writes:
            verify_and_write(method, winners, losers, prompts, winner_seeds, makers, data)


def make_queries(settings: VaderQuerySettings, state) -> None:
    card = models.ModelCard.load("models/base")
    captions = training_prompts(settings, card).prompts
    model = families.load_base("models/base", precision.weight_dtype(settings.mixed_precision)).to(state.device)
    prompts = [captions[i % len(captions)] for i in range(settings.queries)]
    query_seeds = seeds.pair_seeds(settings.seed, settings.queries)
    sampling = vader.VaderSampling(card.frames, settings.num_inference_steps, settings.guidance_scale, card.shared_noise)
    shard = distributed.my_shard(settings.queries)
    mine = [(prompts[i], query_seeds[i]) for i in shard]
    made = []
    for start in tqdm(range(0, len(mine), 8), desc="make_pairs@vader: reference clips", unit="batch"):
        batch = mine[start : start + 8]
        frames = vader.reference_clips(model, [p for p, _ in batch], [s for _, s in batch], sampling)
        made.append(clips.to_uint8_clips(frames))
    references = distributed.gather_rows(np.concatenate(made), settings.queries)
    with distributed.main_process_writes() as writes:
        if writes:
            errors = [temporal.warping_error(clip) for clip in tqdm(references, desc="make_pairs@vader: flicker", unit="clip")]
            outputs.write_json(
                "metrics/pairs_vader.json",
                {"queries": settings.queries, "reference_warping_error": float(np.mean(errors)),
                 "reference_frame_difference": float(np.mean([temporal.frame_difference(c) for c in references]))},
            )
            with outputs.atomic_directory("data/pairs/vader") as staging:
                vader.write_query_clips(Path(staging), prompts, query_seeds, references)


def ground_truth(settings: LabelledPairSettings, pair_seeds: list[int], prompt_set: prompts.PromptSet) -> guided_pairs.GroundTruth:
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
        return guided_pairs.toy_ground_truth(captions, len(pair_seeds), pair_seeds, world.frames, world.frame_size, world.radius, world.speed)
    videos = user_videos.read_captioned_videos(settings.gt_videos, settings.frames, settings.resolution)
    return guided_pairs.GroundTruth(*videos)


def copy_noise_share(settings: LabelledPairSettings, card: models.ModelCard) -> float:
    """Share of the corrupted copies' noise common to all frames: the setting's, else the model's."""
    chosen = settings.dense.copy_shared_noise
    return card.shared_noise if chosen is None else chosen


def make_labelled_pairs(method: str, settings: LabelledPairSettings, state) -> None:
    card = models.ModelCard.load("models/base")
    copy_share = copy_noise_share(settings, card)
    count = settings.num_pairs
    pair_seeds = seeds.pair_seeds(settings.seed, count)
    noise_seeds = [seeds.candidate_seeds(seed, 2) for seed in pair_seeds]  # clip a's and clip b's
    if settings.kind == "dense":
        prompt_set = training_prompts(settings, card) if settings.source == "toy" else None  # the hub tiers' captions are the videos'
        truth = guided_pairs.cycled(ground_truth(settings, pair_seeds, prompt_set), count)  # read before the model: a bad video fails fast
        captions, origins = truth.captions, truth.origins
        parts = labellers.segments(card.frames, settings.dense.segment_frames)
    else:
        training = training_prompts(settings, card).prompts  # as make_pairs@dpo's winners
        captions, origins = [training[i % len(training)] for i in range(count)], [None] * count
        parts = [range(card.frames)]

    def labeller_of(caption: str) -> labellers.Labeller:
        return labellers.resolve(settings.dense.labeller, settings.dense.tie_margin, caption)

    labeller_of(captions[0])  # a bad labeller name fails before the model loads
    asked = labellers.budget_mask(count, len(parts), settings.label_budget, settings.seed)
    made_pairs = pairs_to_make(asked)
    model = families.load_base("models/base", precision.weight_dtype(settings.mixed_precision)).to(state.device)
    shard = distributed.my_shard(len(made_pairs))  # every pair is a pure function of its seeds and ground truth
    mine = made_pairs[shard.start : shard.stop]
    copies = []
    for which in (0, 1):
        my_seeds = [noise_seeds[i][which] for i in mine]
        my_captions = [captions[i] for i in mine]
        desc = f"make_pairs@{method}: clips {'ab'[which]}"
        if settings.kind == "dense":
            made = guided_pairs.corrupted_copies(
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
                method, settings, copies[0], copies[1], asked, captions, origins, noise_seeds, parts, labeller_of, copy_share,
            )


def pairs_to_make(asked: np.ndarray) -> np.ndarray:
    """The pairs with a segment to label: a pair with none is never made (dense_dpo_third)."""
    return np.flatnonzero(asked.any(axis=1))


def label_and_write(
    method, settings: LabelledPairSettings, clips_a, clips_b, asked, prompts, origins, noise_seeds, parts, labeller_of,
    copy_share: float,
) -> None:
    """Label the made pairs (clips_a[k], clips_b[k] are pair pairs_to_make(asked)[k]) where `asked`
    (pairs × segments) says, report the labels and write the pairs with at least one."""
    made_pairs = pairs_to_make(asked)
    labels = np.zeros(asked.shape, np.int8)
    motion_a, motion_b = np.zeros(asked.shape), np.zeros(asked.shape)
    for k, i in enumerate(tqdm(made_pairs, desc=f"make_pairs@{method}: label", unit="pair")):
        labels[i] = labellers.label_pair(labeller_of(prompts[i]), clips_a[k], clips_b[k], parts)
        labels[i][~asked[i]] = 0
        motion_a[i], motion_b[i] = labellers.segment_motion(clips_a[k], parts), labellers.segment_motion(clips_b[k], parts)
    report = {"maker": settings.kind, "labeller": settings.dense.labeller, "segments_per_pair": len(parts)}
    report |= labellers.labels_report(labels, asked, motion_a, motion_b)
    outputs.write_json(f"metrics/pairs_{method}.json", report)
    keep = [int(i) for i in made_pairs if labels[i].any()]
    if not keep:
        raise SystemExit(
            f"make_pairs@{method}: the labeller tied every pair (see metrics/pairs_{method}.json): lower dense_dpo.tie_margin"
        )
    rows = np.searchsorted(made_pairs, keep)  # where each kept pair's clips are
    if settings.kind == "vanilla":  # one clip label: the preferred clip is the winner
        flip = np.array([labels[i, 0] < 0 for i in keep])
        winners = np.where(flip[:, None, None, None, None], clips_b[rows], clips_a[rows])
        losers = np.where(flip[:, None, None, None, None], clips_a[rows], clips_b[rows])
        shard_labels = None
    else:
        winners, losers, shard_labels = clips_a[rows], clips_b[rows], labels[keep]
    with outputs.atomic_directory(f"data/pairs/{method}") as staging:
        shard = latents.write_pair_shard(Path(staging), 0, winners, losers, shard_labels)
        records = []
        for row, i in enumerate(keep):
            record = {"row": row, "shard": shard, "pair": i, "caption": prompts[i], "method": settings.kind, "seeds": noise_seeds[i]}
            if settings.kind == "dense":
                record |= {"ground_truth": origins[i], "eta": settings.dense.eta, "copy_shared_noise": copy_share}
                record["labels"] = labels[i].tolist()
            else:
                record["winner_is"] = "b" if labels[i, 0] < 0 else "a"
            records.append(record)
        latents.write_manifest(Path(staging), records)


def verify_and_write(method, winners, losers, prompts, seeds, makers, data) -> None:
    checks = [pairs.check_pair(w, l) for w, l in tqdm(list(zip(winners, losers)), desc="make_pairs: verify", unit="pair")]
    tolerance = data.appearance_tolerance
    report = pairs.verification_report(checks, makers, tolerance)
    keep = [i for i, check in enumerate(checks) if check.keep(tolerance)]
    # the motion bias in the data, as for the labelled makers: winner's motion minus its loser's
    report["motion_bias"] = float(np.mean([temporal.motion_magnitude(winners[i]) - temporal.motion_magnitude(losers[i]) for i in keep])) if keep else 0.0
    outputs.write_json(f"metrics/pairs_{method}.json", report)  # written first: it explains a failure too
    if report["kept"] == 0:
        raise SystemExit(
            f"make_pairs: all {len(checks)} pairs failed verification (see metrics/pairs_{method}.json): raise "
            "data.jitter_strength or data.appearance_tolerance, or pick another data.jitter_method"
        )
    with outputs.atomic_directory(f"data/pairs/{method}") as staging:
        shard = latents.write_pair_shard(Path(staging), 0, winners[keep], losers[keep])
        latents.write_manifest(
            Path(staging),
            [
                {"row": row, "shard": shard, "caption": prompts[i], "seed": seeds[i], "method": makers[i],
                 "strength": data.jitter_strength}
                for row, i in enumerate(keep)
            ],
        )


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else ""
    with distributed.process_group() as processes, integrity.stage_errors(f"make_pairs@{method}"):
        main(method, processes)
