"""DVC stage `make_pairs`: preference pairs from the base model.

Winners are base generations for training captions with recorded seeds; each loser is its winner
made temporally jittery by `data.jitter_method`. Writes data/pairs (uint8 shards + manifest.jsonl).
"""

from pathlib import Path

import numpy as np

from videodpo import latents, models, outputs, pairs, toyworld
from videodpo.config import load_config
from videodpo.sampling import generate_clips

PAIR_SEED_OFFSET = 100_000  # pair seeds never coincide with preview or evaluation seeds


def main() -> None:
    config = load_config()
    card = models.ModelCard.load("models/base")
    pipe = models.load_pipeline("models/base")
    captions = [c.text for c in toyworld.train_captions()]  # held-out captions never make pairs
    prompts = [captions[i % len(captions)] for i in range(config.data.num_pairs)]
    seeds = [PAIR_SEED_OFFSET + config.data.seed * 10_000 + i for i in range(config.data.num_pairs)]
    winners = generate_clips(
        pipe, prompts, seeds, card.frames, config.sample.num_inference_steps, config.sample.guidance_scale,
        card.shared_noise, desc="make_pairs: winners",
    )
    method, strength = config.data.jitter_method, config.data.jitter_strength
    losers = np.stack([pairs.make_jitter_pair(w, method, strength, seed)[1] for w, seed in zip(winners, seeds)])
    with outputs.atomic_directory("data/pairs") as staging:
        shard = latents.write_pair_shard(Path(staging), 0, winners, losers)
        latents.write_manifest(
            Path(staging),
            [
                {"row": i, "shard": shard, "caption": p, "seed": s, "method": method, "strength": strength}
                for i, (p, s) in enumerate(zip(prompts, seeds))
            ],
        )


if __name__ == "__main__":
    main()
