import numpy as np
import pytest

from videodpo import pairs, temporal, toyworld


@pytest.fixture()
def clip():
    return toyworld.render_clip(toyworld.Caption("circle", "blue", "right"), np.random.default_rng(0))


def test_noise_jitter_is_reproducible_from_its_seed_and_keeps_shape_and_dtype(clip):
    _, a = pairs.make_jitter_pair(clip, "noise", 0.1, seed=5)
    _, b = pairs.make_jitter_pair(clip, "noise", 0.1, seed=5)
    _, c = pairs.make_jitter_pair(clip, "noise", 0.1, seed=6)
    assert a.dtype == np.uint8 and a.shape == clip.shape
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_noise_jitter_makes_the_loser_flicker_more_than_the_winner(clip):
    winner, loser = pairs.make_jitter_pair(clip, "noise", 0.1, seed=0)
    assert temporal.warping_error(loser) > temporal.warping_error(winner) + 3
    assert temporal.frame_difference(loser) > temporal.frame_difference(winner)


def test_noise_jitter_of_strength_zero_returns_the_clip(clip):
    _, loser = pairs.make_jitter_pair(clip, "noise", 0.0, seed=0)
    assert np.array_equal(loser, clip)


def test_unknown_jitter_method_names_the_key(clip):
    with pytest.raises(ValueError, match="data.jitter_method"):
        pairs.make_jitter_pair(clip, "blur", 0.1, seed=0)
