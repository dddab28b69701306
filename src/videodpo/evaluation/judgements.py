"""What counts as an improvement, in one place: the bar a method's test figures must clear, the guards a
candidate must keep to be chosen on a dev split, and the rule that reads a hacked flow reward.

Every judgement is a pure function of changes against the base as evaluation.comparison.compare
reports them: per measure, {"relative": change of the mean, "ci95": [low, high]}, and the means
(adherence is judged in points, the base's share minus the method's). The README generator,
scripts/dev_sweep.py, scripts/reward_budget.py and the tests all judge through here, and the docs
quote these numbers through the generator.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """What one measure's relative change must do: fall by at least `share`, its whole interval below
    zero (`cut`), or stay within ±`share` (`kept`)."""

    measure: str
    label: str
    kind: str  # cut | kept
    share: float

    def met(self, change: dict) -> bool:
        if self.kind == "cut":
            return change["relative"] <= -self.share and change["ci95"][1] < 0
        return abs(change["relative"]) <= self.share

    def text(self) -> str:
        if self.kind == "cut":
            return "down, CI below zero" if self.share == 0 else f"−{100 * self.share:.0f} % or better, CI below zero"
        return f"within ±{100 * self.share:.0f} %"


ADHERENCE_POINTS = 2.0  # the largest fall in adherence (oracle: colour and shape right), in points
BAR = (  # a real improvement: less flicker by two measures, with motion, contrast and adherence kept
    Limit("warping_error", "warping error", "cut", 0.35),
    Limit("frame_difference", "frame difference", "cut", 0.25),
    Limit("motion", "motion", "kept", 0.10),
    Limit("contrast", "contrast", "kept", 0.05),
)
GUARDS = (  # what a candidate chosen on dev must keep: the video's motion (by flow and by the oracle) and its look
    Limit("motion", "motion", "kept", 0.10),
    Limit("travel", "travel", "kept", 0.10),
    Limit("contrast", "contrast", "kept", 0.05),
)
# the Wan recipe's goal (docs/wan.md): less flicker than the bar asks, with the video kept as the dev guards keep it
RECIPE_GOAL = (
    Limit("warping_error", "warping error", "cut", 0.15),
    Limit("frame_difference", "frame difference", "cut", 0.0),
    *GUARDS,
)
FLOW_REWARDS = ("flow_warping",)  # rewards read off DIS optical flow: a policy can please the flow rather than steady the clip


def adherence_points(report: dict, method: str) -> float | None:
    """The method's adherence minus the base's, in points (None where the family has no oracle)."""
    if "adherence" not in report["base"]:
        return None
    return 100 * (report["methods"][method]["means"]["adherence"] - report["base"]["adherence"])


def adherence_kept(points: float | None) -> bool:
    return points is None or points >= -ADHERENCE_POINTS


def adherence_text() -> str:
    return f"at most {ADHERENCE_POINTS:g} points below base"


def limit_checks(report: dict, method: str, limits: tuple[Limit, ...]) -> dict[str, bool]:
    """Per limit (and adherence), whether `method` meets it in this report."""
    change = report["methods"][method]["change"]
    checks = {limit.measure: limit.met(change[limit.measure]) for limit in limits}
    checks["adherence"] = adherence_kept(adherence_points(report, method))
    return checks


def bar_checks(report: dict, method: str) -> dict[str, bool]:
    """Per line of the bar (and adherence), whether `method` meets it in this report."""
    return limit_checks(report, method, BAR)


def recipe_goal_checks(report: dict, method: str) -> dict[str, bool]:
    """Per line of the recipe goal (and adherence), whether `method` meets it in this report."""
    return limit_checks(report, method, RECIPE_GOAL)


def recipe_goal_text() -> str:
    return ", ".join(f"{limit.label} {limit.text()}" for limit in RECIPE_GOAL) + f", adherence {adherence_text()}"


def keeps_the_video(report: dict, method: str) -> dict[str, bool]:
    """Per guard, whether `method`'s change from the base in one evaluation report stays within it."""
    change = report["methods"][method]["change"]
    kept = {guard.measure: guard.met(change[guard.measure]) for guard in GUARDS if guard.measure in change}
    points = adherence_points(report, method)
    if points is not None:
        kept["adherence"] = adherence_kept(points)
    return kept


def choose(runs: dict[str, dict]) -> str | None:
    """The dev sweeps' rule: the lowest dev warping error among the candidates that keep the video
    (each run: {"change": …, "guards": keeps_the_video(…)})."""
    kept = [name for name, run in runs.items() if all(run["guards"].values())]
    return min(kept, key=lambda name: runs[name]["change"]["warping_error"]["relative"], default=None)


def hacked_reward_signs(change: dict) -> tuple[bool, list[str]]:
    """(whether warping error fell, the signs that a flow reward was pleased rather than the clip
    steadied): a warping-error gain (interval below zero) that frame difference, which reads no flow,
    does not share, or motion (flow magnitude) rising."""
    gain = change["warping_error"]["ci95"][1] < 0
    signs = [sign for sign, shown in (("motion rose", change["motion"]["ci95"][0] > 0),
                                      ("the warping-error gain is not shared by frame difference",
                                       gain and change["frame_difference"]["ci95"][1] >= 0)) if shown]
    return gain, signs


def bar_text() -> str:
    """The bar in words."""
    cuts = " and ".join(f"{target.label} {target.text().replace(', CI below zero', '')}" for target in BAR if target.kind == "cut")
    kept = ", ".join(f"{target.label} {target.text()}" for target in BAR if target.kind == "kept")
    return f"{cuts} against the base, each with its 95 % CI below zero, with {kept} and adherence {adherence_text()}"


def guards_text() -> str:
    """The dev sweeps' guards and rule in words."""
    kept = ", ".join(f"{guard.label} {guard.text()}" for guard in GUARDS)
    return f"the lowest dev warping error among the candidates with {kept} and adherence {adherence_text()}"
