"""DVC stage `make_pairs@<method>`: what a method trains on, from the base model.

vader: its training queries (training captions with recorded seeds) and the reference model's clip of
each, sampled as VADER's training samples are; the appearance guard holds the policy near them.
Writes data/pairs/vader and metrics/pairs_vader.json (the references' flicker).

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

from videodpo import distributed, latents, models, outputs, pairs, precision, rewards, seeds, temporal, toyworld, vader
from videodpo.method_settings import DPOPairSettings, VaderQuerySettings, read_stage_settings
from videodpo.sampling import generate_clips, regenerate_frames

PAIR_MAKERS = ("dpo", "vader")  # methods whose training data this stage makes


def steadiest_generations(pipe, card, prompts, pair_seeds, settings: DPOPairSettings):
    """Winners and their seeds: per pair, the generation with the lowest warping error of
    `data.candidates_per_pair` (seeds from videodpo.seeds.candidate_seeds)."""
    count = settings.data.candidates_per_pair
    candidate_seeds = [seed for pair_seed in pair_seeds for seed in seeds.candidate_seeds(pair_seed, count)]
    clips = generate_clips(
        pipe, [p for p in prompts for _ in range(count)], candidate_seeds, card.frames, settings.num_inference_steps,
        settings.guidance_scale, card.shared_noise, desc="make_pairs: winners", resolution=card.frame_size,
    )
    if count == 1:
        return clips, list(pair_seeds)
    errors = np.array([temporal.warping_error(c) for c in tqdm(clips, desc="make_pairs: rank candidates", unit="clip")])
    best = errors.reshape(len(pair_seeds), count).argmin(axis=1) + np.arange(len(pair_seeds)) * count
    return clips[best], [candidate_seeds[i] for i in best]


def make_losers(pipe, winners, prompts, seeds, methods, strength, settings: DPOPairSettings) -> np.ndarray:
    """The loser of every pair, each made by its own method."""
    losers = np.empty_like(winners)
    for method in dict.fromkeys(methods):
        rows = [i for i, m in enumerate(methods) if m == method]
        if method == pairs.IMG2IMG:
            regenerated = regenerate_frames(
                pipe, winners[rows], [prompts[i] for i in rows], [seeds[i] for i in rows], strength,
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
    data = settings.data
    card = models.ModelCard.load("models/base")
    pipe = models.load_pipeline("models/base", precision.weight_dtype(settings.mixed_precision)).to(state.device)
    captions = [c.text for c in toyworld.train_captions()]  # held-out captions never make pairs
    count = data.num_pairs
    prompts = [captions[i % len(captions)] for i in range(count)]
    pair_seeds = seeds.pair_seeds(data.seed, count)
    makers = pairs.methods_for_pairs(data.jitter_method, count)
    shard = distributed.my_shard(count)  # every pair is a pure function of its prompt, seed and maker
    mine = slice(shard.start, shard.stop)
    winners, my_seeds = steadiest_generations(pipe, card, prompts[mine], pair_seeds[mine], settings)
    losers = make_losers(pipe, winners, prompts[mine], my_seeds, makers[mine], data.jitter_strength, settings)
    winners, losers = distributed.gather_rows(winners, count), distributed.gather_rows(losers, count)
    winner_seeds = distributed.gather_rows(np.asarray(my_seeds, dtype=np.int64), count).tolist()
    with distributed.main_process_writes() as writes:
        if writes:
            verify_and_write(method, winners, losers, prompts, winner_seeds, makers, data)


def make_queries(settings: VaderQuerySettings, state) -> None:
    card = models.ModelCard.load("models/base")
    pipe = models.load_pipeline("models/base", precision.weight_dtype(settings.mixed_precision)).to(state.device)
    captions = [c.text for c in toyworld.train_captions()]  # held-out captions never train
    prompts = [captions[i % len(captions)] for i in range(settings.queries)]
    query_seeds = seeds.pair_seeds(settings.seed, settings.queries)
    sampling = vader.VaderSampling(card.frames, settings.num_inference_steps, settings.guidance_scale, card.shared_noise)
    shard = distributed.my_shard(settings.queries)
    mine = [(prompts[i], query_seeds[i]) for i in shard]
    clips = []
    for start in tqdm(range(0, len(mine), 8), desc="make_pairs@vader: reference clips", unit="batch"):
        batch = mine[start : start + 8]
        frames = vader.reference_clips(pipe, [p for p, _ in batch], [s for _, s in batch], sampling)
        clips.append(rewards.to_uint8_clips(frames))
    references = distributed.gather_rows(np.concatenate(clips), settings.queries)
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


def verify_and_write(method, winners, losers, prompts, seeds, makers, data) -> None:
    checks = [pairs.check_pair(w, l) for w, l in tqdm(list(zip(winners, losers)), desc="make_pairs: verify", unit="pair")]
    tolerance = data.appearance_tolerance
    report = pairs.verification_report(checks, makers, tolerance)
    outputs.write_json(f"metrics/pairs_{method}.json", report)  # written first: it explains a failure too
    if report["kept"] == 0:
        raise SystemExit(
            f"make_pairs: all {len(checks)} pairs failed verification (see metrics/pairs_{method}.json): raise "
            "data.jitter_strength or data.appearance_tolerance, or pick another data.jitter_method"
        )
    keep = [i for i, check in enumerate(checks) if check.keep(tolerance)]
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
    with distributed.process_group() as processes:
        main(sys.argv[1] if len(sys.argv) > 1 else "", processes)
