"""img2img losers: every frame of a clip regenerated on its own through any family's SDEdit, so the
scene and its motion stay and the details of each frame drift apart (`data.jitter_method: img2img`)."""

from __future__ import annotations

import numpy as np
import torch


def frame_noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Unit noise (C, F, h, w) in which frame f has its own generator, seeded seed · 1000 + f."""
    channels, frames, height, width = shape
    return torch.stack(
        [torch.randn((channels, height, width), generator=torch.Generator().manual_seed(seed * 1000 + f)) for f in range(frames)],
        dim=1,
    )


@torch.no_grad()
def regenerate_frames(
    model,
    clips: np.ndarray,
    prompts: list[str],
    seeds: list[int],
    strength: float,
    steps: int,
    guidance_scale: float,
    batch_size: int = 64,
    desc: str = "img2img",
) -> np.ndarray:
    """img2img: every frame of each clip noised to `strength` with its own seed and denoised by the
    model on its own (a one-frame clip, so nothing ties it to its neighbours), with the clip's
    caption. The scene and its motion stay; the details of each frame drift apart."""
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"data.jitter_strength: img2img needs a strength in (0, 1], got {strength}")
    if len(clips) != len(prompts) or len(clips) != len(seeds):
        raise ValueError(f"{len(clips)} clips, {len(prompts)} prompts and {len(seeds)} seeds: give one of each per clip")
    frames = clips.shape[1]
    single = clips.reshape(-1, 1, *clips.shape[2:])
    clean = model.encode_clips(single)  # (N·F, C, 1, h, w)
    noise = torch.cat([frame_noise((clean.shape[1], frames, *clean.shape[3:]), seed).transpose(0, 1) for seed in seeds])
    frame_prompts = [prompt for prompt in prompts for _ in range(frames)]
    out = model.denoise_from(clean, noise.unsqueeze(2), frame_prompts, strength, steps, guidance_scale, clips.shape[2], batch_size, desc)
    return out.reshape(clips.shape)
