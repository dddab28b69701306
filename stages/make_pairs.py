"""DVC stage `make_pairs`: preference pairs from the base model.

Winners are base generations for training captions with recorded seeds; each loser is its winner
made temporally jittery by `data.jitter_method` (one maker or a mix taken in turn). Every pair is
verified: its winner must flicker less than its loser (warping error) and match it in contrast and
saturation within `data.appearance_tolerance`; pairs that fail are dropped and counted in
metrics/pairs.json. Writes data/pairs (uint8 shards + manifest.jsonl). Under `accelerate launch`
each process makes its own block of pairs; the main process verifies and writes them all.
"""

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from videodpo import distributed, latents, models, outputs, pairs, precision, temporal, toyworld
from videodpo.config import load_config
from videodpo.sampling import generate_clips, regenerate_frames

PAIR_SEED_OFFSET = 100_000  # pair seeds never coincide with preview or evaluation seeds


def steadiest_generations(pipe, card, prompts, seeds, config):
    """Winners and their seeds: per pair, the generation with the lowest warping error of
    `data.candidates_per_pair` (candidate c of a pair uses seed · 100 + c; one candidate: the seed)."""
    count = config.data.candidates_per_pair
    candidate_seeds = [seed if count == 1 else seed * 100 + c for seed in seeds for c in range(count)]
    clips = generate_clips(
        pipe, [p for p in prompts for _ in range(count)], candidate_seeds, card.frames, config.sample.num_inference_steps,
        config.sample.guidance_scale, card.shared_noise, desc="make_pairs: winners", resolution=card.frame_size,
    )
    if count == 1:
        return clips, seeds
    errors = np.array([temporal.warping_error(c) for c in tqdm(clips, desc="make_pairs: rank candidates", unit="clip")])
    best = errors.reshape(len(seeds), count).argmin(axis=1) + np.arange(len(seeds)) * count
    return clips[best], [candidate_seeds[i] for i in best]


def make_losers(pipe, winners, prompts, seeds, methods, strength, config) -> np.ndarray:
    """The loser of every pair, each made by its own method."""
    losers = np.empty_like(winners)
    for method in dict.fromkeys(methods):
        rows = [i for i, m in enumerate(methods) if m == method]
        if method == pairs.IMG2IMG:
            regenerated = regenerate_frames(
                pipe, winners[rows], [prompts[i] for i in rows], [seeds[i] for i in rows], strength,
                config.sample.num_inference_steps, config.sample.guidance_scale, desc="make_pairs: img2img losers",
            )
            # regenerated frames come back a little lighter or darker: give them their winner's appearance
            losers[rows] = np.stack([pairs.match_frame_statistics(r, winners[i]) for r, i in zip(regenerated, rows)])
        else:
            for i in tqdm(rows, desc=f"make_pairs: {method} losers", unit="pair"):
                losers[i] = pairs.make_jitter_pair(winners[i], method, strength, seeds[i])[1]
    return losers


def main(state) -> None:
    config = load_config()
    card = models.ModelCard.load("models/base")
    pipe = models.load_pipeline("models/base", precision.weight_dtype(config.training.mixed_precision)).to(state.device)
    captions = [c.text for c in toyworld.train_captions()]  # held-out captions never make pairs
    count = config.data.num_pairs
    prompts = [captions[i % len(captions)] for i in range(count)]
    seeds = [PAIR_SEED_OFFSET + config.data.seed * 10_000 + i for i in range(count)]
    methods = pairs.methods_for_pairs(config.data.jitter_method, count)
    shard = distributed.my_shard(count)  # every pair is a pure function of its prompt, seed and method
    mine = slice(shard.start, shard.stop)
    winners, my_seeds = steadiest_generations(pipe, card, prompts[mine], seeds[mine], config)
    losers = make_losers(pipe, winners, prompts[mine], my_seeds, methods[mine], config.data.jitter_strength, config)
    winners, losers = distributed.gather_rows(winners, count), distributed.gather_rows(losers, count)
    seeds = distributed.gather_rows(np.asarray(my_seeds, dtype=np.int64), count).tolist()
    with distributed.main_process_writes() as writes:
        if writes:
            verify_and_write(winners, losers, prompts, seeds, methods, config)


def verify_and_write(winners, losers, prompts, seeds, methods, config) -> None:
    checks = [pairs.check_pair(w, l) for w, l in tqdm(list(zip(winners, losers)), desc="make_pairs: verify", unit="pair")]
    tolerance = config.data.appearance_tolerance
    report = pairs.verification_report(checks, methods, tolerance)
    if report["kept"] == 0:
        raise SystemExit(
            f"make_pairs: all {len(checks)} pairs failed verification (see metrics/pairs.json): raise "
            "data.jitter_strength or data.appearance_tolerance, or pick another data.jitter_method"
        )
    outputs.write_json("metrics/pairs.json", report)
    keep = [i for i, check in enumerate(checks) if check.keep(tolerance)]
    with outputs.atomic_directory("data/pairs") as staging:
        shard = latents.write_pair_shard(Path(staging), 0, winners[keep], losers[keep])
        latents.write_manifest(
            Path(staging),
            [
                {"row": row, "shard": shard, "caption": prompts[i], "seed": seeds[i], "method": methods[i],
                 "strength": config.data.jitter_strength}
                for row, i in enumerate(keep)
            ],
        )


if __name__ == "__main__":
    with distributed.process_group() as processes:
        main(processes)
