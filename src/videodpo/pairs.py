"""Preference-pair makers: a winner clip and a loser that is the same clip made temporally jittery.

Clips are uint8 (F, H, W, 3); every maker is a pure function of the clip, its strength and a
random generator, so a pair is reproducible from its recorded seed.
"""

from __future__ import annotations

import numpy as np


def noise_jitter(clip: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """The seed project's loser: per-frame Gaussian noise (σ = strength) plus a per-frame colour
    shift (U(0,1)³ − 0.5) · strength · 0.5, on a 0–1 scale, clamped."""
    frames = clip.astype(np.float32) / 255.0
    noise = rng.normal(0.0, strength, size=frames.shape)
    colour_shift = (rng.random((len(frames), 1, 1, 3)) - 0.5) * strength * 0.5
    return (np.clip(frames + noise + colour_shift, 0.0, 1.0) * 255.0).round().astype(np.uint8)


JITTER_MAKERS = {"noise": noise_jitter}


def make_jitter_pair(clip: np.ndarray, method: str, strength: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(winner, loser) for one clip: the winner is the clip itself."""
    if method not in JITTER_MAKERS:
        raise ValueError(f"data.jitter_method: {method!r} is not a jitter maker; allowed: {', '.join(JITTER_MAKERS)}")
    return clip, JITTER_MAKERS[method](clip, strength, np.random.default_rng(seed))
