"""Each setting is defined once: its params section's class holds its default and its check, and what a
branch's stages read is built from the section as it is, key by key, with no copy that could drop or
change one on the way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from committed import committed_params
from dvc.utils.hydra import apply_overrides
from stage_scripts import load_stage

from videodpo import config as config_module
from videodpo.core.layout import branch
from videodpo.methods import section_class
from videodpo.pairs.settings import DataSettings
from videodpo.training.settings import TrainingSettings

FAMILY = "animatediff"

# Per section, a value other than the default for every key, as `dvc exp run -S` takes them (a key a
# tier preset owns is set in the preset); what the settings file must then hold is what `-S` wrote.
OVERRIDES = {
    "data": "tiers.cpu.data.num_pairs=9 tiers.cpu.data.frames=10 tiers.cpu.data.resolution=48 data.jitter_method=shake data.jitter_strength=1.5 data.appearance_tolerance=0.1 data.candidates_per_pair=3 data.seed=7 data.gt_videos=my_videos",
    "training": "tiers.cpu.training.max_steps=7 training.beta=3000 training.learning_rate=0.002 training.batch_size=5 training.gradient_accumulation_steps=2 tiers.cpu.training.mixed_precision=bf16 tiers.cpu.training.gradient_checkpointing=true training.memory_optimized=false training.sft_weight=10 training.max_timestep=500 training.val_every=7 training.checkpoint_every=9 training.seed=3",
    "vader": "vader.max_steps=31 vader.clips_per_step=3 vader.learning_rate=0.02 vader.lr_schedule=constant vader.num_inference_steps=12 vader.backprop=last vader.backprop_steps=2 vader.decode_frames=2 vader.rewards={temporal:2.0,brightness:0.5} vader.guard={contrast:5.0,colour:0.5,layout:2.0} vader.lora_targets=motion vader.queries=17 vader.val_every=4 vader.checkpoint_every=6 vader.seed=5",
    # ++: Hydra adds no key to an empty mapping (grpo.guard) without it
    "grpo": "grpo.max_steps=33 grpo.prompts_per_round=3 grpo.group_size=5 grpo.updates_per_round=3 grpo.num_inference_steps=12 grpo.eta=0.5 grpo.train_steps=6 grpo.clip_range=0.001 grpo.kl_weight=0.01 grpo.learning_rate=0.004 grpo.rewards={flow_warping:2.0,brightness:0.5} ++grpo.guard={colour:2.0} grpo.lora_targets=motion grpo.val_every=4 grpo.checkpoint_every=6 grpo.seed=5",
    "dpo": "dpo.loser_space=latents",
    "dense_dpo": "dense_dpo.eta=0.7 dense_dpo.copy_shared_noise=0.25 dense_dpo.segment_frames=2 dense_dpo.labeller=oracle dense_dpo.tie_margin=0.3",
}
NON_DEFAULT = {section: {change.split("=", 1)[0].rsplit(".", 1)[1]: change for change in changes.split()} for section, changes in OVERRIDES.items()}
# where each section reaches a branch: (the method, its step's settings file, the section's key there)
READ_BY = {
    "data": ("dpo", "pairs", "data"),
    "training": ("dpo", "train", "training"),
    "vader": ("vader", "train", "vader"),
    "grpo": ("grpo", "train", "grpo"),
    "dense_dpo": ("dense_dpo", "pairs", "dense"),
    "dpo": ("dpo", "pairs", "dpo"),
}
SECTIONS = {"data": DataSettings, "training": TrainingSettings, **{name: section_class(name) for name in ("vader", "grpo", "dense_dpo", "dpo")}}


def test_every_key_of_every_methods_section_has_a_case_here():
    """A new key cannot skip the round trip below: it needs its non-default value in NON_DEFAULT."""
    from videodpo import methods

    own = {name for name in methods.known() if hasattr(methods.load(name), "SECTION")}
    assert own == {"vader", "grpo", "dense_dpo", "dpo"}
    for name, section in SECTIONS.items():
        assert set(NON_DEFAULT[name]) == set(section.model_fields), name
        written = params_after(list(NON_DEFAULT[name].values()), committed_params())
        for key, change in NON_DEFAULT[name].items():
            assert getattr(section(), key) != written_value(change, written), f"{name}.{key}: the case's value is the default"


def params_after(changes: list[str], params: dict, path: Path | None = None) -> dict:
    """params as `dvc exp run -S` leaves them after these changes (written to `path`, else to a scratch file)."""
    if path is None:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            return params_after(changes, params, Path(folder) / "params.yaml")
    path.write_text(yaml.safe_dump(params))
    apply_overrides(str(path), changes)
    return yaml.safe_load(path.read_text())


def written_value(change: str, params: dict):
    """The value a `-S` change wrote into params."""
    node = params
    for part in change.split("=", 1)[0].lstrip("+").split("."):
        node = node[part]
    return node


@pytest.fixture(scope="module")
def settings_stage():
    return load_stage("settings")


@pytest.mark.parametrize("section", list(OVERRIDES))
def test_every_key_set_through_dash_s_reaches_the_branchs_settings_file_unchanged(section, settings_stage, tmp_path, monkeypatch):
    """Every key of the section at once, each to its own non-default value: each must arrive as `-S` wrote it."""
    method, step, held_as = READ_BY[section]
    changes = list(NON_DEFAULT[section].values())
    if section == "data":  # the toy model's clips are the toy world's
        changes += [f"toyworld.{world_key}={NON_DEFAULT['data'][key].split('=', 1)[1]}" for key, world_key in (("frames", "frames"), ("resolution", "frame_size"))]
    params = tmp_path / "params.yaml"
    written = params_after(changes, {**committed_params(), "families": [FAMILY], "methods": [method]}, params)
    monkeypatch.chdir(tmp_path)
    settings_stage.main(branch(FAMILY, method))
    held = json.loads((tmp_path / "data" / FAMILY / "settings" / method / f"{step}.json").read_text())["settings"][held_as]
    expected = {key: written_value(change, written) for key, change in NON_DEFAULT[section].items()}
    wrong = {key: (held[key], value) for key, value in expected.items() if held[key] != value}
    assert not wrong, f"{section}: (settings file, -S) differ for {wrong}"
    config = config_module.load_config(params, family=FAMILY)
    section_read = config.method_section(section) if section in ("vader", "grpo", "dense_dpo", "dpo") else getattr(config, section)
    assert held == section_read.model_dump(mode="json")  # the whole section, every key as params has it


def test_each_sections_defaults_are_the_committed_runs_values():
    """The class's default of each key is what the committed embedded-default run uses (params.yaml with
    tier cpu's preset merged in), so the two cannot drift: a new chosen value is changed in both."""
    merged = config_module.merge_tier(committed_params())
    classes = {**SECTIONS, "model": config_module.ModelSettings, "toyworld": config_module.ToyworldSettings,
               "prompts": config_module.PromptSettings, "sample": config_module.SampleSettings,
               "evaluate": config_module.EvaluateSettings, "reward_models": config_module.RewardModelSettings}
    for name, section in classes.items():
        assert section() == section.model_validate(merged[name]), f"{name}: its class's defaults are not params.yaml's"


def test_an_algorithm_takes_its_settings_from_the_section_by_name_and_has_no_default_of_its_own():
    """What an algorithm receives is built by one constructor from its section; a field the section
    lacks and the caller does not give is an error, not a quiet default."""
    import dataclasses

    from videodpo.core.params import built_from
    from videodpo.training import dpo, grpo, vader

    for kind in (dpo.LoopSettings, vader.VaderSampling, vader.VaderObjective, vader.VaderLoop, grpo.GrpoSampling, grpo.GrpoObjective, grpo.GrpoLoop):
        assert all(field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING for field in dataclasses.fields(kind)), kind
    training = TrainingSettings(beta=123.0)
    loop = built_from(dpo.LoopSettings, training, shared_noise=0.5, latent_segments=None)
    assert loop.beta == 123.0 and loop.shared_noise == 0.5 and loop.val_every == training.val_every
    with pytest.raises(TypeError, match="LoopSettings.shared_noise: in no section given"):
        built_from(dpo.LoopSettings, training, latent_segments=None)
    with pytest.raises(TypeError, match="has no field colour"):
        built_from(dpo.LoopSettings, training, shared_noise=0.5, latent_segments=None, colour=1)

