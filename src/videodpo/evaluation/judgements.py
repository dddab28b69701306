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


# ---- Budget curves: each claim read from the curves by a rule fixed before the runs (scripts/budget_curves.py).
# A curve is {budget: [each training seed's change from the base (measure → {"relative", "ci95"})]}, budgets
# being pairs (the labelled methods and dpo) or reward queries (vader, grpo). A figure "within" or "beyond" a
# method's spread reads its training seeds' lowest and highest values: one seed's figure moves by more than the
# test interval (docs/results.md, training seeds), so a difference inside that spread is not told apart.

MOTION_MEASURES = ("motion", "travel")  # flow's motion and the oracle's travel: the video's motion, by two readers


@dataclass(frozen=True)
class Verdict:
    """A claim, the rule that reads it, and what the curves say: `supported` yes or no, the budgets at which
    the rule's test holds, and the figures behind it in words."""

    claim: str
    rule: str
    supported: bool
    budgets: tuple = ()
    detail: str = ""
    where: str = "holds at"  # what the budgets listed are


def seed_values(runs: list[dict], measure: str = "warping_error") -> list[float]:
    return [run[measure]["relative"] for run in runs]


def seed_mean(runs: list[dict], measure: str = "warping_error") -> float:
    values = seed_values(runs, measure)
    return sum(values) / len(values)


def seed_spread(runs: list[dict], measure: str = "warping_error") -> tuple[float, float]:
    values = seed_values(runs, measure)
    return min(values), max(values)


def shared_budgets(*curves: dict) -> list:
    return sorted(set.intersection(*(set(curve) for curve in curves)))


def percent_list(values) -> str:
    return ", ".join(f"{100 * value:+.1f} %" for value in values)


THIRD_OF_THE_LABELS = (
    "DenseDPO with a third of the labels matches vanilla DPO with all of them",
    "at every pair count, dense_dpo_third's mean warping-error change over its training seeds (a third of vanilla_dpo's "
    "labels) is no higher than vanilla_dpo's highest seed (all of its labels). A pair count where either has no finished "
    "run (its stage failed on every seed, e.g. the labeller tied every pair) is one where it does not hold",
)


def unfinished_cells(unfinished: dict) -> list[str]:
    """`unfinished`: {budget: why a method of the claim has no finished run there} → the detail's words."""
    return [f"{budget}: no finished run ({why})" for budget, why in sorted(unfinished.items())]


def third_of_the_labels(vanilla: dict, third: dict, unfinished: dict | None = None) -> Verdict:
    """`unfinished`: {pair count: why vanilla_dpo or dense_dpo_third has no finished run there}."""
    holds, cells = [], []
    for budget in shared_budgets(vanilla, third):
        mean, (low, high) = seed_mean(third[budget]), seed_spread(vanilla[budget])
        if mean <= high:
            holds.append(budget)
        cells.append(f"{budget}: {100 * mean:+.1f} % against {100 * low:+.1f} … {100 * high:+.1f} %")
    budgets = shared_budgets(vanilla, third)
    cells += unfinished_cells(unfinished or {})
    return Verdict(*THIRD_OF_THE_LABELS, supported=bool(budgets) and len(holds) == len(budgets) and not unfinished,
                   budgets=tuple(holds), detail="; ".join(cells))


DENSE_KEEPS_MOTION = (
    "DenseDPO keeps motion where vanilla DPO loses it",
    "vanilla_dpo loses motion at a pair count where a motion measure (flow's motion or the oracle's travel) falls with its 95 % "
    "interval below zero on every training seed; dense_dpo keeps it there when its seed mean of that measure lies above "
    "vanilla_dpo's highest seed, and does not keep it where it has no finished run. Supported when vanilla_dpo loses motion "
    "somewhere and dense_dpo keeps it wherever it does",
)


def dense_keeps_motion(vanilla: dict, dense: dict, unfinished: dict | None = None) -> Verdict:
    """`unfinished`: {pair count: why dense_dpo has no finished run there}."""
    losses, kept, cells = [], [], []
    for budget in sorted(vanilla):
        lost = [m for m in MOTION_MEASURES if all(run[m]["ci95"][1] < 0 for run in vanilla[budget])]
        if not lost:
            continue
        if budget not in dense:
            if budget in (unfinished or {}):
                losses.append(budget)
                cells += unfinished_cells({budget: unfinished[budget]})
            continue
        losses.append(budget)
        if all(seed_mean(dense[budget], m) > seed_spread(vanilla[budget], m)[1] for m in lost):
            kept.append(budget)
        cells.append(f"{budget}: " + ", ".join(f"{m} vanilla {percent_list(seed_values(vanilla[budget], m))}, dense mean "
                                                 f"{100 * seed_mean(dense[budget], m):+.1f} %" for m in lost))
    if not losses:
        return Verdict(*DENSE_KEEPS_MOTION, supported=False, detail="vanilla_dpo loses no motion at any pair count on every seed: nothing to keep")
    return Verdict(*DENSE_KEEPS_MOTION, supported=len(kept) == len(losses), budgets=tuple(kept), detail="; ".join(cells),
                   where=f"vanilla_dpo loses motion at {', '.join(map(str, losses))}; dense_dpo keeps it at")


MORE_PAIRS = (
    "Synthetic losers keep paying as pairs grow (dpo)",
    "dpo's highest warping-error change over its training seeds at the largest pair count lies below its lowest at the "
    "smallest; the budgets listed are those whose seed mean lies below every seed of the budget before it (a doubling that still paid)",
)


def more_pairs_help(dpo: dict) -> Verdict:
    budgets = sorted(dpo)
    if len(budgets) < 2:
        return Verdict(*MORE_PAIRS, supported=False, detail="fewer than two pair counts")
    paid = [later for earlier, later in zip(budgets, budgets[1:]) if seed_mean(dpo[later]) < seed_spread(dpo[earlier])[0]]
    supported = seed_spread(dpo[budgets[-1]])[1] < seed_spread(dpo[budgets[0]])[0]
    detail = "; ".join(f"{budget}: mean {100 * seed_mean(dpo[budget]):+.1f} % (seeds {percent_list(seed_values(dpo[budget]))})" for budget in budgets)
    return Verdict(*MORE_PAIRS, supported=supported, budgets=tuple(paid), detail=detail, where="doublings that paid, up to")


PER_QUERY = (
    "VADER buys more flicker cut per reward query than GRPO",
    "at every reward-query budget both ran, vader's highest warping-error change over its training seeds lies below grpo's "
    "lowest; budgets listed where it does. Where their spreads overlap the two are not told apart",
)


def ahead_per_query(vader: dict, grpo: dict) -> Verdict:
    ahead, cells = [], []
    for budget in shared_budgets(vader, grpo):
        (_, vader_high), (grpo_low, grpo_high) = seed_spread(vader[budget]), seed_spread(grpo[budget])
        vader_low = seed_spread(vader[budget])[0]
        state = "vader ahead" if vader_high < grpo_low else "grpo ahead" if grpo_high < vader_low else "not told apart"
        if state == "vader ahead":
            ahead.append(budget)
        cells.append(f"{budget}: vader {100 * seed_mean(vader[budget]):+.1f} %, grpo {100 * seed_mean(grpo[budget]):+.1f} % ({state})")
    budgets = shared_budgets(vader, grpo)
    return Verdict(*PER_QUERY, supported=bool(budgets) and len(ahead) == len(budgets), budgets=tuple(ahead), detail="; ".join(cells),
                   where="vader ahead at")


PER_SECOND = (
    "VADER buys more flicker cut per second of training than GRPO",
    "each method's points (seed means of warping-error change and of training seconds) against the other's curve at the same "
    "seconds, interpolated in log seconds where the other reached them: supported when vader lies below grpo at every such point",
)


def interpolate_log(points: list[tuple[float, float]], seconds: float) -> float | None:
    """The curve through `points` (seconds, value; sorted by seconds) at `seconds`, linear in log seconds; None outside it."""
    import math

    for (s0, v0), (s1, v1) in zip(points, points[1:]):
        if s0 <= seconds <= s1:
            share = 0.0 if s1 == s0 else (math.log(seconds) - math.log(s0)) / (math.log(s1) - math.log(s0))
            return v0 + share * (v1 - v0)
    return points[0][1] if len(points) == 1 and points[0][0] == seconds else None


def ahead_per_second(vader: dict, grpo: dict, vader_seconds: dict, grpo_seconds: dict) -> Verdict:
    """`*_seconds`: {budget: mean training seconds over the seeds}."""
    curves = {name: sorted((seconds[b], seed_mean(curve[b])) for b in curve)
              for name, curve, seconds in (("vader", vader, vader_seconds), ("grpo", grpo, grpo_seconds))}
    comparisons, cells = [], []
    for name, other in (("vader", "grpo"), ("grpo", "vader")):
        for seconds, value in curves[name]:
            theirs = interpolate_log(curves[other], seconds)
            if theirs is None:
                continue
            vader_value, grpo_value = (value, theirs) if name == "vader" else (theirs, value)
            comparisons.append(vader_value < grpo_value)
            cells.append(f"{seconds:.0f} s: vader {100 * vader_value:+.1f} %, grpo {100 * grpo_value:+.1f} %")
    if not comparisons:
        return Verdict(*PER_SECOND, supported=False, detail="their training seconds do not overlap")
    return Verdict(*PER_SECOND, supported=all(comparisons), detail="; ".join(cells))


HACKED_FROM = (
    "the reward is not hacked at any budget ({method})",
    "a budget is hacked when most training seeds show a hacked reward (hacked_reward_signs: motion rose, or a warping-error "
    "gain that frame difference does not share), or the optimised reward rose in training (its gain above zero) on most "
    "seeds while the held-out warping error did not fall (seed mean not below zero). Supported when no budget is hacked; "
    "the budgets listed are the hacked ones",
)


def hacked_budgets(curve: dict, reward_gains: dict, method: str) -> Verdict:
    """`reward_gains`: {budget: [each seed's gain of the optimised reward in training]} (its last steps less its first)."""
    hacked, cells = [], []
    for budget in sorted(curve):
        runs, gains = curve[budget], reward_gains.get(budget, [])
        signs = sum(bool(hacked_reward_signs(run)[1]) for run in runs)
        rose = sum(gain > 0 for gain in gains)
        held_out_fell = seed_mean(runs) < 0
        if 2 * signs > len(runs) or (2 * rose > len(gains) > 0 and not held_out_fell):
            hacked.append(budget)
        cells.append(f"{budget}: reward rose on {rose} of {len(gains)} seeds, held-out {100 * seed_mean(runs):+.1f} %, hacked signs on {signs}")
    claim, rule = HACKED_FROM
    return Verdict(claim.format(method=method), rule, supported=not hacked, budgets=tuple(hacked), detail="; ".join(cells), where="hacked at")
