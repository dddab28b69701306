"""Evaluation samples are independent draws that never reuse the noise of a preview or a training pair."""

from videodpo import seeds
from videodpo.config import DataSettings, PreviewSettings
from videodpo.toyworld import all_captions


def _largest(field_owner, name: str) -> int:
    return next(m.le for m in field_owner.model_fields[name].metadata if hasattr(m, "le"))


def test_seed_ranges_do_not_meet_for_any_allowed_setting():
    most_previews = len(all_captions()) * _largest(PreviewSettings, "seeds_per_caption")
    highest_data_seed, most_pairs = _largest(DataSettings, "seed"), _largest(DataSettings, "num_pairs")
    most_candidates = _largest(DataSettings, "candidates_per_pair")
    preview = seeds.preview_seeds(most_previews)
    lowest_pair = seeds.pair_seeds(0, 1)[0]
    highest_pair = seeds.pair_seeds(highest_data_seed, most_pairs)[-1]
    highest_candidate = seeds.candidate_seeds(highest_pair, most_candidates)[-1]
    evaluation = seeds.evaluation_seeds(10_000)
    assert max(preview) < lowest_pair
    assert max(highest_pair, highest_candidate) < min(evaluation)


def test_every_evaluation_sample_has_its_own_seed():
    from stage_scripts import load_stage

    stage = load_stage("sample")
    held_out = [f"prompt {i}" for i in range(12)]
    samples = stage.evaluation_samples(held_out, 6)
    assert len(samples) == 72 and len({seed for _, seed in samples}) == 72
    assert [prompt for prompt, _ in samples[::6]] == held_out and {prompt for prompt, _ in samples[:6]} == {"prompt 0"}
