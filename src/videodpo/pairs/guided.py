"""DenseDPO's pairs: two denoised corrupted copies of one ground-truth clip.

Each copy is the ground truth's latents noised with its own noise to the level of η and denoised by
the base model from step round(η · N) of its N sampling steps down (SDEdit; in a flow model's terms
x_η = (1 − η)·x + η·ε). Both copies keep the ground truth's layout and motion and differ in details,
so a preference between them, segment by segment, is about those details and not about how much
each moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from videodpo import toyworld
from videodpo.core.noise import correlated_noise


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth clips uint8 (N, F, H, W, 3), their captions, and where each came from."""

    clips: np.ndarray
    captions: list[str]
    origins: list[str]  # toy: "toy render seed S"; user videos: the file name


def toy_ground_truth(
    captions: list[toyworld.Caption], count: int, render_seeds: list[int], frames: int, size: int, radius: float, speed: float,
) -> GroundTruth:
    """Toy-world renders of `captions` (the training prompts), taken in turn, each from its own seed."""
    picked = [captions[i % len(captions)] for i in range(count)]
    clips = np.stack(
        [
            toyworld.render_clip(caption, np.random.default_rng(seed), size=size, frames=frames, radius=radius, speed=speed)
            for caption, seed in zip(picked, render_seeds)
        ]
    )
    return GroundTruth(clips, [c.text for c in picked], [f"toy render seed {seed}" for seed in render_seeds])


def cycled(videos: GroundTruth, count: int) -> GroundTruth:
    """`count` pairs' ground truths from a set of videos, taken in turn."""
    rows = [i % len(videos.clips) for i in range(count)]
    return GroundTruth(videos.clips[rows], [videos.captions[i] for i in rows], [videos.origins[i] for i in rows])


def denoising_steps(eta: float, steps: int) -> int:
    """How many of the N sampling steps a copy is denoised over: round(η · N), at least one."""
    if not 0.0 < eta <= 1.0:
        raise ValueError(f"dense_dpo.eta must be in (0, 1], got {eta}")
    return max(1, round(eta * steps))


def corrupted_copies(
    model, clips: np.ndarray, prompts: list[str], noise_seeds: list[int], eta: float, steps: int, guidance_scale: float,
    shared_noise: float, desc: str = "denoise copies",
) -> np.ndarray:
    """One denoised corrupted copy of each clip, uint8 (N, F, H, W, 3); noise seed i → copy i."""
    clean = model.encode_clips(clips)  # (N, C, f, h, w)
    noise = torch.cat([correlated_noise((1, *clean.shape[1:]), shared_noise, torch.Generator().manual_seed(s)) for s in noise_seeds])
    strength = model.strength_for(denoising_steps(eta, steps), steps)  # the last round(η · N) of N steps
    return model.denoise_from(clean, noise, prompts, strength, steps, guidance_scale, clips.shape[2], desc=desc)
