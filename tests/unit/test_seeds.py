"""Evaluation samples are independent draws that never reuse the noise of a preview, a training pair,
a validation clip or a sample of another evaluation split."""

import pytest

from videodpo.core import seeds
from videodpo.training import grpo
from videodpo.config import PreviewSettings
from videodpo.pairs.settings import DataSettings
from videodpo.methods.vader import VaderSettings
from videodpo.methods.grpo import GrpoSettings
from videodpo.toyworld import all_captions


def _largest(field_owner, name: str) -> int:
    return next(m.le for m in field_owner.model_fields[name].metadata if hasattr(m, "le"))


def test_preview_pair_validation_dev_and_test_seeds_never_meet_for_any_allowed_setting():
    """Every range as wide as params.yaml allows (a split holds at most SPLIT_SIZE samples: more are
    refused), and the ranges lie one above the other without touching."""
    most_previews = len(all_captions()) * _largest(PreviewSettings, "seeds_per_caption")
    highest_data_seed = max(_largest(DataSettings, "seed"), _largest(VaderSettings, "seed"), _largest(GrpoSettings, "seed"))
    most_pairs = max(_largest(DataSettings, "num_pairs"), _largest(VaderSettings, "queries"))
    most_candidates = _largest(DataSettings, "candidates_per_pair")
    preview = seeds.preview_seeds(most_previews)
    pairs = [seed for data_seed in (0, highest_data_seed) for seed in seeds.pair_seeds(data_seed, most_pairs)]
    candidates = [c for pair in (min(pairs), max(pairs)) for c in seeds.candidate_seeds(pair, most_candidates)]
    candidates += [c for pair in (min(pairs), max(pairs)) for c in seeds.candidate_seeds(pair, 2)]  # labelled pairs' two clips
    # the clips GRPO samples: their seeds rise with the clip's index up to the millionth, then repeat
    candidates += [*grpo.clip_seeds(0, 0, 1), *grpo.clip_seeds(highest_data_seed, 10**6 - 1, 1)]
    validation = seeds.validation_seeds(1000)
    ranges = [
        ("preview", min(preview), max(preview)),
        ("pairs and candidates", min(pairs + candidates), max(pairs + candidates)),
        ("validation", min(validation), max(validation)),
        *((split, seeds.evaluation_seeds(split, 1)[0], seeds.evaluation_seeds(split, seeds.SPLIT_SIZE)[-1])
          for split in ("dev", "test", "replication")),
    ]
    for (lower, _, top), (upper, bottom, _) in zip(ranges, ranges[1:]):
        assert top < bottom, f"{lower} seeds reach {top}, {upper} seeds start at {bottom}"
    assert ranges[-1][2] < 2**31  # every seed fits a signed 32-bit integer


def test_a_split_refuses_more_samples_than_its_seeds_and_an_unknown_split():
    with pytest.raises(ValueError, match="do not fit"):
        seeds.evaluation_seeds("dev", seeds.SPLIT_SIZE + 1)
    with pytest.raises(ValueError, match="not an evaluation split"):
        seeds.evaluation_seeds("train", 1)


def test_every_evaluation_sample_has_its_own_seed_and_the_splits_share_prompts_not_seeds():
    held_out = [f"prompt {i}" for i in range(12)]
    dev, test = (seeds.evaluation_samples(held_out, 6, split) for split in ("dev", "test"))
    for samples in (dev, test):
        assert len(samples) == 72 and len({seed for _, seed in samples}) == 72
        assert [prompt for prompt, _ in samples[::6]] == held_out and {prompt for prompt, _ in samples[:6]} == {"prompt 0"}
    assert [p for p, _ in dev] == [p for p, _ in test] and not {s for _, s in dev} & {s for _, s in test}

