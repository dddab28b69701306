"""The README's check of a flow-rewarded run: a warping-error gain counts as hacking where frame
difference does not share it or motion rises (scripts/readme_results.flow_reward_check)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

from readme_results import flow_reward_check, flow_reward_lines  # noqa: E402


def change(warping_error, frame_difference, motion) -> dict:
    return {key: {"relative": value, "ci95": [value - 0.01, value + 0.01]}
            for key, value in dict(warping_error=warping_error, frame_difference=frame_difference, motion=motion).items()}


def test_a_gain_shared_by_frame_difference_with_motion_kept_is_not_called_hacked():
    line = flow_reward_check("grpo", change(-0.05, -0.04, 0.0))
    assert "no sign of a hacked reward" in line and "signs of" not in line


def test_a_flow_gain_without_a_frame_difference_gain_is_called_hacked():
    line = flow_reward_check("grpo", change(-0.05, 0.0, 0.0))
    assert "signs of a hacked reward" in line and "not shared by frame difference" in line and "motion rose" not in line


def test_rising_motion_is_called_hacked_even_where_frame_difference_fell():
    line = flow_reward_check("grpo", change(-0.05, -0.04, 0.03))
    assert "signs of a hacked reward" in line and "motion rose" in line


def test_no_warping_error_gain_is_neither_a_gain_nor_a_hack():
    line = flow_reward_check("grpo", change(0.02, 0.02, 0.0))
    assert "no warping-error gain" in line and "hacked reward" not in line


def test_only_runs_that_optimised_a_flow_reward_are_checked():
    metrics = {"methods": {"vader": {"change": change(-0.2, -0.2, -0.05)}, "grpo": {"change": change(-0.05, 0.0, 0.0)}}}
    costs = {"vader": {"optimised_rewards": ["brightness", "temporal"]}, "grpo": {"optimised_rewards": ["brightness", "flow_warping"]}}
    lines = flow_reward_lines(metrics, costs)
    assert len(lines) == 1 and lines[0].startswith("`grpo`")
