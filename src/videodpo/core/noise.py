"""The video noise prior: Gaussian noise partly shared by all frames of a clip.

Mixing a per-clip component into each frame's noise (variance still 1) ties the frames together;
the embedded default model is trained and sampled with the same share.
"""

from __future__ import annotations

import math

import torch


def correlated_noise(shape: tuple[int, ...], shared: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Unit-variance noise shaped (B, C, F, H, W) whose frames correlate with coefficient `shared`."""
    if not 0.0 <= shared <= 1.0:
        raise ValueError(f"shared noise must be in [0, 1], got {shared}")
    batch, channels, frames, height, width = shape
    common = torch.randn((batch, channels, 1, height, width), generator=generator)
    own = torch.randn(tuple(shape), generator=generator)
    return math.sqrt(shared) * common + math.sqrt(1.0 - shared) * own
