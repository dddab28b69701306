"""The stage profile's bookkeeping (benchmarks/stage_profile.py): each stage's wall time read from a
timestamped `dvc repro` log, stage names grouped by kind, and the rows it sums from the stages' tallies."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

import stage_profile  # noqa: E402


def test_each_stage_runs_from_its_line_to_the_next_stage_and_the_last_to_the_end_of_the_log(tmp_path):
    log = tmp_path / "repro.log"
    log.write_text(
        "100.0 Running stage 'base@wan':\n"
        "100.1 > PYTHONPATH=src python stages/base.py wan\n"
        "not a timestamped line\n"
        "130.5 Running stage 'sample_base@wan-dev':\n"
        "131.0 sampling: 100%\n"
        "140.0 Updating lock file 'dvc.lock'\n"
    )
    assert stage_profile.stage_walls(stage_profile.timed_lines(log)) == {"base@wan": pytest.approx(30.5), "sample_base@wan-dev": pytest.approx(9.5)}


@pytest.mark.parametrize(
    ("stage", "kind"),
    [
        ("train@wan-dense_dpo_third", ("train", "wan", "dense_dpo_third")),
        ("sample@animatediff-vanilla_dpo-test", ("sample", "animatediff", "vanilla_dpo")),
        ("sample_base@wan-dev", ("sample_base", "wan", "")),
        ("evaluate@wan-test", ("evaluate", "wan", "")),
        ("validation_curves", ("validation_curves", "", "")),
    ],
)
def test_stage_names_group_by_kind_family_and_method_whatever_the_split(stage, kind):
    assert stage_profile.kind_of(stage) == kind


def test_rows_sum_the_runs_of_a_kind_and_leave_dvc_what_the_tallies_do_not_hold(tmp_path):
    for split, compute in (("dev", 10.0), ("test", 12.0)):
        record = {"stage": f"sample@wan-dpo-{split}", "startup": 6.0, "load": 1.0, "write": 0.5, "compute": compute, "work": compute + 1.5}
        (tmp_path / f"sample@wan-dpo-{split}.json").write_text(json.dumps(record))
    (tmp_path / "sample@wan-dpo-dev.rank1.json").write_text(json.dumps({**record, "compute": 99.0}))  # another process's: not summed
    tallies = stage_profile.read_tallies(tmp_path)
    walls = {"sample@wan-dpo-dev": 20.0, "sample@wan-dpo-test": 22.0}
    [row] = stage_profile.profile(tallies, walls, tmp_path, floors=False)
    assert (row["kind"], row["family"], row["method"], row["runs"]) == ("sample", "wan", "dpo", 2)
    assert row["compute"] == pytest.approx(22.0) and row["startup"] == pytest.approx(12.0)
    assert row["dvc_overhead"] == pytest.approx(42.0 - 12.0 - 2.0 - 22.0 - 1.0)
