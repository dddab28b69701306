"""The model-family seam: only a family's own package knows its classes."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FAMILY_CLASSES = {  # family → the classes of its models that no other code may import
    "animatediff": {"UNetMotionModel", "MotionAdapter", "DDIMScheduler", "AnimateDiffPipeline"},
    "wan": {"WanTransformer3DModel", "AutoencoderKLWan", "WanPipeline", "UMT5EncoderModel", "FlowMatchEulerDiscreteScheduler"},
}


def names_imported(path: Path) -> set[str]:
    """Every name a file imports (`from x import Name`, `import x.Name`), at any depth in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(part for alias in node.names for part in alias.name.split("."))
    return names


@pytest.mark.parametrize("family", sorted(FAMILY_CLASSES))
def test_only_a_family_imports_its_models_classes(family):
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "stages").glob("*.py")]
    importers = sorted(
        str(path.relative_to(ROOT)) for path in files if names_imported(path) & FAMILY_CLASSES[family]
    )
    assert importers and all(name.startswith(f"src/videodpo/families/{family}/") for name in importers), importers


def test_a_base_folder_opens_by_the_pipeline_class_it_holds_and_a_stranger_one_is_refused(tmp_path):
    from videodpo import families
    from videodpo.core.integrity import DamagedFileError

    for family, pipeline in (("animatediff", "AnimateDiffPipeline"), ("wan", "WanPipeline")):
        folder = tmp_path / family
        folder.mkdir()
        (folder / "model_index.json").write_text(f'{{"_class_name": "{pipeline}"}}')
        assert families.family_of(folder) == family
    (tmp_path / "other").mkdir()
    (tmp_path / "other/model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    with pytest.raises(DamagedFileError, match="StableDiffusionPipeline, which no model family opens"):
        families.family_of(tmp_path / "other")
    with pytest.raises(DamagedFileError, match="model_index.json is missing or damaged"):
        families.family_of(tmp_path / "nothing")
    with pytest.raises(ValueError, match="unknown model family 'sora'; known: animatediff, wan"):
        families.family_module("sora")


def test_labelled_segments_hold_whole_latent_frames_in_every_family_and_a_length_that_cuts_one_is_refused():
    from videodpo import families

    assert families.frame_segments("animatediff", 8, 2) == [range(0, 2), range(2, 4), range(4, 6), range(6, 8)]
    assert families.latent_segments("animatediff", 8, 4) == [(0, 4), (4, 8)]
    # wan: frame 0 joins the first window of 4, so each segment holds whole latent frames ({0}, {1-4} | {5-8})
    assert families.frame_segments("wan", 9, 4) == [range(0, 5), range(5, 9)]
    assert families.latent_segments("wan", 9, 4) == [(0, 2), (2, 3)]
    assert families.latent_segments("wan", 17, 8) == [(0, 3), (3, 5)]
    with pytest.raises(ValueError, match="dense_dpo.segment_frames: 2 does not fit Wan's latent grouping of 9 frames.*\(4, 8\)"):
        families.frame_segments("wan", 9, 2)
    with pytest.raises(ValueError, match="dense_dpo.segment_frames: 3 does not divide the clips' 8 frames"):
        families.frame_segments("animatediff", 8, 3)


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from diffusers import AnimateDiffPipeline\n    return AnimateDiffPipeline\n")
    assert "AnimateDiffPipeline" in names_imported(module)


def test_a_deterministic_sampler_step_is_ddims_and_a_stochastic_one_scores_its_draw(toy_model):
    """eta = 0: the step the pipeline's DDIM takes. eta > 0: DDIM's step with the same noise, and the
    log-probability of the drawn latents under the step's Gaussian, the same when the recorded draw
    is scored again (as a policy-gradient method rescoring its samples does)."""
    import torch

    scheduler = toy_model.sampler(4)
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(2, 4, 3, 8, 8, generator=generator)
    for timestep in scheduler.timesteps:
        prediction = torch.randn(latents.shape, generator=generator)
        ours, log_prob = toy_model.sampler_step(scheduler, prediction, timestep, latents)
        assert log_prob is None
        torch.testing.assert_close(ours, scheduler.step(prediction, timestep, latents).prev_sample)

        drawn, log_prob = toy_model.sampler_step(scheduler, prediction, timestep, latents, eta=0.7, generator=torch.Generator().manual_seed(1))
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(1))
        ddim_draw = scheduler.step(prediction, timestep, latents, eta=0.7, variance_noise=noise).prev_sample
        std = 0.7 * scheduler._get_variance(timestep, timestep - 1000 // 4) ** 0.5  # DDIM's own σ_t at this eta
        mean = ddim_draw - std * noise
        torch.testing.assert_close(drawn, ddim_draw)
        expected = torch.distributions.Normal(mean, std).log_prob(drawn).flatten(1).mean(1)
        torch.testing.assert_close(log_prob, expected)
        _, rescored = toy_model.sampler_step(scheduler, prediction, timestep, latents, eta=0.7, prev_latents=drawn)
        torch.testing.assert_close(rescored, log_prob)
        latents = ours


def test_every_family_offers_the_seam_and_its_model_of_the_toy_world_answers_through_it(toy_model):
    """Each registered family's model class has every member the seam lists, and the toy AnimateDiff
    model answers the members stages lean on hardest with shapes that fit one another."""
    import torch

    from videodpo import families

    assert families.known() == ("animatediff", "wan")
    for name in families.known():
        module = families.family_module(name)
        missing = [member for member in families.SEAM if not hasattr(module.MODEL, member)]
        assert not missing, f"family {name}: its model lacks {missing}"
        assert not [member for member in families.PACKAGE if not hasattr(module, member)], f"family {name}'s package"
        assert module.NAME == name and callable(families.family_settings(name))
    assert isinstance(toy_model, families.family_module("animatediff").MODEL)
    clips = torch.randint(0, 256, (1, 8, 32, 32, 3), dtype=torch.uint8).numpy()
    latents = toy_model.encode_clips(clips)
    assert latents.shape[2] == toy_model.latent_frames(8)
    with torch.no_grad():
        assert toy_model.decode(latents).shape == (1, 8, 3, 32, 32)
        assert toy_model.decode(latents, slice(2, 5)).shape == (1, 3, 3, 32, 32)  # a window of latent frames
    assert toy_model.initial_latents(8, seed=3, shared_noise=0.5).shape == (1, *latents.shape[1:])


def test_reading_params_for_every_family_loads_no_model_library():
    """Every stage reads params, and with them each family's settings module: that import must not
    pull in the family's model code (diffusers, transformers), which costs seconds per stage."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from videodpo.config import load_config\n"
        "for family in ('animatediff', 'wan'):\n"
        "    load_config(family=family)\n"
        "print(sorted(m for m in ('diffusers', 'transformers', 'peft') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    from videodpo.families import animatediff, wan

    assert animatediff.AnimateDiff.__module__ == "videodpo.families.animatediff.model" and wan.PIPELINE == "WanPipeline"
