"""DPO's preference pairs (make_pairs@dpo): winners are base generations for training captions with
recorded seeds; each loser is its winner made temporally jittery by `data.jitter_method` (one maker or
a mix taken in turn), on its frames or, with `dpo.loser_space: latents`, in the family's latents
(pairs.latent_losers). Every pair is verified: its winner must flicker less than its loser (warping
error) and match it in contrast and saturation within `data.appearance_tolerance`; pairs that fail are
dropped and counted in the branch's pairs metrics. Writes the branch's pairs (videodpo.core.layout) (uint8 shards +
manifest.jsonl). Under `accelerate launch` each process makes its own block of pairs; the main
process verifies and writes them all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from videodpo import families
from videodpo.core import distributed, model_card, outputs, precision, seeds
from videodpo.core import prompts as prompt_sets
from videodpo.evaluation import temporal
from videodpo.pairs import jitter, store
from videodpo.pairs.img2img import regenerate_frames
from videodpo.pairs.latent_losers import latent_amplified_pairs


def make_jitter_pairs(branch, settings, state) -> None:
    """settings: videodpo.methods.dpo.DPOPairSettings."""
    data = settings.data
    card = model_card.ModelCard.load(branch.family.base)
    captions = prompt_sets.training_prompts(settings.train_prompts, card.source, families.load_base_tokenizer(branch.family.base)).prompts
    model = families.load_base(branch.family.base, precision.weight_dtype(settings.mixed_precision)).to(state.device)
    count = data.num_pairs
    prompts = [captions[i % len(captions)] for i in range(count)]
    pair_seeds = seeds.pair_seeds(data.seed, count)
    makers = jitter.methods_for_pairs(data.jitter_method, count)
    shard = distributed.my_shard(count)  # every pair is a pure function of its prompt, seed and maker
    mine = slice(shard.start, shard.stop)
    winners, my_seeds = steadiest_generations(model, card, prompts[mine], pair_seeds[mine], settings)
    if settings.dpo.loser_space == "latents":
        winners, losers = latent_amplified_pairs(model, winners, data.jitter_strength, desc="make_pairs: latent losers")
    else:
        losers = make_losers(model, winners, prompts[mine], my_seeds, makers[mine], data.jitter_strength, settings)
    winners, losers = distributed.gather_rows(winners, count), distributed.gather_rows(losers, count)
    winner_seeds = distributed.gather_rows(np.asarray(my_seeds, dtype=np.int64), count).tolist()
    with distributed.main_process_writes() as writes:
        if writes:
            verify_and_write(branch, winners, losers, prompts, winner_seeds, makers, data, settings.dpo.loser_space)


def steadiest_generations(model, card, prompts, pair_seeds, settings):
    """Winners and their seeds: per pair, the generation with the lowest warping error of
    `data.candidates_per_pair` (seeds from videodpo.core.seeds.candidate_seeds)."""
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


def make_losers(model, winners, prompts, seeds, methods, strength, settings) -> np.ndarray:
    """The loser of every pair, each made by its own method."""
    losers = np.empty_like(winners)
    for method in dict.fromkeys(methods):
        rows = [i for i, m in enumerate(methods) if m == method]
        if method == jitter.IMG2IMG:
            regenerated = regenerate_frames(
                model, winners[rows], [prompts[i] for i in rows], [seeds[i] for i in rows], strength,
                settings.num_inference_steps, settings.guidance_scale, desc="make_pairs: img2img losers",
            )
            # regenerated frames come back a little lighter or darker: give them their winner's appearance
            losers[rows] = np.stack([jitter.match_frame_statistics(r, winners[i]) for r, i in zip(regenerated, rows)])
        else:
            for i in tqdm(rows, desc=f"make_pairs: {method} losers", unit="pair"):
                losers[i] = jitter.make_jitter_pair(winners[i], method, strength, seeds[i])[1]
    return losers


def verify_and_write(branch, winners, losers, prompts, seeds, makers, data, loser_space: str = "pixels") -> None:
    checks = [jitter.check_pair(w, l) for w, l in tqdm(list(zip(winners, losers)), desc="make_pairs: verify", unit="pair")]
    tolerance = data.appearance_tolerance
    report = jitter.verification_report(checks, makers, tolerance)
    keep = [i for i, check in enumerate(checks) if check.keep(tolerance)]
    # the motion bias in the data, as for the labelled makers: winner's motion minus its loser's
    report["motion_bias"] = float(np.mean([temporal.motion_magnitude(winners[i]) - temporal.motion_magnitude(losers[i]) for i in keep])) if keep else 0.0
    outputs.write_json(branch.pairs_metrics, report)  # written first: it explains a failure too
    if report["kept"] == 0:
        raise SystemExit(
            f"make_pairs: all {len(checks)} pairs failed verification (see {branch.pairs_metrics}): raise "
            "data.jitter_strength or data.appearance_tolerance, or pick another data.jitter_method"
        )
    with outputs.atomic_directory(branch.pairs) as staging:
        shard = store.write_pair_shard(Path(staging), 0, winners[keep], losers[keep])
        store.write_manifest(
            Path(staging),
            [
                {"row": row, "shard": shard, "caption": prompts[i], "seed": seeds[i], "method": makers[i],
                 "strength": data.jitter_strength, **({"loser_space": loser_space} if loser_space != "pixels" else {})}
                for row, i in enumerate(keep)
            ],
        )
