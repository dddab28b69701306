"""A method that is not in the project runs its branch through the real `dvc repro` with no edit to
any project file (its module, its params section and its name in `methods`); and a change to one
step's code reruns only the stages whose steps run it."""

import json
import shutil
from pathlib import Path

import pytest
import yaml
from micro_project import run

TEST_METHODS = Path(__file__).parents[1] / "fixtures"


def git_changes(project: Path) -> set[str]:
    """Project files changed or added since the micro project's commit (DVC's outputs are ignored or
    committed metrics; the lock is DVC's record of the run)."""
    out = run(["git", "status", "--porcelain", "--untracked-files=all"], project)
    paths = {line[3:] for line in out.splitlines()}
    return {path for path in paths if not path.startswith(("metrics/", "plots/")) and path != "dvc.lock"}


@pytest.mark.slow
def test_a_change_to_the_dpo_training_code_reruns_the_dpo_training_stages_alone(micro_project):
    """objectives.py holds the DPO losses: the settings stages rewrite the code digests of the steps
    that run it (dpo's train step, not its pairs or latents, nothing of vader's), and DVC finds
    nothing else to rerun. (settings@animatediff-dense_dpo, not rerun here, would show train@animatediff-dense_dpo too.)"""
    settings = ["dvc", "repro", "--single-item", "settings@animatediff-dpo", "settings@animatediff-vader"]  # a DPO method and one that is not
    objectives = micro_project / "src/videodpo/training/objectives.py"
    committed = objectives.read_text()
    objectives.write_text(committed + "\n# a change\n")
    try:
        run(settings, micro_project)
        changed = yaml.safe_load(run(["dvc", "status", "--json"], micro_project))
    finally:
        objectives.write_text(committed)
        run(settings, micro_project)
    assert {stage for stage in changed if not stage.startswith("settings@animatediff-")} == {"train@animatediff-dpo"}, changed
    assert "up to date" in run(["dvc", "status", "train@animatediff-dpo"], micro_project).lower()


@pytest.mark.slow
def test_a_new_method_runs_its_branch_from_its_module_its_params_section_and_its_name(micro_project):
    from videodpo import families

    shutil.copy(TEST_METHODS / "winner_sft.py", micro_project / "src/videodpo/methods/winner_sft.py")  # 1: its module
    params = yaml.safe_load((micro_project / "params.yaml").read_text())
    params["methods"] = [*params["methods"], "winner_sft"]  # 2: its name in `methods`
    params["winner_sft"] = {"max_steps": 2, "batch_size": 2, "learning_rate": 0.001}  # 3: its params section
    (micro_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert git_changes(micro_project) == {"params.yaml", "src/videodpo/methods/winner_sft.py"}

    out = run(["dvc", "repro", "evaluate@animatediff-test"], micro_project)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    branch = {"settings@animatediff-winner_sft", "make_pairs@animatediff-winner_sft", "encode_latents@animatediff-winner_sft", "train@animatediff-winner_sft", "sample@animatediff-winner_sft-test"}
    assert branch | {"evaluate@animatediff-test"} <= ran, out
    # the other settings stages rerun (they read all params) and write the same files: nothing of their branches reruns
    others = {stage for stage in ran - branch if not stage.startswith("settings@animatediff-") and stage != "evaluate@animatediff-test"}
    assert not others, out
    assert git_changes(micro_project) == {"params.yaml", "src/videodpo/methods/winner_sft.py"}  # no other project file touched

    cost = json.loads((micro_project / "metrics/animatediff/train_winner_sft.json").read_text())
    assert cost["optimizer_steps"] == 2
    validated = (micro_project / "plots/train/animatediff/winner_sft/validation.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in validated] == ["0", "2"]  # the loop validates at the start and every val_every steps
    families.load_base(micro_project / "models/animatediff/base").load_lora(micro_project / "models/animatediff/lora/winner_sft")
    evaluation = json.loads((micro_project / "metrics/animatediff/eval_test.json").read_text())
    assert list(evaluation["methods"]) == [*params["methods"][:-1], "winner_sft"]
    change = evaluation["methods"]["winner_sft"]["change"]["warping_error"]
    assert change["ci95"][0] <= change["relative"] <= change["ci95"][1]
    assert "up to date" in run(["dvc", "status", "evaluate@animatediff-test"], micro_project).lower()
    not_run = set(yaml.safe_load(run(["dvc", "status", "--json"], micro_project)))  # its dev samples, evaluate@animatediff-dev, the curves

    params["winner_sft"]["learning_rate"] = 0.002  # its own section reruns its training alone
    (micro_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "--single-item", "settings@animatediff-winner_sft", "settings@animatediff-dpo"], micro_project)
    changed = set(yaml.safe_load(run(["dvc", "status", "--json"], micro_project))) - not_run
    assert {stage for stage in changed if not stage.startswith("settings@animatediff-")} == {"train@animatediff-winner_sft"}, changed
