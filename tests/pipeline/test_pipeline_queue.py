"""A queued experiment of the micro project against the same change run in the workspace."""

import json
import subprocess

import pytest
from micro_project import run


@pytest.mark.faults
def test_a_queued_experiment_gives_the_metrics_of_the_same_run_in_the_workspace(micro_project):
    """`dvc exp run --queue` runs in a temporary copy of the commit, the workspace run in place: the
    same change gives byte-identical metrics in both."""
    import time

    before = (micro_project / "metrics/animatediff/eval_test.json").read_bytes()
    params = micro_project / "params.yaml"
    committed = params.read_text()
    run(["git", "add", "-A"], micro_project)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "the micro run"], micro_project)
    # the test split's evaluation alone reruns (with the settings stages, which write the same files), and its metrics change
    change = ["evaluate@animatediff-test", "-S", "methods=[dpo,vader]"]
    run(["dvc", "exp", "run", "--queue", *change, "-n", "queued"], micro_project)
    run(["dvc", "queue", "start"], micro_project)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = [line.split() for line in run(["dvc", "queue", "status"], micro_project).splitlines()]
        state = next((words[-1] for words in status if "queued" in words), "")
        if state in ("Success", "Failed"):
            break
        time.sleep(2)
    assert state == "Success", run(["dvc", "queue", "logs", "queued"], micro_project)
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], micro_project).split()
    [ref] = [r for r in refs if r.endswith("/queued")]
    queued = subprocess.run(["git", "show", f"{ref}:metrics/animatediff/eval_test.json"], cwd=micro_project, capture_output=True, check=True).stdout
    try:
        run(["dvc", "exp", "run", *change], micro_project)
        workspace = (micro_project / "metrics/animatediff/eval_test.json").read_bytes()
    finally:  # back to the committed params; the run-cache restores their outputs without running
        params.write_text(committed)
        run(["dvc", "repro"], micro_project)
    assert set(json.loads(workspace)["methods"]) == {"dpo", "vader"} and workspace != before
    assert queued == workspace
