"""Segment labels: the built-in labellers, the plug-in contract, label budgets and the labels' report."""

import numpy as np
import pytest

from videodpo import toyworld
from videodpo.pairs import labellers


def toy_clip(seed: int = 0) -> np.ndarray:
    caption = toyworld.Caption.parse("a red circle moving right")
    return toyworld.render_clip(caption, np.random.default_rng(seed), size=32, frames=8)


def flickered(clip: np.ndarray, frames: list[int], seed: int = 1) -> np.ndarray:
    """The clip with a different brightness offset in each of `frames`."""
    out = clip.astype(np.int16)
    rng = np.random.default_rng(seed)
    for f in frames:
        out[f] += rng.choice([-40, 40])
    return out.clip(0, 255).astype(np.uint8)


def always_b(clip_a, clip_b, segments):
    """A labeller of the user's own (standing in for a vision-language model): b wins everywhere."""
    return [-1] * len(segments)


def test_segments_cover_the_frames_and_must_divide_them():
    assert labellers.segments(8, 2) == [range(0, 2), range(2, 4), range(4, 6), range(6, 8)]
    assert labellers.segments(8, 8) == [range(0, 8)]
    with pytest.raises(ValueError, match="does not divide 8 frames"):
        labellers.segments(8, 3)


def test_the_warping_error_labeller_blames_only_the_segments_that_flicker():
    clip = toy_clip()
    parts = labellers.segments(8, 2)
    # b flickers in frames 4 and 5 only: segment 2 (frames 4, 5) and segment 3 (its transition 5 → 6) are a's;
    # segments 0 and 1 are identical in both: ties
    labels = labellers.warping_error_labeller(clip, flickered(clip, [4, 5]), parts)
    assert labels == [0, 0, 1, 1]
    assert labellers.warping_error_labeller(flickered(clip, [4, 5]), clip, parts) == [0, 0, -1, -1]


def test_a_gap_within_the_margin_is_a_tie():
    assert labellers.compare_scores(np.array([1.0, 1.0, 2.0]), np.array([1.04, 1.2, 1.0]), margin=0.05) == [0, 1, -1]


def test_the_oracle_labeller_prefers_the_clip_that_shows_its_caption():
    clip = toy_clip()
    wrong_colour = clip.copy()
    foreground = toyworld.foreground_masks(clip)
    wrong_colour[foreground] = [40, 60, 230]  # a blue circle, not a red one
    parts = labellers.segments(8, 4)
    assert labellers.oracle_labeller(wrong_colour, clip, parts, "a red circle moving right") == [-1, -1]


def test_a_labeller_of_ones_own_is_named_by_module_and_function():
    labeller = labellers.resolve("test_labellers:always_b", margin=0.05)
    clip = toy_clip()
    assert labellers.label_pair(labeller, clip, clip, labellers.segments(8, 4)) == [-1, -1]


@pytest.mark.parametrize(
    "name, message",
    [("no_such_module:label", "cannot import 'no_such_module'"), ("test_labellers:no_such_function", "has no function"),
     ("just_a_name", "name a built-in")],
)
def test_a_labeller_that_cannot_be_found_says_what_to_do(name, message):
    with pytest.raises(ValueError, match=message):
        labellers.resolve(name, margin=0.05)


def test_a_labeller_must_return_one_known_label_per_segment():
    clip = toy_clip()
    with pytest.raises(ValueError, match="one of \\+1, 0, -1 per segment"):
        labellers.label_pair(lambda a, b, s: [2] * len(s), clip, clip, labellers.segments(8, 4))
    with pytest.raises(ValueError, match="per segment \\(2\\)"):
        labellers.label_pair(lambda a, b, s: [1], clip, clip, labellers.segments(8, 4))


def test_a_label_budget_asks_for_exactly_that_many_segments():
    mask = labellers.budget_mask(pairs=10, segments_per_pair=4, budget=7, seed=0)
    assert mask.shape == (10, 4) and mask.sum() == 7
    assert np.array_equal(mask, labellers.budget_mask(10, 4, 7, seed=0))
    assert labellers.budget_mask(10, 4, None, seed=0).all()


def test_the_report_counts_labels_and_ties_and_signs_the_motion_bias():
    labels = np.array([[1, -1], [0, 1], [0, 0]])
    asked = np.array([[True, True], [True, True], [False, False]])
    motion_a = np.array([[1.0, 2.0], [5.0, 1.0], [0.0, 0.0]])
    motion_b = np.array([[3.0, 1.0], [5.0, 4.0], [0.0, 0.0]])
    report = labellers.labels_report(labels, asked, motion_a, motion_b)
    assert (report["pairs_made"], report["labels_asked"], report["labels"], report["pairs_kept"]) == (2, 4, 3, 2)
    assert report["tie_rate"] == pytest.approx(0.25) and report["labels_per_pair"] == pytest.approx(1.5)
    # preferred − rejected: (1 − 3), (1 − 2), (1 − 4) → mean −2: the labels favour the clip that moves less
    assert report["motion_bias"] == pytest.approx(-2.0)
