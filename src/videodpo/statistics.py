"""Paired comparison of two models on the same (prompt, seed) samples."""

from __future__ import annotations

import numpy as np


def relative_change_ci(base: np.ndarray, aligned: np.ndarray, resamples: int = 1000, seed: int = 0) -> dict:
    """Relative change of the mean, aligned vs base, with a 95 % paired bootstrap interval.

    base, aligned: one value per sample, paired by index. Resampling draws the same sample
    indices for both, so what varies is which samples are in the set, never their pairing.
    """
    base, aligned = np.asarray(base, float), np.asarray(aligned, float)
    if base.shape != aligned.shape or base.ndim != 1 or len(base) == 0:
        raise ValueError(f"paired samples must be two 1-D arrays of one length, got {base.shape} and {aligned.shape}")

    def change(b: np.ndarray, a: np.ndarray) -> np.ndarray:
        denominator = b.mean(axis=-1)
        return np.where(denominator != 0, a.mean(axis=-1) / np.where(denominator != 0, denominator, 1) - 1, 0.0)

    picks = np.random.default_rng(seed).integers(0, len(base), size=(resamples, len(base)))
    spread = change(base[picks], aligned[picks])
    low, high = np.percentile(spread, [2.5, 97.5])
    return {"relative": float(change(base, aligned)), "ci95": [float(low), float(high)]}
