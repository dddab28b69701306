"""A hub tier end to end: `-S tier=t4` under the real `dvc repro`, on tiny diffusers-format models the
test builds (tiny_hub_models), with the user's own prompt files."""

import pytest
from committed import committed_params
from micro_project import PROJECT_FOLDERS
from diffusers import UNetMotionModel

from videodpo import families


@pytest.mark.slow
def test_a_hub_tier_run_builds_its_base_offline_and_uses_the_users_prompt_files(tiny_hub_models, tmp_path):
    """`-S tier=t4` under `dvc repro`, the hub names pointing at local folders and the user's own prompt
    files: base writes a pipeline whose card carries the tier's clip size, preview_base samples it
    without the toy-world oracle; pairs carry the training file's prompts, samples the evaluation
    file's; editing one evaluation prompt makes DVC see only the sampling stages as changed
    (evaluate follows from their new samples)."""
    import json
    import os
    import shutil
    import subprocess
    from pathlib import Path

    import yaml

    root = Path(__file__).parents[2]
    for name in PROJECT_FOLDERS:
        shutil.copytree(root / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(root / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "my_train.txt").write_text("# my training prompts\na dog\n\nsea waves\na boat\n")
    (tmp_path / "my_eval.txt").write_text("a cat\na bird\n")
    (tmp_path / "my_dev.txt").write_text("a fox\n")
    params = committed_params()
    params.update(tier="t4", families=["animatediff"], methods=["dpo"], prompts={"train": "my_train.txt", "eval": "my_eval.txt", "dev": "my_dev.txt"})
    params["tiers"]["t4"]["data"].update(resolution=32, num_pairs=4)  # the tiny model's size, not a T4's
    params["tiers"]["t4"]["training"].update(mixed_precision="fp32")  # CPU
    params["animatediff"]["hub"].update(base=str(tiny_hub_models / "sd15"), motion_adapter=str(tiny_hub_models / "adapter"))
    params["data"].update(appearance_tolerance=10.0)  # an untrained tiny model makes noise: appearance is not checked
    params["sample"].update(seeds_per_prompt={"dev": 2, "test": 1}, num_inference_steps=2)
    params["model"]["preview"].update(steps=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1"}

    def run(*cmd: str) -> str:
        done = subprocess.run(list(cmd), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    run("git", "init", "-q")
    run("dvc", "init", "-q")
    run("git", "add", "-A")
    run("git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "a hub-tier project")
    run("dvc", "repro", "preview_base@animatediff", "make_pairs@animatediff-dpo", "sample_base@animatediff-dev", "sample_base@animatediff-test")
    card = json.loads((tmp_path / "models/animatediff/base/videodpo.json").read_text())
    assert (card["source"], card["frames"], card["frame_size"]) == ("hub", 8, 32)
    assert set(card["commits"]) == {params["animatediff"]["hub"]["base"], params["animatediff"]["hub"]["motion_adapter"]}
    model = families.load_base(tmp_path / "models/animatediff/base")
    assert isinstance(model.denoiser, UNetMotionModel) and model.scheduler.config.beta_schedule == "linear"
    metrics = json.loads((tmp_path / "metrics/animatediff/base.json").read_text())
    assert metrics["source"] == "hub" and metrics["held_out"]["n_samples"] == 12 and metrics["held_out"]["motion"] >= 0
    assert (tmp_path / "plots/base/animatediff/contact_sheet.png").stat().st_size > 1000

    manifest = [json.loads(line) for line in (tmp_path / "data/animatediff/pairs/dpo/manifest.jsonl").read_text().splitlines()]
    assert manifest and {r["caption"] for r in manifest} <= {"a dog", "sea waves", "a boat"}
    samples = json.loads((tmp_path / "results/animatediff/samples/test/base/samples.json").read_text())
    assert [s["prompt"] for s in samples] == ["a cat", "a bird"]
    dev_samples = json.loads((tmp_path / "results/animatediff/samples/dev/base/samples.json").read_text())
    assert [s["prompt"] for s in dev_samples] == ["a fox", "a fox"]  # the dev split's own prompts, two seeds each

    (tmp_path / "my_eval.txt").write_text("a cat\na horse\n")
    status = json.loads(run("dvc", "status", "--json"))
    ran = {"base@animatediff", "preview_base@animatediff", "settings@animatediff-dpo", "make_pairs@animatediff-dpo", "sample_base@animatediff-dev", "sample_base@animatediff-test"}
    # both splits list both prompt files (DVC cannot pick a file by the split's name); no stage before sampling reruns
    assert {stage for stage in status if stage in ran} == {"sample_base@animatediff-dev", "sample_base@animatediff-test"}, status
    assert "my_eval.txt" in json.dumps(status["sample_base@animatediff-test"]), status
