"""Model families: the only code that knows how a kind of text-to-video model is built, conditioned,
noised, sampled and fine-tuned. Stages, methods, metrics and rewards reach a model through the seam
every family's model object offers (today: videodpo.families.animatediff.AnimateDiff):

- parts: `denoiser` (what LoRA and accelerate wrap), `device`, `dtype`, `to(device)`, `save(folder)`;
- LoRA: `add_lora(rank, alpha, targets)`, `save_lora(config, folder)`, `load_lora(folder)`,
  `adapters_disabled(denoiser)` (the reference model is the policy with its LoRA off);
- prompts: `encode_prompts(prompts)` (training conditioning), `guidance_embeddings(prompts)`;
- clips: `encode_clips(uint8 clips)` → latents, `decode(latents, window)` → frames in [-1, 1]
  (differentiable), `latent_frames(pixel_frames)` and `latent_segments(segments)` (pixel frames →
  latent frames), `initial_latents(frames, seed, shared_noise, resolution)`;
- training: `predict(denoiser, noisy, timesteps, conditioning)`, `training_draw(latents, noise,
  timesteps)` → (noisy latents, target), `num_train_timesteps`;
- sampling: `generate(...)` → uint8 clips, `denoise(...)` (a sampler loop that can keep its graph for
  reward back-propagation), `sampler(steps)` and `sampler_step(scheduler, prediction, timestep,
  latents, eta)` → (next latents, their log-probability at eta > 0), `denoise_from(...)` and
  `strength_for(count, steps)` (SDEdit).

A base folder (models/base) is opened by the family that wrote it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from videodpo.families import animatediff, wan

FAMILIES = {"animatediff": animatediff, "wan": wan}  # name → module: load(folder, dtype), load_tokenizer(folder), MODEL (its class)
# what every family's model offers (see above)
SEAM = (
    "denoiser", "device", "dtype", "to", "save", "enable_gradient_checkpointing",
    "add_lora", "save_lora", "load_lora", "adapters_disabled",
    "encode_prompts", "guidance_embeddings",
    "encode_clips", "decode", "latent_frames", "latent_segments", "initial_latents",
    "predict", "training_draw", "num_train_timesteps",
    "generate", "denoise", "sampler", "sampler_step", "denoise_from", "strength_for",
)
DEFAULT_FAMILY = "animatediff"  # base folders written before families were named are AnimateDiff's


def family_module(name: str):
    """The module of family `name`, or a ValueError naming the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def load_base_tokenizer(folder: str | Path = "models/base"):
    """The tokenizer of the base model saved in `folder`, without its weights (to check prompts early)."""
    return family_module(DEFAULT_FAMILY).load_tokenizer(Path(folder))


def load_base(folder: str | Path = "models/base", dtype: torch.dtype = torch.float32):
    """The base model saved in `folder`, opened by its family."""
    return family_module(DEFAULT_FAMILY).load(Path(folder), dtype)
