"""What counts as an improvement (videodpo.evaluation.judgements): the dev sweeps' guards and rule, the
bar a method's test figures must clear, and the rule that reads a hacked flow reward."""

from videodpo.evaluation import judgements


def changes(**values) -> dict:
    """Changes against the base, each with an interval two points either side."""
    return {key: {"relative": value, "ci95": [value - 0.02, value + 0.02]} for key, value in values.items()}


def report(warping_error=-0.05, frame_difference=-0.03, motion=0.0, travel=0.0, contrast=0.0, adherence_points=0.0) -> dict:
    change = changes(warping_error=warping_error, frame_difference=frame_difference, motion=motion, travel=travel, contrast=contrast)
    return {"base": {"adherence": 0.9}, "methods": {"m": {"change": change, "means": {"adherence": 0.9 + adherence_points / 100}}}}


def test_each_guard_fails_past_its_limit_and_holds_within_it():
    assert all(judgements.keeps_the_video(report(motion=0.09, travel=-0.09, contrast=0.049, adherence_points=-1.9), "m").values())
    for broken, guard in ((dict(motion=-0.11), "motion"), (dict(travel=0.12), "travel"), (dict(contrast=0.06), "contrast"),
                          (dict(adherence_points=-2.5), "adherence")):
        kept = judgements.keeps_the_video(report(**broken), "m")
        assert not kept[guard] and all(value for name, value in kept.items() if name != guard), (broken, kept)


def test_the_rule_takes_the_lowest_warping_error_among_candidates_that_keep_the_video():
    runs = {name: {"change": report(**values)["methods"]["m"]["change"], "guards": judgements.keeps_the_video(report(**values), "m")}
            for name, values in {
                "committed": dict(warping_error=-0.03),
                "steadier but frozen": dict(warping_error=-0.20, travel=-0.15),
                "steadier": dict(warping_error=-0.06, motion=0.05),
                "worse": dict(warping_error=0.02),
            }.items()}
    assert judgements.choose(runs) == "steadier"
    del runs["steadier"], runs["committed"], runs["worse"]
    assert judgements.choose(runs) is None  # nothing keeps the video: nothing is chosen


def test_the_bar_needs_both_cuts_with_intervals_below_zero_and_the_video_kept():
    assert all(judgements.bar_checks(report(warping_error=-0.40, frame_difference=-0.30), "m").values())
    for short, line in ((dict(warping_error=-0.30), "warping_error"), (dict(frame_difference=-0.20), "frame_difference"),
                        (dict(motion=0.12), "motion"), (dict(contrast=-0.06), "contrast"), (dict(adherence_points=-3.0), "adherence")):
        checks = judgements.bar_checks(report(**{"warping_error": -0.40, "frame_difference": -0.30, **short}), "m")
        assert not checks[line] and all(met for name, met in checks.items() if name != line), (short, checks)
    wide = report(warping_error=-0.40, frame_difference=-0.30)
    wide["methods"]["m"]["change"]["warping_error"]["ci95"] = [-0.9, 0.01]  # a cut whose interval reaches zero
    assert not judgements.bar_checks(wide, "m")["warping_error"]


def test_the_recipe_goal_needs_a_fifteen_percent_cut_frame_difference_down_and_the_video_kept():
    assert all(judgements.recipe_goal_checks(report(warping_error=-0.16, frame_difference=-0.03), "m").values())
    for short, line in ((dict(warping_error=-0.14), "warping_error"), (dict(frame_difference=0.01), "frame_difference"),
                        (dict(warping_error=-0.16, travel=-0.11), "travel"), (dict(warping_error=-0.16, motion=0.11), "motion"),
                        (dict(warping_error=-0.16, contrast=-0.06), "contrast"), (dict(warping_error=-0.16, adherence_points=-3.0), "adherence")):
        checks = judgements.recipe_goal_checks(report(**{"warping_error": -0.16, "frame_difference": -0.03, **short}), "m")
        assert not checks[line] and all(value for name, value in checks.items() if name != line), (short, checks)
    assert "warping error −15 % or better" in judgements.recipe_goal_text() and "frame difference down" in judgements.recipe_goal_text()


def test_a_flow_gain_shared_by_frame_difference_with_motion_kept_shows_no_sign_of_hacking():
    assert judgements.hacked_reward_signs(changes(warping_error=-0.05, frame_difference=-0.04, motion=0.0)) == (True, [])


def test_a_flow_gain_without_a_frame_difference_gain_is_a_sign_of_hacking():
    gain, signs = judgements.hacked_reward_signs(changes(warping_error=-0.05, frame_difference=0.0, motion=0.0))
    assert gain and signs == ["the warping-error gain is not shared by frame difference"]


def test_rising_motion_is_a_sign_of_hacking_even_where_frame_difference_fell():
    assert judgements.hacked_reward_signs(changes(warping_error=-0.05, frame_difference=-0.04, motion=0.03)) == (True, ["motion rose"])


def test_no_warping_error_gain_is_neither_a_gain_nor_a_hack():
    assert judgements.hacked_reward_signs(changes(warping_error=0.02, frame_difference=0.02, motion=0.0)) == (False, [])


def test_the_words_say_the_numbers_the_checks_use():
    bar, guards = judgements.bar_text(), judgements.guards_text()
    for target in judgements.BAR:
        assert f"{target.label} {'−' if target.kind == 'cut' else 'within ±'}{100 * target.share:.0f} %" in bar
    for guard in judgements.GUARDS:
        assert f"{guard.label} within ±{100 * guard.share:.0f} %" in guards
    assert f"at most {judgements.ADHERENCE_POINTS:g} points below base" in bar and "points below base" in guards
