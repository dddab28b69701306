"""The micro project the pipeline tests run the real `dvc repro` on: a copy of the project's code
with the committed params scaled down (MICRO), built once per test session and copied for each
test module (tests/conftest.py), so the modules can run on different workers."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml
from committed import committed_params

ROOT = Path(__file__).parents[2]

PROJECT_FOLDERS = ("src", "stages", "scripts", "videos", "prompts", "labels")  # what `dvc repro` reads beside dvc.yaml and params.yaml

MICRO = {
    "families": ["animatediff"],
    "methods": ["dpo", "vader", "dense_dpo", "grpo"],  # vanilla_dpo and dense_dpo_third run the same stages as dpo and dense_dpo
    "tiers": {"cpu": {"data": {"num_pairs": 4}, "training": {"max_steps": 3}}},
    "training": {"batch_size": 2, "val_every": 2, "checkpoint_every": 1},  # checkpoints for the kill test to resume from
    # the vjepa reward too, with the vjepa stage's micro scorer
    "vader": {"queries": 3, "max_steps": 2, "clips_per_step": 1, "num_inference_steps": 2, "val_every": 1, "checkpoint_every": 1,
              "rewards": {"temporal": 1.0, "brightness": 1.0, "vjepa": 1.0}},
    # a round per step trained on its highest-noise step, checkpoints for the kill test to resume from, and the flow reward with the guard
    "grpo": {"max_steps": 2, "prompts_per_round": 1, "group_size": 2, "updates_per_round": 1, "num_inference_steps": 2, "train_steps": 1,
             "val_every": 2, "checkpoint_every": 1, "guard": {"contrast": 1.0}},
    "reward_models": {"vjepa": {"steps": 2, "clips_per_caption": 1, "batch_clips": 2}},
    # a mix of makers and best-of-2 winners; an untrained micro model makes noise, so appearance is not checked
    "data": {"jitter_method": ["amplify", "img2img"], "candidates_per_pair": 2, "appearance_tolerance": 10.0},
    # an untrained micro model makes noise, whose segments' warping errors differ little: a low tie margin leaves some labelled;
    # four segments of two frames, so labels per segment are exercised
    "dense_dpo": {"tie_margin": 0.05, "segment_frames": 2},
    "sample": {"seeds_per_prompt": {"dev": 1, "test": 1}, "num_inference_steps": 2},
    "evaluate": {"bootstrap_samples": 50},
    "animatediff": {
        "pretrain": {
            "clips_per_caption": 2, "vae_steps": 3, "vae_batch_frames": 8, "image_steps": 3,
            "image_batch_frames": 8, "motion_steps": 3, "motion_batch_clips": 2,
        },
    },
    "model": {"preview": {"seeds_per_caption": 1, "steps": 2}},
}


def deep_update(base: dict, change: dict) -> dict:
    for key, value in change.items():
        if isinstance(value, dict):
            deep_update(base.setdefault(key, {}), value)
        else:
            base[key] = value
    return base


def dvc_env() -> dict[str, str]:
    """The environment DVC and the stages run in under the tests: offline, no analytics."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1"}


def run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=dvc_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_micro_project(project: Path) -> Path:
    """A git repository of the project's code with the micro params, after `dvc repro`."""
    project.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FOLDERS:
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".gitignore"):
        shutil.copy(ROOT / name, project / name)
    params = deep_update(committed_params(), MICRO)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], project)
    run(["dvc", "init", "-q"], project)
    shutil.copy(ROOT / ".dvcignore", project / ".dvcignore")  # after init, which writes its own
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "micro project"], project)
    repro_on_two_cores(project, MICRO["methods"])
    return project


def branch_stages(method: str) -> list[str]:
    return [f"make_pairs@animatediff-{method}", f"encode_latents@animatediff-{method}", f"train@animatediff-{method}", f"sample@animatediff-{method}-dev", f"sample@animatediff-{method}-test"]


def repro_on_two_cores(project: Path, methods: list[str]) -> None:
    """`dvc repro` of the whole DAG, its independent halves side by side: each stage runs on one core."""
    run(["dvc", "repro", "vjepa@animatediff", *(f"settings@animatediff-{method}" for method in methods)], project)  # base and what every branch reads
    repro_side_by_side(project, [
        [stage for method in methods[0::2] for stage in branch_stages(method)],
        [stage for method in methods[1::2] for stage in branch_stages(method)] + ["sample_base@animatediff-test", "preview_base@animatediff"],
    ])
    repro_side_by_side(project, [["evaluate@animatediff-dev"], ["evaluate@animatediff-test"]])
    run(["dvc", "repro"], project)  # the validation curves, which read every branch's


def repro_side_by_side(project: Path, lists: list[list[str]]) -> None:
    """One `dvc repro --single-item` per list of stages, all at once. DVC allows it when the stages'
    outputs do not meet: it releases the repository lock while a stage's command runs, and
    `--wait-for-lock` queues the rest."""
    logs = [tempfile.TemporaryFile("w+") for _ in lists]
    running = [
        subprocess.Popen(["dvc", "--wait-for-lock", "repro", "--single-item", *stages], cwd=project, env=dvc_env(), stdout=log, stderr=subprocess.STDOUT)
        for stages, log in zip(lists, logs)
    ]
    for stages, process, log in zip(lists, running, logs):
        process.wait(timeout=600)
        log.seek(0)
        assert process.returncode == 0, f"dvc repro --single-item {' '.join(stages)} failed:\n{log.read()}"


def mark_built(project: Path) -> Path:
    (project / ".built").touch()
    return project


def is_built(project: Path) -> bool:
    return (project / ".built").is_file()


def copy_built(project: Path, into: Path) -> Path:
    """A working copy of a built micro project (without its built mark), to change freely."""
    shutil.copytree(project, into, symlinks=True, ignore=shutil.ignore_patterns(".built"))
    return into
