"""The base-seed benchmark's bookkeeping (benchmarks/base_seeds.py): a seed's row read from a preview
report, and the seeds' spread held against the bars of a robust base."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

import base_seeds  # noqa: E402


def report(shape: float, colour: float, warping: float) -> dict:
    """A preview report in metrics/<family>/base.json's layout."""
    oracle = {"shape": shape, "colour": colour, "direction": 0.5, "colour_and_direction": 0.5}
    return {
        split: {
            "n_samples": 24,
            "oracle": oracle,
            "samples": {"frame_difference": 6.0, "warping_error": warping, "motion": 1.2},
            "ground_truth": {"frame_difference": 3.9, "warping_error": 0.001, "motion": 1.0},
            "vae_psnr_db": 30.0,
        }
        for split in ("train", "held_out")
    }


def test_a_seed_row_takes_the_held_out_oracle_and_flicker_and_the_training_oracle():
    row = base_seeds.seed_row(report(0.75, 1.0, 2.5), minutes=8.44)
    assert row["minutes"] == 8.4
    assert row["held_out"] == {"shape": 0.75, "colour": 1.0, "direction": 0.5, "frame_difference": 6.0, "warping_error": 2.5, "motion": 1.2}
    assert row["train"] == {"shape": 0.75, "colour": 1.0, "direction": 0.5}
    assert row["ground_truth_warping_error"] == 0.001 and row["vae_psnr_db"] == 30.0


def test_seeds_within_the_bars_pass_and_the_spread_is_measured_from_their_mean():
    rows = {str(seed): base_seeds.seed_row(report(shape, 1.0, warping), 8.0)
            for seed, (shape, warping) in enumerate([(0.90, 2.0), (0.94, 2.2), (0.86, 2.1)])}
    spread = base_seeds.spread(rows)
    assert spread["held_out_shape_mean"] == pytest.approx(0.90)
    assert spread["held_out_shape_points_from_mean"] == pytest.approx(4.0)
    assert spread["warping_error_share_from_mean"] == pytest.approx(0.1 / 2.1, abs=1e-4)
    assert spread["within_bars"] == {"shape": True, "warping_error": True, "colour": True}


@pytest.mark.parametrize(
    ("seeds", "failed"),
    [
        ([(0.90, 1.0, 2.0), (0.70, 1.0, 2.0), (0.90, 1.0, 2.0)], "shape"),          # one seed 13 points under the mean
        ([(0.90, 1.0, 2.0), (0.90, 1.0, 2.8), (0.90, 1.0, 2.0)], "warping_error"),  # one seed 22 % over the mean
        ([(0.90, 1.0, 2.0), (0.90, 0.96, 2.0), (0.90, 1.0, 2.0)], "colour"),        # one seed under 98 %
    ],
)
def test_a_seed_outside_a_bar_fails_that_bar_alone(seeds, failed):
    rows = {str(i): base_seeds.seed_row(report(*seed), 8.0) for i, seed in enumerate(seeds)}
    bars = base_seeds.spread(rows)["within_bars"]
    assert [name for name, ok in bars.items() if not ok] == [failed]


def test_the_same_figures_match_whatever_the_minutes_and_a_last_digit_does_not():
    committed = {**base_seeds.seed_row(report(0.75, 1.0, 2.5), 8.4), "from": "committed metrics (dvc.lock)"}
    again = {**base_seeds.seed_row(report(0.75, 1.0, 2.5), 9.9), "from": "pretrained by this benchmark"}
    assert base_seeds.same_figures(again, committed)
    moved = base_seeds.seed_row(report(0.75, 1.0, 2.5 + 1e-12), 8.4)
    assert not base_seeds.same_figures(moved, committed)


def test_the_table_says_how_a_seed_ran_when_its_row_has_a_note():
    sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))
    import readme_results

    rows = {str(seed): {**base_seeds.seed_row(report(0.9, 1.0, 2.0), 8.0), "from": "pretrained by this benchmark"} for seed in range(2)}
    rows["1"]["note"] = "beside seed 2, one thread each"
    table = readme_results.base_seeds_table({"cpu_kind": "a CPU", "families": {"wan": {"seeds": rows, "spread": base_seeds.spread(rows)}}})
    [first, second] = [line for line in table.splitlines() if line.startswith("| wan | 0") or line.startswith("| wan | 1")]
    assert first.startswith("| wan | 0 | 8.0 |") and second.startswith("| wan | 1 (beside seed 2, one thread each) | 8.0 |")
