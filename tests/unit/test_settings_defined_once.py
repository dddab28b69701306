"""Each setting is defined once: its params section's class holds its default and its check, and what a
branch's stages read is built from the section as it is, key by key, with no copy that could drop or
change one on the way."""

from __future__ import annotations

import json

import pytest
import yaml
from committed import committed_params
from dvc.utils.hydra import apply_overrides
from stage_scripts import load_stage

from videodpo import config as config_module
from videodpo.core.layout import branch
from videodpo.methods import section_class
from videodpo.methods.dpo import DataSettings, TrainingSettings

FAMILY = "animatediff"

# A non-default value for every key of every section a method reads, as `dvc exp run -S` spells it,
# and the value the section then holds. Keys a tier preset owns are set in the preset.
NON_DEFAULT = {
    "data": {
        "num_pairs": ("tiers.cpu.data.num_pairs=9", 9),
        "frames": ("tiers.cpu.data.frames=10", 10),
        "resolution": ("tiers.cpu.data.resolution=48", 48),
        "jitter_method": ("data.jitter_method=shake", "shake"),
        "jitter_strength": ("data.jitter_strength=1.5", 1.5),
        "appearance_tolerance": ("data.appearance_tolerance=0.1", 0.1),
        "candidates_per_pair": ("data.candidates_per_pair=3", 3),
        "seed": ("data.seed=7", 7),
        "gt_videos": ("data.gt_videos=my_videos", "my_videos"),
    },
    "training": {
        "max_steps": ("tiers.cpu.training.max_steps=7", 7),
        "beta": ("training.beta=3000", 3000.0),
        "learning_rate": ("training.learning_rate=0.002", 0.002),
        "batch_size": ("training.batch_size=5", 5),
        "gradient_accumulation_steps": ("training.gradient_accumulation_steps=2", 2),
        "mixed_precision": ("tiers.cpu.training.mixed_precision=bf16", "bf16"),
        "gradient_checkpointing": ("tiers.cpu.training.gradient_checkpointing=true", True),
        "memory_optimized": ("training.memory_optimized=false", False),
        "sft_weight": ("training.sft_weight=10", 10.0),
        "max_timestep": ("training.max_timestep=500", 500),
        "val_every": ("training.val_every=7", 7),
        "checkpoint_every": ("training.checkpoint_every=9", 9),
        "seed": ("training.seed=3", 3),
    },
    "vader": {
        "max_steps": ("vader.max_steps=31", 31),
        "clips_per_step": ("vader.clips_per_step=3", 3),
        "learning_rate": ("vader.learning_rate=0.02", 0.02),
        "lr_schedule": ("vader.lr_schedule=constant", "constant"),
        "num_inference_steps": ("vader.num_inference_steps=12", 12),
        "backprop": ("vader.backprop=last", "last"),
        "backprop_steps": ("vader.backprop_steps=2", 2),
        "decode_frames": ("vader.decode_frames=2", 2),
        "rewards": ("vader.rewards={temporal:2.0,brightness:0.5}", {"temporal": 2.0, "brightness": 0.5}),
        "guard": ("vader.guard={contrast:5.0,colour:0.5,layout:2.0}", {"contrast": 5.0, "colour": 0.5, "layout": 2.0}),
        "lora_targets": ("vader.lora_targets=motion", "motion"),
        "queries": ("vader.queries=17", 17),
        "val_every": ("vader.val_every=4", 4),
        "checkpoint_every": ("vader.checkpoint_every=6", 6),
        "seed": ("vader.seed=5", 5),
    },
    "grpo": {
        "max_steps": ("grpo.max_steps=33", 33),
        "prompts_per_round": ("grpo.prompts_per_round=3", 3),
        "group_size": ("grpo.group_size=5", 5),
        "updates_per_round": ("grpo.updates_per_round=3", 3),
        "num_inference_steps": ("grpo.num_inference_steps=12", 12),
        "eta": ("grpo.eta=0.5", 0.5),
        "train_steps": ("grpo.train_steps=6", 6),
        "clip_range": ("grpo.clip_range=0.001", 0.001),
        "kl_weight": ("grpo.kl_weight=0.01", 0.01),
        "learning_rate": ("grpo.learning_rate=0.004", 0.004),
        "rewards": ("grpo.rewards={flow_warping:2.0,brightness:0.5}", {"flow_warping": 2.0, "brightness": 0.5}),
        "guard": ("++grpo.guard={colour:2.0}", {"colour": 2.0}),  # ++: Hydra adds no key to an empty mapping without it
        "lora_targets": ("grpo.lora_targets=motion", "motion"),
        "val_every": ("grpo.val_every=4", 4),
        "checkpoint_every": ("grpo.checkpoint_every=6", 6),
        "seed": ("grpo.seed=5", 5),
    },
    "dense_dpo": {
        "eta": ("dense_dpo.eta=0.7", 0.7),
        "copy_shared_noise": ("dense_dpo.copy_shared_noise=0.25", 0.25),
        "segment_frames": ("dense_dpo.segment_frames=2", 2),
        "labeller": ("dense_dpo.labeller=oracle", "oracle"),
        "tie_margin": ("dense_dpo.tie_margin=0.3", 0.3),
    },
}
# where each section reaches a branch: (the method, its step's settings file, the section's key there)
READ_BY = {
    "data": ("dpo", "pairs", "data"),
    "training": ("dpo", "train", "training"),
    "vader": ("vader", "train", "vader"),
    "grpo": ("grpo", "train", "grpo"),
    "dense_dpo": ("dense_dpo", "pairs", "dense"),
}
SECTIONS = {"data": DataSettings, "training": TrainingSettings, **{name: section_class(name) for name in ("vader", "grpo", "dense_dpo")}}
CASES = [(section, key) for section, keys in NON_DEFAULT.items() for key in keys]


def test_every_key_of_every_methods_section_has_a_case_here():
    """A new key cannot skip the round trip below: it needs its non-default value in NON_DEFAULT."""
    from videodpo import methods

    own = {name for name in methods.known() if hasattr(methods.load(name), "SECTION")}
    assert own == {"vader", "grpo", "dense_dpo"}
    for name, section in SECTIONS.items():
        assert set(NON_DEFAULT[name]) == set(section.model_fields), name
        for key, (_, value) in NON_DEFAULT[name].items():
            assert getattr(section(), key) != value, f"{name}.{key}: the case's value is the default"


@pytest.fixture(scope="module")
def settings_stage():
    return load_stage("settings")


@pytest.mark.parametrize(("section", "key"), CASES, ids=[f"{section}.{key}" for section, key in CASES])
def test_a_key_set_through_dash_s_reaches_the_branchs_settings_file_unchanged(section, key, settings_stage, tmp_path, monkeypatch):
    method, step, held_as = READ_BY[section]
    override, value = NON_DEFAULT[section][key]
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({**committed_params(), "families": [FAMILY], "methods": [method]}))
    overrides = [override]
    if key in ("frames", "resolution") and section == "data":  # the toy model's clips are the toy world's
        overrides.append(f"toyworld.{'frames' if key == 'frames' else 'frame_size'}={value}")
    apply_overrides(str(params), overrides)
    monkeypatch.chdir(tmp_path)
    settings_stage.main(branch(FAMILY, method))
    written = json.loads((tmp_path / "data" / FAMILY / "settings" / method / f"{step}.json").read_text())["settings"]
    assert written[held_as][key] == value
    config = config_module.load_config(params, family=FAMILY)
    held = config.method_section(section) if section in ("vader", "grpo", "dense_dpo") else getattr(config, section)
    assert written[held_as] == held.model_dump(mode="json")  # the whole section, every other key as params has it


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

