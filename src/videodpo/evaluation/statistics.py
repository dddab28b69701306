"""Paired comparison of two models on the same (prompt, seed) samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_picks(count: int, resamples: int, seed: int = 0, strata: Sequence | None = None) -> np.ndarray:
    """Sample indices of each bootstrap resample, (resamples, count), drawn with replacement.

    With `strata` (one label per sample, e.g. its prompt), each resample draws within every stratum
    as many samples as it holds: the design (which prompts, how many samples each) stays fixed and
    only the independent draws inside it are resampled.
    """
    rng = np.random.default_rng(seed)
    if strata is None:
        return rng.integers(0, count, size=(resamples, count))
    labels = np.asarray(strata)
    if len(labels) != count:
        raise ValueError(f"{len(labels)} stratum labels for {count} samples: give one per sample")
    blocks = []
    for label in dict.fromkeys(labels.tolist()):
        members = np.flatnonzero(labels == label)
        blocks.append(members[rng.integers(0, len(members), size=(resamples, len(members)))])
    return np.concatenate(blocks, axis=1)


def relative_change_ci(
    base: np.ndarray, aligned: np.ndarray, resamples: int = 1000, seed: int = 0, strata: Sequence | None = None
) -> dict:
    """Relative change of the mean, aligned vs base, with a 95 % paired bootstrap interval.

    base, aligned: one value per sample, paired by index; every sample an independent draw (its own
    seed). Resampling draws the same sample indices for both, so what varies is which samples are
    in the set, never their pairing; `strata` keeps each prompt's share fixed (see bootstrap_picks).
    """
    base, aligned = np.asarray(base, float), np.asarray(aligned, float)
    if base.shape != aligned.shape or base.ndim != 1 or len(base) == 0:
        raise ValueError(f"paired samples must be two 1-D arrays of one length, got {base.shape} and {aligned.shape}")

    def change(b: np.ndarray, a: np.ndarray) -> np.ndarray:
        denominator = b.mean(axis=-1)
        return np.where(denominator != 0, a.mean(axis=-1) / np.where(denominator != 0, denominator, 1) - 1, 0.0)

    picks = bootstrap_picks(len(base), resamples, seed, strata)
    spread = change(base[picks], aligned[picks])
    low, high = np.percentile(spread, [2.5, 97.5])
    return {"relative": float(change(base, aligned)), "ci95": [float(low), float(high)]}
