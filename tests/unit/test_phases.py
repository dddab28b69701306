"""A stage's time by phase (videodpo.core.phases): load and write are timed where they happen, compute is
the rest, a phase inside another counts once, and the tally is written only when asked for."""

import json
import time

import pytest

from videodpo.core import phases


def test_stage_run_writes_each_phase_and_compute_as_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv(phases.PHASES_ENV, str(tmp_path))

    @phases.timed("load")
    def load():
        time.sleep(0.05)
        with phases.phase("write"):  # inside a load: counted as the load, once
            time.sleep(0.05)

    with phases.stage_run("train@wan-dpo"):
        load()
        time.sleep(0.1)
        with phases.phase("write"):
            time.sleep(0.03)
    record = json.loads((tmp_path / "train@wan-dpo.json").read_text())
    assert record["load"] == pytest.approx(0.1, abs=0.03)
    assert record["write"] == pytest.approx(0.03, abs=0.02)
    assert record["compute"] == pytest.approx(0.1, abs=0.03)
    assert record["work"] == pytest.approx(record["load"] + record["write"] + record["compute"], abs=0.003)
    assert record["startup"] > 0


def test_stage_run_writes_nothing_unless_asked_and_restarts_its_tally(tmp_path, monkeypatch):
    monkeypatch.delenv(phases.PHASES_ENV, raising=False)
    with phases.stage_run("sample@wan-base-dev"):
        with phases.phase("load"):
            time.sleep(0.05)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(phases.PHASES_ENV, str(tmp_path))
    with phases.stage_run("sample@wan-base-dev"):
        pass
    assert json.loads((tmp_path / "sample@wan-base-dev.json").read_text())["load"] < 0.01


def test_a_failed_stage_writes_no_tally(tmp_path, monkeypatch):
    monkeypatch.setenv(phases.PHASES_ENV, str(tmp_path))
    with pytest.raises(RuntimeError):
        with phases.stage_run("evaluate@wan-dev"):
            raise RuntimeError("broken input")
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="give one of load, write"):
        with phases.phase("compute"):
            pass


def test_process_age_counts_from_the_start_of_the_interpreter():
    age = phases.process_age()
    assert age is not None and 0 < age < time.time()
    time.sleep(0.05)
    assert phases.process_age() >= age + 0.03


def test_code_imported_late_is_start_up_even_inside_a_load(tmp_path, monkeypatch):
    monkeypatch.setenv(phases.PHASES_ENV, str(tmp_path))
    with phases.stage_run("sample@wan-base-dev"):
        with phases.phase("load"):
            time.sleep(0.05)
            with phases.importing():
                time.sleep(0.1)
        with phases.importing():
            time.sleep(0.05)
    record = json.loads((tmp_path / "sample@wan-base-dev.json").read_text())
    assert record["load"] == pytest.approx(0.05, abs=0.03)
    assert record["compute"] == pytest.approx(0.0, abs=0.03)
    assert record["startup"] >= 0.15
    assert record["work"] == pytest.approx(record["load"] + record["write"] + record["compute"], abs=0.003)
