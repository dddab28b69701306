"""The hub Wan through the real `dvc repro`: a tiny diffusers-format Wan pipeline saved by the test (as a
hub would serve it), offline, on a hub tier, with dpo, dense_dpo (from the test's own videos) and vader."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from committed import committed_params
from micro_project import PROJECT_FOLDERS

from videodpo import families
from videodpo.rewards import vjepa
from videodpo.families.wan import toy
from videodpo.toyworld.tokenizer import build_toy_tokenizer

ROOT = Path(__file__).parents[2]
PROMPT = "a red square moving left"

pytestmark = pytest.mark.slow


def moving_square(frames: int, size: int, colour) -> np.ndarray:
    clip = np.full((frames, size, size, 3), 30, np.uint8)
    for t in range(frames):
        clip[t, 12:22, 4 + 2 * t : 14 + 2 * t] = colour
    return clip


def build_project(project: Path) -> dict:
    """The project's code with a tiny Wan as its hub model, its own videos, prompts and a tiny V-JEPA."""
    import imageio.v3 as iio

    for name in PROJECT_FOLDERS:
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    torch.manual_seed(0)
    toy.build_toy_pipeline(build_toy_tokenizer(), toy.ToyWanArchitecture(layers=1)).save_pretrained(project / "hub/wan")
    vjepa.build_tiny_vjepa(8, 32).save_pretrained(project / "hub/vjepa")
    videos = project / "my_videos"
    videos.mkdir()
    for name, colour, caption in (("red", (220, 40, 40), "a red square moving right"), ("blue", (40, 40, 220), "a blue square moving right")):
        iio.imwrite(videos / f"{name}.gif", moving_square(10, 32, colour), duration=100, loop=0)
        (videos / f"{name}.txt").write_text(caption + "\n")
    (project / "my_train.txt").write_text("a red square moving left\na blue circle moving up\n")
    (project / "my_eval.txt").write_text("a green triangle moving down\n")
    params = committed_params()
    params.update(tier="l4", families=["wan"], methods=["dpo", "dense_dpo", "vader"],
                  prompts={"train": "my_train.txt", "eval": "my_eval.txt", "dev": "my_eval.txt"})
    params["tiers"]["l4"]["data"].update(num_pairs=2)
    params["tiers"]["l4"]["training"].update(mixed_precision="fp32", max_steps=2)  # CPU
    params["wan"]["hub"].update(base=str(project / "hub/wan"), revision="main")
    params["wan"]["overrides"]["tiers"]["l4"]["data"].update(frames=9, resolution=32)  # the tiny model's clips, not an L4's
    params["reward_models"]["vjepa"].update(hub=str(project / "hub/vjepa"))
    params["data"].update(appearance_tolerance=10.0, gt_videos="my_videos")  # an untrained model makes noise: appearance is not checked
    params["wan"]["overrides"]["dense_dpo"].update(tie_margin=0.0)  # wan's own value wins over the shared one: label every segment
    params["training"].update(batch_size=2, val_every=0, checkpoint_every=1)
    params["vader"].update(queries=2, max_steps=1, clips_per_step=1, num_inference_steps=2, val_every=0, checkpoint_every=1)
    params["sample"].update(seeds_per_prompt={"dev": 1, "test": 1}, num_inference_steps=2)
    params["model"]["preview"].update(steps=2)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def test_the_hub_wan_trains_dpo_dense_dpo_and_vader_through_dvc_repro_and_its_loras_load_into_wan_pipeline(tmp_path):
    from diffusers import WanPipeline

    project = tmp_path / "project"
    build_project(project)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1"}

    def run(*cmd: str) -> str:
        done = subprocess.run(list(cmd), cwd=project, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    run("git", "init", "-q")
    run("dvc", "init", "-q")
    run("git", "add", "-A")
    run("git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "a hub-tier wan project")
    run("dvc", "repro", "train@wan-dpo", "train@wan-dense_dpo", "train@wan-vader")

    card = json.loads((project / "models/wan/base/videodpo.json").read_text())
    assert (card["source"], card["frames"], card["frame_size"]) == ("hub", 9, 32)
    assert set(card["commits"]) == {str(project / "hub/wan")}
    manifest = [json.loads(line) for line in (project / "data/wan/pairs/dense_dpo/manifest.jsonl").read_text().splitlines()]
    assert {record["caption"] for record in manifest} <= {"a red square moving right", "a blue square moving right"}
    settings = json.loads((project / "data/wan/settings/dense_dpo/train.json").read_text())["settings"]
    assert settings["latent_segments"] == [[0, 2], [2, 3]]  # 9 frames in segments of 4: latents {0, 1} | {2}
    # DPO below the flow's noise level of the copies: η = 0.6 of 2 Euler steps starts at σ = 3·½ / (1 + 2·½) = 0.75
    assert settings["training"]["max_timestep"] == families.noise_timestep("wan", 0.6, 2) == 750

    base = WanPipeline.from_pretrained(project / "models/wan/base", local_files_only=True)
    latents = torch.randn(1, base.transformer.config.in_channels, 3, 8, 8, generator=torch.Generator().manual_seed(0))

    def sample(pipe) -> np.ndarray:
        return pipe(prompt=PROMPT, num_frames=9, height=32, width=32, num_inference_steps=2, guidance_scale=4.0,
                    latents=latents.clone(), max_sequence_length=16, output_type="np").frames

    before = sample(base)
    for method in ("dpo", "dense_dpo", "vader"):
        pipe = WanPipeline.from_pretrained(project / "models/wan/base", local_files_only=True)
        pipe.load_lora_weights(project / f"models/wan/lora/{method}", adapter_name=method)
        assert not np.array_equal(sample(pipe), before), f"{method}'s LoRA changes nothing"
        ours = families.load_base(project / "models/wan/base")
        ours.load_lora(project / f"models/wan/lora/{method}")
        assert ours.family == "wan"


def test_a_video_too_short_for_wans_clips_fails_before_any_model_loads_naming_the_key(tmp_path):
    import imageio.v3 as iio

    project = tmp_path / "project"
    build_project(project)
    iio.imwrite(project / "my_videos/red.gif", moving_square(6, 32, (220, 40, 40)), duration=100, loop=0)
    params = yaml.safe_load((project / "params.yaml").read_text())
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(project / "src")}
    (project / "models/wan/base").mkdir(parents=True)  # no weights: had the stage reached the model, it would fail there
    (project / "models/wan/base/model_index.json").write_text('{"_class_name": "WanPipeline"}')
    from videodpo.core import model_card

    model_card.ModelCard("hub", 9, 32, 0.0).save(project / "models/wan/base")
    done = subprocess.run(["python", "stages/settings.py", "wan", "dense_dpo"], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(["python", "stages/make_pairs.py", "wan", "dense_dpo"], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "red.gif: 6 frames, shorter than the clips' 9 (wan.overrides.tiers.l4.data.frames (4k + 1))" in done.stderr
    assert params["tier"] == "l4"
