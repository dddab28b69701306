import numpy as np
import pytest

from videodpo import toyworld
from videodpo.evaluation import appearance
from videodpo.evaluation.statistics import relative_change_ci


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
    from videodpo.evaluation.comparison import clip_metrics

    clip = toyworld.render_clip(toyworld.Caption("square", "red", "up"), np.random.default_rng(0))  # 2 px/frame
    scores = clip_metrics(clip, "a red square moving up", oracle=True)
    assert abs(scores["travel"] - 2.0) < 0.2 and scores["adherence"] == 1.0 and scores["dynamic_degree"] == 1.0
    still = clip_metrics(np.repeat(clip[:1], len(clip), axis=0), "a red square moving up", oracle=True)
    assert still["travel"] < 0.05 and still["dynamic_degree"] == 0.0
    assert math.isnan(clip_metrics(clip, "a red square moving up", oracle=False)["travel"])


def test_stratified_resamples_keep_every_prompts_share_and_draw_only_within_it():
    from videodpo.evaluation.statistics import bootstrap_picks

    strata = ["a"] * 3 + ["b"] * 5
    picks = bootstrap_picks(8, 200, strata=strata)
    assert picks.shape == (200, 8)
    assert (picks[:, :3] < 3).all() and (picks[:, 3:] >= 3).all()
    assert len(np.unique(picks[:, 3:])) == 5  # every member of a stratum can be drawn


def test_a_change_that_differs_only_between_prompts_has_no_spread_under_stratified_resampling():
    """Within each prompt the change is exact; the plain bootstrap still varies the prompt mix."""
    base = np.array([10.0] * 6 + [2.0] * 6)
    aligned = np.array([8.0] * 6 + [2.0] * 6)  # −20 % on one prompt, none on the other
    strata = ["p"] * 6 + ["q"] * 6
    low, high = relative_change_ci(base, aligned, strata=strata)["ci95"]
    assert abs(low - high) < 1e-12 and abs(low + 2 / 12) < 1e-12
    plain_low, plain_high = relative_change_ci(base, aligned)["ci95"]
    assert plain_high - plain_low > 0.05


def test_compare_reports_the_base_once_and_every_method_against_it():
    from videodpo.evaluation.comparison import METRICS, compare

    def rows(scale: float) -> list[dict]:
        return [{m: scale * (1 + i % 3) for m in METRICS} for i in range(12)]

    result = compare(rows(1.0), {"dpo": rows(0.8), "other": rows(1.1)}, resamples=100, strata=[i // 4 for i in range(12)])
    assert result["n_samples"] == 12 and set(result["methods"]) == {"dpo", "other"}
    assert result["base"]["warping_error"] == pytest.approx(2.0)
    assert result["methods"]["dpo"]["means"]["warping_error"] == pytest.approx(1.6)
    assert result["methods"]["dpo"]["change"]["warping_error"]["relative"] == pytest.approx(-0.2)
    assert result["methods"]["other"]["change"]["motion"]["relative"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="same prompts and seeds"):
        compare(rows(1.0), {"dpo": rows(0.8)[:-1]}, resamples=10)
    assert "not_available" not in result  # every metric defined: the report is as before


def test_compare_lists_a_metric_undefined_for_the_prompts_as_not_available_with_why():
    from videodpo.evaluation.comparison import METRICS, compare

    rows = [{m: float(1 + i % 3) for m in METRICS} | {"travel": float("nan"), "adherence": float("nan")} for i in range(6)]
    result = compare(rows, {"dpo": rows}, resamples=10, reasons={"travel": "toy-world prompts only"})
    assert result["not_available"] == {"travel": "toy-world prompts only", "adherence": "not defined for these prompts"}
    assert "travel" not in result["base"] and "adherence" not in result["methods"]["dpo"]["change"]
    assert result["base"]["warping_error"] == pytest.approx(2.0)
