"""Faults under the real `dvc repro` of the micro project: the stages that make outputs, killed at
random moments (the training stages: test_pipeline_faults_training.py)."""

import pytest
from stage_faults import STAGES_THAT_WRITE_OUTPUTS, kill_each_and_rerun


@pytest.mark.faults
def test_a_stage_killed_at_a_random_moment_leaves_nothing_half_made_and_the_rerun_matches(micro_project, tmp_path):
    """SIGKILL during the base, pairs, sampling and evaluation stages (stage_faults.kill_each_and_rerun):
    nothing half-made is left or recorded, and the rerun's outputs are bit-identical."""
    evaluation = (micro_project / "metrics/animatediff/eval_test.json").read_bytes()
    kill_each_and_rerun(micro_project, STAGES_THAT_WRITE_OUTPUTS, tmp_path, seed=14)
    assert (micro_project / "metrics/animatediff/eval_test.json").read_bytes() == evaluation
