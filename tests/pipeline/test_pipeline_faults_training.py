"""Faults under the real `dvc repro` of the micro project: training stages killed at random moments,
and asked to stop by SIGTERM."""

import signal

import pytest
from micro_project import run
from stage_faults import TRAINING_STAGES, kill_each_and_rerun, repro_killed_at


@pytest.mark.faults
def test_a_training_stage_killed_at_a_random_moment_resumes_and_ends_bit_identical(micro_project, tmp_path):
    """SIGKILL during DPO's and VADER's training (stage_faults.kill_each_and_rerun): each rerun resumes
    from its last checkpoint, says so, and saves the LoRA of the uninterrupted run."""
    kill_each_and_rerun(micro_project, TRAINING_STAGES, tmp_path, seed=15)


@pytest.mark.faults
def test_sigterm_during_training_saves_a_checkpoint_that_the_rerun_resumes_from(micro_project, tmp_path):
    """A scheduler asks the job to stop (SIGTERM to the stage alone): the stage saves a checkpoint and
    says so; the rerun resumes from it and the evaluation is the uninterrupted run's."""
    evaluation = (micro_project / "metrics/animatediff/eval_test.json").read_bytes()
    log = tmp_path / "sigterm.log"
    assert repro_killed_at(micro_project, "train@animatediff-dpo", "models/animatediff/checkpoints/train_dpo/state.json", 0.0, log, signal.SIGTERM)
    assert "stopped by SIGTERM after step" in log.read_text(), log.read_text()
    assert (micro_project / "models/animatediff/checkpoints/train_dpo/state.json").is_file()
    assert "resuming from the checkpoint" in run(["dvc", "repro", "--force", "--single-item", "train@animatediff-dpo"], micro_project)
    run(["dvc", "repro"], micro_project)  # validation_curves reads the training curves, whose timings changed
    assert "up to date" in run(["dvc", "status"], micro_project).lower()
    assert (micro_project / "metrics/animatediff/eval_test.json").read_bytes() == evaluation
