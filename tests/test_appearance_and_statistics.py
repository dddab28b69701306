import numpy as np
import pytest

from videodpo import appearance, toyworld
from videodpo.statistics import relative_change_ci


@pytest.fixture()
def clip():
    return toyworld.render_clip(toyworld.Caption("square", "red", "left"), np.random.default_rng(0))


def test_washing_a_clip_out_lowers_contrast_and_saturation(clip):
    washed = (clip.astype(float) * 0.4 + 128 * 0.6).astype(np.uint8)
    assert appearance.contrast(washed) < 0.5 * appearance.contrast(clip)
    assert appearance.saturation(washed) < 0.7 * appearance.saturation(clip)


def test_grey_flat_clip_has_no_contrast_and_no_saturation():
    flat = np.full((8, 32, 32, 3), 90, np.uint8)
    assert appearance.contrast(flat) == 0.0 and appearance.saturation(flat) == 0.0


def test_relative_change_and_its_interval_for_a_clear_paired_drop():
    rng = np.random.default_rng(0)
    base = rng.uniform(5, 15, 64)
    aligned = base * 0.7 + rng.normal(0, 0.2, 64)
    result = relative_change_ci(base, aligned)
    assert abs(result["relative"] + 0.3) < 0.02
    low, high = result["ci95"]
    assert low < result["relative"] < high < 0


def test_interval_straddles_zero_when_nothing_changes():
    rng = np.random.default_rng(1)
    base = rng.uniform(5, 15, 64)
    low, high = relative_change_ci(base, base + rng.normal(0, 1, 64))["ci95"]
    assert low < 0 < high


def test_unpaired_inputs_are_rejected():
    with pytest.raises(ValueError, match="paired"):
        relative_change_ci(np.ones(3), np.ones(4))


def test_clip_metrics_report_the_shapes_travel_per_frame_and_nan_outside_the_toy_world():
    import math

    from videodpo import toyworld
    from videodpo.evaluation import clip_metrics

    clip = toyworld.render_clip(toyworld.Caption("square", "red", "up"), np.random.default_rng(0))  # 2 px/frame
    scores = clip_metrics(clip, "a red square moving up", toy=True)
    assert abs(scores["travel"] - 2.0) < 0.2 and scores["adherence"] == 1.0 and scores["dynamic_degree"] == 1.0
    still = clip_metrics(np.repeat(clip[:1], len(clip), axis=0), "a red square moving up", toy=True)
    assert still["travel"] < 0.05 and still["dynamic_degree"] == 0.0
    assert math.isnan(clip_metrics(clip, "a red square moving up", toy=False)["travel"])
