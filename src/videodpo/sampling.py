"""Generating clips: identical seeds and initial noise for every model variant compared."""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AnimateDiffPipeline
from tqdm.auto import tqdm

from videodpo.noise import correlated_noise


def initial_latents(pipe: AnimateDiffPipeline, frames: int, seed: int, shared_noise: float) -> torch.Tensor:
    """The starting noise of one clip, (1, C, F, h, w), a pure function of its seed."""
    unet = pipe.unet
    size = unet.config.sample_size
    shape = (1, unet.config.in_channels, frames, size, size)
    latents = correlated_noise(shape, shared_noise, torch.Generator().manual_seed(seed))
    return latents * pipe.scheduler.init_noise_sigma


@torch.no_grad()
def generate_clips(
    pipe: AnimateDiffPipeline,
    prompts: list[str],
    seeds: list[int],
    frames: int,
    steps: int,
    guidance_scale: float,
    shared_noise: float,
    batch_size: int = 8,
    desc: str = "sampling",
) -> np.ndarray:
    """One clip per (prompt, seed): uint8 (N, F, H, W, 3). Same prompt and seed → same clip."""
    if len(prompts) != len(seeds):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    device = pipe.unet.device
    dtype = pipe.unet.dtype
    clips = []
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch"):
        batch_prompts = prompts[start : start + batch_size]
        latents = torch.cat(
            [initial_latents(pipe, frames, seed, shared_noise) for seed in seeds[start : start + batch_size]]
        )
        output = pipe(
            prompt=batch_prompts,
            num_frames=frames,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            latents=latents.to(device, dtype),
            output_type="np",
        )
        clips.append((np.asarray(output.frames) * 255).round().clip(0, 255).astype(np.uint8))
    return np.concatenate(clips)
