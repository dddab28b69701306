"""The seed of every generated clip, by what the clip is for.

Preview, preference-pair, validation and evaluation clips draw from ranges that never meet (for every
value params.yaml allows), so no evaluation sample ever starts from the noise of a clip a method
trained on or a base preview, and every evaluation sample has a seed of its own: samples that shared
one would share much of their flicker and would not be independent draws.

Evaluation has splits whose seeds never meet either: `dev`, on which settings are chosen, and `test`,
which the README reports and no choice has seen. `replication` is a third range that no stage samples:
scripts/replicate.py draws fresh samples from it to check that the test figures hold.
"""

from __future__ import annotations

PREVIEW_OFFSET = 50_000            # base preview: 50 000 + i, i < 48 captions · 1000 seeds
PAIR_OFFSET = 100_000              # preference pairs: 100 000 + data.seed · 10 000 + i
CANDIDATES_PER_SEED = 100          # best-of-N winners: candidate c of pair seed s has seed s · 100 + c
VALIDATION_OFFSET = 1_500_000_000  # validation during training: above every candidate seed, below evaluation's
SPLIT_SIZE = 40_000_000            # seeds per evaluation split
# evaluation samples, per split: above every pair and candidate seed, below 2^31 (dev: the seeds of the
# single evaluation set that came before the splits, on which every earlier setting was chosen)
SPLIT_OFFSETS = {"dev": 2_000_000_000, "test": 2_000_000_000 + SPLIT_SIZE, "replication": 2_000_000_000 + 2 * SPLIT_SIZE}
SPLITS = ("dev", "test")           # the splits the pipeline samples and evaluates


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


def evaluation_seeds(split: str, count: int) -> range:
    """One distinct seed per evaluation sample of `split` (dev, test or replication), as a range: a
    split's whole span is 40 million seeds."""
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"{split!r} is not an evaluation split; name one of {', '.join(SPLIT_OFFSETS)}")
    if count > SPLIT_SIZE:
        raise ValueError(f"{count} samples do not fit in a split's {SPLIT_SIZE} seeds: use fewer prompts or sample.seeds_per_prompt")
    return range(SPLIT_OFFSETS[split], SPLIT_OFFSETS[split] + count)


def evaluation_samples(prompt_texts: list[str], seeds_per_prompt: int, split: str) -> list[tuple[str, int]]:
    """(prompt, seed) of every sample of `split`: each prompt `seeds_per_prompt` times, in turn, every
    sample with its own seed."""
    repeated = [p for p in prompt_texts for _ in range(seeds_per_prompt)]
    return list(zip(repeated, evaluation_seeds(split, len(repeated))))
