"""DVC stage `sample@<variant>`: clips for the evaluation prompts and seeds.

base: the base model; aligned: the base model with the trained LoRA. Both use identical prompts,
seeds and initial noise. Clips are stored losslessly (every metric is computed from them), with a
few GIFs for eyes.
"""

import json
import sys
from pathlib import Path

from safetensors.numpy import save_file

from videodpo import models, outputs, toyworld, visuals
from videodpo.config import load_config
from videodpo.sampling import generate_clips

VARIANTS = ("base", "aligned")
GIFS = 4


def evaluation_samples(seeds_per_prompt: int) -> list[tuple[str, int]]:
    """Held-out captions × seeds: captions never used for pretraining or preference pairs."""
    return [(c.text, seed) for c in toyworld.held_out_captions() for seed in range(seeds_per_prompt)]


def main(variant: str) -> None:
    if variant not in VARIANTS:
        raise SystemExit(f"sample: variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    config = load_config()
    card = models.ModelCard.load("models/base")
    pipe = models.load_pipeline("models/base")
    if variant == "aligned":
        models.load_motion_lora(pipe, "models/lora")
    samples = evaluation_samples(config.sample.seeds_per_prompt)
    clips = generate_clips(
        pipe, [p for p, _ in samples], [s for _, s in samples], card.frames, config.sample.num_inference_steps,
        config.sample.guidance_scale, card.shared_noise, desc=f"sample@{variant}",
    )
    with outputs.atomic_directory(f"results/samples/{variant}") as staging:
        save_file({"clips": clips}, str(Path(staging) / "clips.safetensors"))
        (Path(staging) / "samples.json").write_text(json.dumps([{"prompt": p, "seed": s} for p, s in samples], indent=1))
        for i in range(min(GIFS, len(clips))):
            visuals.write_gif(clips[i * config.sample.seeds_per_prompt], Path(staging) / f"sample_{i}.gif")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
