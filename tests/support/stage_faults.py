"""Stages of the micro project killed under the real `dvc repro`: where, how, and what must come out
of the rerun (tests/test_pipeline_faults*.py)."""

import json
import os
import subprocess
from pathlib import Path

import yaml
from micro_project import dvc_env, run

# Where each stage is killed: the first sign of its own work (a progress bar's name, or a training
# checkpoint on disk), plus a random delay; and its outputs that must come out bit-identical (not the
# ones that hold timings). A new kind of stage adds a row (train@<family>-dense_dpo runs train@<family>-dpo's loop).
# Two modules, one per list, so the two workers share them.
STAGES_THAT_WRITE_OUTPUTS = [
    ("base@animatediff", "base: image UNet", ["models/animatediff/base"]),
    ("make_pairs@animatediff-dpo", "make_pairs: winners", ["data/animatediff/pairs/dpo", "metrics/animatediff/pairs_dpo.json"]),
    ("sample@animatediff-dpo-test", "sample: animatediff dpo (test)", ["results/animatediff/samples/test/dpo"]),
    ("evaluate@animatediff-test", "evaluate@animatediff-test: base", ["metrics/animatediff/eval_test.json"]),
]
TRAINING_STAGES = [
    ("train@animatediff-dpo", "models/animatediff/checkpoints/train_dpo/state.json", ["models/animatediff/lora/dpo"]),
    ("train@animatediff-vader", "models/animatediff/checkpoints/train_vader/state.json", ["models/animatediff/lora/vader"]),
    ("train@animatediff-grpo", "models/animatediff/checkpoints/train_grpo/state.json", ["models/animatediff/lora/grpo"]),
]


def locked_hashes(project: Path, stage: str, paths: list[str]) -> dict[str, str]:
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"][stage]
    hashes = {out["path"]: out["md5"] for out in lock.get("outs", [])}
    return {path: hashes[path] for path in paths}


def stage_processes(root: int) -> list[int]:
    """The stage scripts (`python stages/….py`) among the descendants of process `root` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            try:
                argv = (Path("/proc") / str(child) / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(argv) > 1 and argv[1].startswith(b"stages/"):
                found.append(child)
    return found


def repro_killed_at(project: Path, stage: str, marker: str, delay: float, log: Path, signal_number: int) -> bool:
    """`dvc repro --force` of one stage, sent `signal_number` once `marker` shows (in the output, or
    as a file) and `delay` seconds more; whether the signal came before the stage finished. SIGKILL
    goes to DVC and the stage together, as when a machine goes away; SIGTERM to the stage's process
    alone, as a scheduler asks a job to stop (DVC would otherwise end its child itself)."""
    import signal
    import time

    with open(log, "w") as output:
        process = subprocess.Popen(
            ["dvc", "repro", "--force", "--single-item", stage], cwd=project, env=dvc_env(), stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            if (project / marker).exists() if "/" in marker else marker in log.read_text(errors="replace"):
                time.sleep(delay)
                break
            time.sleep(0.02)
        killed = process.poll() is None
        if killed and signal_number == signal.SIGKILL:
            os.killpg(process.pid, signal_number)
        elif killed:
            for pid in stage_processes(process.pid):
                os.kill(pid, signal_number)
        process.wait(timeout=120)
    return killed




def kill_each_and_rerun(project: Path, kill_points: list, logs: Path, seed: int) -> None:
    """SIGKILL (a pre-empted machine) during each stage of `kill_points`: DVC records nothing of the
    killed run, no partial output is left where DVC or a later stage would read it, and `dvc repro`
    then finishes with outputs bit-identical to the uninterrupted run's; training stages resume from
    their last checkpoint and say so. Then `dvc repro` has nothing left to do but redraw the curves."""
    import random
    import signal

    rng = random.Random(seed)
    for stage, marker, compared in kill_points:
        expected = locked_hashes(project, stage, compared)
        lock_before = (project / "dvc.lock").read_text()
        log = logs / f"{stage}.log"
        assert repro_killed_at(project, stage, marker, rng.uniform(0, 0.2), log, signal.SIGKILL), f"{stage} finished first:\n{log.read_text()}"
        assert (project / "dvc.lock").read_text() == lock_before, stage  # nothing of the killed run recorded
        for out in compared:  # DVC cleared the outputs before the run; the stage had not put any in place
            assert not (project / out).exists(), (stage, out)
        out = run(["dvc", "repro", "--force", "--single-item", stage], project)
        if stage.startswith("train@animatediff-"):
            assert "resuming from the checkpoint at step" in out, out
            method = stage.removeprefix("train@animatediff-")
            assert json.loads((project / f"metrics/animatediff/train_{method}.json").read_text())["resumed_from_step"] >= 1
        assert locked_hashes(project, stage, compared) == expected, stage  # bit-identical to the uninterrupted run
        leftovers = [p for p in project.rglob(".*.*") if p.is_dir() and ".dvc" not in p.parts and ".git" not in p.parts]
        assert not leftovers, leftovers  # no staging folder of the killed run remains
    # a retrained method's validation log holds new training seconds: its figure is redrawn, nothing else
    redrawn = run(["dvc", "repro"], project)
    assert {line.split("'")[1] for line in redrawn.splitlines() if line.startswith("Running stage")} <= {"validation_curves"}, redrawn
    assert "up to date" in run(["dvc", "status"], project).lower()
