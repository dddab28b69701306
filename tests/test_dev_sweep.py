"""The rule scripts/dev_sweep.py chooses a setting by: the lowest dev warping error among the
candidates that keep the video."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))

from dev_sweep import choose, keeps_the_video  # noqa: E402


def report(warping_error=-0.05, motion=0.0, travel=0.0, contrast=0.0, adherence_points=0.0) -> dict:
    change = {key: {"relative": value, "ci95": [value - 0.02, value + 0.02]}
              for key, value in dict(warping_error=warping_error, motion=motion, travel=travel, contrast=contrast).items()}
    return {"base": {"adherence": 0.9}, "methods": {"m": {"change": change, "means": {"adherence": 0.9 + adherence_points / 100}}}}


def test_each_guard_fails_past_its_limit_and_holds_within_it():
    assert all(keeps_the_video(report(motion=0.09, travel=-0.09, contrast=0.049, adherence_points=-1.9), "m").values())
    for broken, guard in ((dict(motion=-0.11), "motion"), (dict(travel=0.12), "travel"), (dict(contrast=0.06), "contrast"),
                          (dict(adherence_points=-2.5), "adherence")):
        kept = keeps_the_video(report(**broken), "m")
        assert not kept[guard] and all(value for name, value in kept.items() if name != guard), (broken, kept)


def test_the_rule_takes_the_lowest_warping_error_among_candidates_that_keep_the_video():
    runs = {name: {"change": report(**values)["methods"]["m"]["change"], "guards": keeps_the_video(report(**values), "m")}
            for name, values in {
                "committed": dict(warping_error=-0.03),
                "steadier but frozen": dict(warping_error=-0.20, travel=-0.15),
                "steadier": dict(warping_error=-0.06, motion=0.05),
                "worse": dict(warping_error=0.02),
            }.items()}
    assert choose(runs) == "steadier"
    del runs["steadier"], runs["committed"], runs["worse"]
    assert choose(runs) is None  # nothing keeps the video: nothing is chosen
