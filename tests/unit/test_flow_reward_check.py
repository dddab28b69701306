"""The README's check of a flow-rewarded run (scripts/readme_results.flow_reward_check): which runs it
reads, and how it words the verdict of videodpo.evaluation.judgements.hacked_reward_signs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

from readme_results import flow_reward_check, flow_reward_lines  # noqa: E402


def change(warping_error, frame_difference, motion) -> dict:
    return {key: {"relative": value, "ci95": [value - 0.01, value + 0.01]}
            for key, value in dict(warping_error=warping_error, frame_difference=frame_difference, motion=motion).items()}


def test_the_verdict_names_each_sign_and_quotes_the_figures():
    hacked = flow_reward_check("grpo", change(-0.05, 0.0, 0.03))
    assert hacked.startswith("`grpo` (warping error -5.0 % [-6.0, -4.0]") and "**signs of a hacked reward**: motion rose and the warping-error gain" in hacked
    assert "no sign of a hacked reward" in flow_reward_check("grpo", change(-0.05, -0.04, 0.0))
    assert "no warping-error gain" in flow_reward_check("grpo", change(0.02, 0.02, 0.0))


def test_only_runs_that_optimised_a_flow_reward_are_checked():
    metrics = {"methods": {"vader": {"change": change(-0.2, -0.2, -0.05)}, "grpo": {"change": change(-0.05, 0.0, 0.0)}}}
    costs = {"vader": {"optimised_rewards": ["brightness", "temporal"]}, "grpo": {"optimised_rewards": ["brightness", "flow_warping"]}}
    lines = flow_reward_lines(metrics, costs)
    assert len(lines) == 1 and lines[0].startswith("`grpo`")
