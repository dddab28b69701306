"""The seed of every generated clip, by what the clip is for.

Preview, preference-pair and evaluation clips draw from ranges that never meet (for every value
params.yaml allows), so no evaluation sample ever starts from the noise of a clip a method trained on
or a base preview, and every evaluation sample has a seed of its own: samples that shared one would
share much of their flicker and would not be independent draws.
"""

from __future__ import annotations

PREVIEW_OFFSET = 50_000            # base preview: 50 000 + i, i < 48 captions · 1000 seeds
PAIR_OFFSET = 100_000              # preference pairs: 100 000 + data.seed · 10 000 + i
CANDIDATES_PER_SEED = 100          # best-of-N winners: candidate c of pair seed s has seed s · 100 + c
VALIDATION_OFFSET = 1_500_000_000  # validation during training: above every candidate seed, below evaluation's
EVALUATION_OFFSET = 2_000_000_000  # evaluation samples: above every pair and candidate seed


def preview_seeds(count: int) -> list[int]:
    return [PREVIEW_OFFSET + i for i in range(count)]


def pair_seeds(data_seed: int, count: int) -> list[int]:
    return [PAIR_OFFSET + data_seed * 10_000 + i for i in range(count)]


def candidate_seeds(pair_seed: int, count: int) -> list[int]:
    """Seeds of the `count` generations a winner is chosen from (one candidate: the pair's own seed)."""
    if count == 1:
        return [pair_seed]
    return [pair_seed * CANDIDATES_PER_SEED + c for c in range(count)]


def validation_seeds(count: int) -> list[int]:
    """The seeds of the small validation set a method scores while it trains."""
    return [VALIDATION_OFFSET + i for i in range(count)]


def evaluation_seeds(count: int) -> list[int]:
    """One distinct seed per evaluation sample."""
    return [EVALUATION_OFFSET + i for i in range(count)]
