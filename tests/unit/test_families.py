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


def seam_members(protocol) -> list[str]:
    """The members a Protocol declares (its own, not object's or Protocol's)."""
    return sorted(name for name in vars(protocol) if not name.startswith("_")) + sorted(getattr(protocol, "__annotations__", {}))


def signature_gaps(protocol, implementation) -> list[str]:
    """How `implementation` (a class or a module) departs from `protocol`: a missing member, a method
    where a value is read, or a method whose parameters (names, order, kinds, annotations, which have defaults,
    and the defaults the protocol spells out) or return annotation differ. Extra trailing parameters
    with defaults are allowed; so is a staticmethod where the protocol's method uses no `self`."""
    import inspect

    gaps = []
    for name in seam_members(protocol):
        if not hasattr(implementation, name):
            gaps.append(f"{name}: missing")
            continue
        declared = inspect.getattr_static(protocol, name, None)
        if declared is None:  # an annotated attribute (a package's NAME, PIPELINE, MODEL)
            continue
        if isinstance(declared, property):  # a property, or a plain value: read, never called
            held = inspect.getattr_static(implementation, name)
            if not isinstance(held, property) and callable(held):
                gaps.append(f"{name}: a method where the seam reads a value")
            continue
        wanted = list(inspect.signature(declared).parameters.values())[1:]  # without self
        found = inspect.signature(getattr(implementation, name) if not inspect.isclass(implementation) else inspect.getattr_static(implementation, name).__func__
                                  if isinstance(inspect.getattr_static(implementation, name), staticmethod) else getattr(implementation, name))
        params = [p for p in found.parameters.values() if p.name != "self"]
        for want, have in zip(wanted, params):
            same = (want.name, want.kind, want.annotation) == (have.name, have.kind, have.annotation)
            defaults = (want.default is inspect.Parameter.empty) == (have.default is inspect.Parameter.empty)
            spelled = want.default in (inspect.Parameter.empty, Ellipsis) or want.default == have.default
            if not (same and defaults and spelled):
                gaps.append(f"{name}: parameter {have} where the seam has {want}")
        if len(params) < len(wanted):
            gaps.append(f"{name}: lacks {[str(p) for p in wanted[len(params):]]}")
        if any(p.default is inspect.Parameter.empty for p in params[len(wanted):]):
            gaps.append(f"{name}: extra parameters without defaults {[str(p) for p in params[len(wanted):]]}")
        declared_return = inspect.signature(declared).return_annotation
        if declared_return is not inspect.Signature.empty and found.return_annotation != declared_return:
            gaps.append(f"{name}: returns {found.return_annotation} where the seam returns {declared_return}")
    return gaps


def test_every_familys_model_and_package_match_the_seam_signatures_included():
    import importlib

    from videodpo import families
    from videodpo.families.seam import FamilyBase, FamilyModel, FamilyPackage

    assert families.known() == ("animatediff", "wan")
    for name in families.known():
        package = families.family_module(name)
        assert signature_gaps(FamilyModel, package.MODEL) == [], f"family {name}'s model"
        assert signature_gaps(FamilyPackage, package) == [], f"family {name}'s package"
        assert signature_gaps(FamilyBase, importlib.import_module(f"videodpo.families.{name}.base")) == [], f"family {name}'s base"
        assert package.NAME == name and callable(families.family_settings(name))


def test_the_seam_check_finds_a_missing_member_and_a_changed_signature():
    """The check above can fail: a model that lacks a member, or whose parameter is renamed, retyped or
    lost its default, is named with the member."""
    from videodpo.families.animatediff import AnimateDiff
    from videodpo.families.seam import FamilyModel

    class Renamed(AnimateDiff):
        def decode(self, codes, window: slice | None = None):  # renamed and untyped
            return super().decode(codes, window)

        def initial_latents(self, frames: int, seed: int, shared_noise: float, resolution: int | None):  # default dropped
            return super().initial_latents(frames, seed, shared_noise, resolution)

    class Missing:
        pass

    gaps = signature_gaps(FamilyModel, Renamed)
    assert any(gap.startswith("decode: parameter codes") for gap in gaps) and any(gap.startswith("initial_latents:") for gap in gaps)
    assert len(signature_gaps(FamilyModel, Missing)) == len(seam_members(FamilyModel))


def test_the_toy_model_of_the_toy_world_answers_through_the_seam(toy_model):
    """The toy AnimateDiff model answers the members stages lean on hardest with shapes that fit one another."""
    import torch

    from videodpo import families
    from videodpo.families.seam import FamilyModel

    assert isinstance(toy_model, families.family_module("animatediff").MODEL) and isinstance(toy_model, FamilyModel)
    clips = torch.randint(0, 256, (1, 8, 32, 32, 3), dtype=torch.uint8).numpy()
    latents = toy_model.encode_clips(clips)
    assert latents.shape[2] == toy_model.latent_frames(8)
    with torch.no_grad():
        assert toy_model.decode(latents).shape == (1, 8, 3, 32, 32)
        assert toy_model.decode(latents, slice(2, 5)).shape == (1, 3, 3, 32, 32)  # a window of latent frames
    assert toy_model.initial_latents(8, seed=3, shared_noise=0.5).shape == (1, *latents.shape[1:])


def test_reading_params_for_every_family_loads_no_model_library():
    """Every stage reads params, and with them each family's settings module: that import must not
    pull in model code (torch, diffusers, transformers), which costs seconds per stage: the settings
    stage, which reads params alone, would spend most of its time importing torch."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from videodpo.config import load_config\n"
        "for family in ('animatediff', 'wan'):\n"
        "    load_config(family=family)\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'peft') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    from videodpo.families import animatediff, wan

    assert animatediff.AnimateDiff.__module__ == "videodpo.families.animatediff.model" and wan.PIPELINE == "WanPipeline"
