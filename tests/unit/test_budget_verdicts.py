"""The budget curves' verdicts (videodpo.evaluation.judgements): each rule, fixed before the runs, can
both hold and fail on curves built to sit either side of it."""

from videodpo.evaluation import judgements


def run(warping_error=0.0, frame_difference=0.0, motion=0.0, travel=0.0, width=0.02) -> dict:
    """One training seed's change from the base, each measure with an interval `width` either side."""
    values = dict(warping_error=warping_error, frame_difference=frame_difference, motion=motion, travel=travel)
    return {key: {"relative": value, "ci95": [value - width, value + width]} for key, value in values.items()}


def curve(*per_budget, budgets=(24, 48, 96, 192), **fixed) -> dict:
    """{budget: seeds' runs}: per budget, a tuple of warping-error changes (one per seed)."""
    return {budget: [run(warping_error=value, **fixed) for value in values] for budget, values in zip(budgets, per_budget)}


def test_a_third_of_the_labels_matches_when_its_mean_is_within_or_below_vanillas_spread():
    vanilla = curve((-0.05, -0.02, 0.00), (-0.08, -0.05, -0.04), budgets=(24, 48))
    matching = curve((-0.01, 0.01, -0.01), (-0.10, -0.12, -0.11), budgets=(24, 48))
    verdict = judgements.third_of_the_labels(vanilla, matching)
    assert verdict.supported and verdict.budgets == (24, 48)
    worse = curve((-0.01, 0.01, -0.01), (-0.02, -0.03, -0.01), budgets=(24, 48))  # at 48 above vanilla's highest seed
    verdict = judgements.third_of_the_labels(vanilla, worse)
    assert not verdict.supported and verdict.budgets == (24,)


def test_dense_keeps_motion_only_where_vanilla_loses_it_on_every_seed():
    vanilla = {24: [run(motion=-0.08), run(motion=-0.06), run(motion=-0.10)], 48: [run(motion=-0.01), run(motion=0.0), run(motion=0.01)]}
    keeps = {24: [run(motion=-0.01)] * 3, 48: [run(motion=-0.05)] * 3}  # 48: vanilla lost nothing there, so it is not read
    verdict = judgements.dense_keeps_motion(vanilla, keeps)
    assert verdict.supported and verdict.budgets == (24,)
    loses_too = {24: [run(motion=-0.07)] * 3, 48: keeps[48]}
    assert not judgements.dense_keeps_motion(vanilla, loses_too).supported
    steady = {24: vanilla[48], 48: vanilla[48]}  # vanilla never loses motion: the claim has nothing to stand on
    verdict = judgements.dense_keeps_motion(steady, keeps)
    assert not verdict.supported and "loses no motion" in verdict.detail


def test_more_pairs_help_when_the_largest_budgets_spread_clears_the_smallest():
    falling = curve((-0.02, -0.03, -0.01), (-0.06, -0.05, -0.07), (-0.07, -0.06, -0.08), (-0.12, -0.10, -0.11))
    verdict = judgements.more_pairs_help(falling)
    assert verdict.supported and verdict.budgets == (48, 192)  # 96's mean is inside 48's spread: that doubling did not pay
    flat = curve((-0.02, -0.05, -0.01), (-0.03, -0.04, -0.02), (-0.02, -0.03, -0.04), (-0.04, -0.02, -0.03))
    assert not judgements.more_pairs_help(flat).supported


def test_vader_is_ahead_per_query_only_where_the_seed_spreads_come_apart():
    vader = curve((-0.10, -0.12, -0.11), (-0.20, -0.18, -0.22), budgets=(40, 80))
    grpo = curve((-0.02, -0.01, -0.03), (-0.05, -0.04, -0.06), budgets=(40, 80))
    verdict = judgements.ahead_per_query(vader, grpo)
    assert verdict.supported and verdict.budgets == (40, 80)
    overlapping = curve((-0.02, -0.01, -0.03), (-0.19, -0.25, -0.10), budgets=(40, 80))
    verdict = judgements.ahead_per_query(vader, overlapping)
    assert not verdict.supported and verdict.budgets == (40,) and "not told apart" in verdict.detail


def test_per_second_compares_each_point_with_the_other_curve_at_the_same_seconds():
    vader = curve((-0.10,), (-0.20,), budgets=(40, 80))
    grpo = curve((-0.05,), (-0.15,), budgets=(40, 80))
    vader_seconds, grpo_seconds = {40: 10.0, 80: 40.0}, {40: 20.0, 80: 80.0}
    verdict = judgements.ahead_per_second(vader, grpo, vader_seconds, grpo_seconds)
    assert verdict.supported  # at 20 s vader's curve reads −15 %, grpo −5 %; at 40 s vader −20 %, grpo's curve −10 %
    slower = {40: 40.0, 80: 160.0}  # the same figures at twice grpo's seconds: grpo now gets there first
    verdict = judgements.ahead_per_second(vader, grpo, slower, grpo_seconds)
    assert not verdict.supported
    apart = judgements.ahead_per_second(vader, grpo, {40: 1.0, 80: 2.0}, grpo_seconds)
    assert not apart.supported and "do not overlap" in apart.detail


def test_log_interpolation_meets_the_points_and_halves_a_doubling_in_the_middle():
    points = [(10.0, -0.1), (40.0, -0.3)]
    assert judgements.interpolate_log(points, 10.0) == -0.1 and abs(judgements.interpolate_log(points, 20.0) + 0.2) < 1e-12
    assert judgements.interpolate_log(points, 5.0) is None and judgements.interpolate_log(points, 41.0) is None


def test_a_budget_is_hacked_when_the_reward_rises_and_the_held_out_flicker_does_not_fall():
    honest = curve((-0.05, -0.04, -0.06), (-0.08, -0.07, -0.09), budgets=(40, 80), frame_difference=-0.05)
    gains = {40: [0.1, 0.2, 0.1], 80: [0.3, 0.2, 0.4]}
    verdict = judgements.hacked_budgets(honest, gains, "grpo")
    assert verdict.supported and verdict.budgets == () and "grpo" in verdict.claim
    rising_reward_no_gain = {40: honest[40], 80: [run(warping_error=0.02, frame_difference=0.01)] * 3}
    verdict = judgements.hacked_budgets(rising_reward_no_gain, gains, "grpo")
    assert not verdict.supported and verdict.budgets == (80,)
    flow_pleased = {40: [run(warping_error=-0.10, frame_difference=0.0, motion=0.08)] * 3, 80: honest[80]}  # motion rose on every seed
    verdict = judgements.hacked_budgets(flow_pleased, gains, "vader")
    assert not verdict.supported and verdict.budgets == (40,)


def test_a_pair_count_without_a_finished_run_counts_against_the_claims_read_at_every_pair_count():
    vanilla = curve((-0.05, -0.02, 0.00), (-0.08, -0.05, -0.04), budgets=(24, 48))
    matching_where_it_ran = curve((-0.10, -0.12, -0.11), budgets=(48,))
    verdict = judgements.third_of_the_labels(vanilla, matching_where_it_ran, {24: "the labeller tied every pair"})
    assert not verdict.supported and verdict.budgets == (48,) and "24: no finished run (the labeller tied every pair)" in verdict.detail
    assert judgements.third_of_the_labels(vanilla, matching_where_it_ran).supported  # without the failure the curves agree
    losing = {24: [run(motion=-0.08)] * 3, 48: [run(motion=-0.07)] * 3}
    keeps_where_it_ran = {48: [run(motion=0.01)] * 3}
    verdict = judgements.dense_keeps_motion(losing, keeps_where_it_ran, {24: "the labeller tied every pair"})
    assert not verdict.supported and verdict.budgets == (48,) and "24: no finished run" in verdict.detail
