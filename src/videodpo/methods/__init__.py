"""The alignment methods: one module per method in this folder, found by its file name.

A method module is the only code that says what a method is. It provides:

- `SETTINGS`: {"pairs": …, "latents": …, "train": …}, the Section class of what each of its stages
  reads (`Empty` where a stage reads nothing from params);
- `settings(config) -> {stage: Section}`: those settings from the validated config; a bad value raises
  ValueError naming its params key and the fix;
- optionally `SECTION`: the class of its own params section, named after the method (`vader:` in
  params.yaml), the one place that holds each key's default and check; it reaches the method as
  `config.method_section(name)`;
- its steps, each `(branch, settings, state)` with branch a videodpo.core.layout.Branch (the family and the
  method, and where the branch reads and writes): `make_pairs` writes branch.pairs and
  branch.pairs_metrics, `encode_latents` writes branch.latents, and `train` writes branch.lora,
  branch.train_plots and branch.train_metrics. A step reaches the model through the family seam, so
  the same step runs on every family.

A step imports the code it runs inside its function (or at the module's top): reading a method's
settings then loads no model code, and the digest of a step's code (videodpo.core.code_closure) covers
what that step runs. The settings stage writes each step's settings with that digest, and the step's
DVC stage depends on the file, so a change to a method's code or params reruns just the steps it reaches.
A step's file is {"code": digest, "settings": {...}} (stages/settings.py writes it).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel, ConfigDict

FOLDER = Path(__file__).parent
STEPS = {"pairs": "make_pairs", "latents": "encode_latents", "train": "train"}  # stage settings file → the step that reads it


class Empty(BaseModel):
    """The settings of a step that reads nothing from params."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LoRAStepSettings(BaseModel):
    """What every train step's LoRA and its validation read (videodpo.training.lora_loop); a method's train
    settings extend it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lora_rank: int
    lora_alpha: float
    guidance_scale: float  # validation samples with the evaluation's sampler
    validation_steps: int
    validation_prompts: str  # the training prompt set's file: validation samples its first prompts with seeds of its own


def lora_step_settings(config) -> dict:
    """LoRAStepSettings' fields from the validated config."""
    return {
        "lora_rank": config.model.lora_rank, "lora_alpha": config.model.lora_alpha, "guidance_scale": config.sample.guidance_scale,
        "validation_steps": config.sample.num_inference_steps, "validation_prompts": config.train_prompts_file(),
    }


def check_lora_targets(method: str, targets: str, family: str) -> None:
    """A ValueError naming `<method>.lora_targets` and the fix unless `targets` is a LoRA target of `family`."""
    from videodpo import families

    if targets not in families.lora_targets(family):
        raise ValueError(
            f"{method}.lora_targets: {targets!r} is not a LoRA target of {family}; give one of "
            f"{', '.join(families.lora_targets(family))} ({family}.overrides.{method}.lora_targets sets it for {family} alone)"
        )


def known() -> tuple[str, ...]:
    """The methods there are: the modules of this folder (a leading underscore marks a helper)."""
    return tuple(sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")))


def section_class(method: str) -> type[BaseModel]:
    """The class of `method`'s own params section (its module's SECTION), or a ValueError if it has none."""
    module = load(method)
    if not hasattr(module, "SECTION"):
        raise ValueError(f"method {method!r} has no params section of its own (its module defines no SECTION)")
    return module.SECTION


def module_name(method: str) -> str:
    return f"{__name__}.{method}"


def load(method: str) -> ModuleType:
    """The method's module, checked to provide what every stage calls."""
    if method not in known():
        raise ValueError(f"{method!r} is not a method; the known methods: {', '.join(known())} (a method is a module in {FOLDER})")
    module = importlib.import_module(module_name(method))
    missing = [name for name in ("SETTINGS", "settings", *STEPS.values()) if not hasattr(module, name)]
    if missing or set(module.SETTINGS) != set(STEPS):
        raise TypeError(
            f"{module.__file__}: a method module provides SETTINGS for {', '.join(STEPS)} (it has "
            f"{', '.join(getattr(module, 'SETTINGS', {})) or 'none'}), settings() and {', '.join(STEPS.values())}; missing: {', '.join(missing) or 'none'}"
        )
    return module


def branch_settings(config, method: str) -> dict[str, BaseModel]:
    """The settings of every step of `method`'s branch, from the validated config."""
    if method not in config.methods:
        raise ValueError(f"{method!r} is not in params `methods` ({', '.join(config.methods)}): add it there to run its branch")
    settings = load(method).settings(config)
    if set(settings) != set(STEPS):
        raise TypeError(f"{module_name(method)}.settings() returned settings for {', '.join(settings)}, not for {', '.join(STEPS)}")
    return settings


def settings_path(folder: str | Path, stage: str) -> Path:
    return Path(folder) / f"{stage}.json"


def read_stage_settings(branch, stage: str) -> BaseModel:
    """One step's settings as the branch's settings stage wrote them, validated again."""
    path = settings_path(branch.settings, stage)
    if not path.is_file():
        made_by = branch.stage("settings")
        raise FileNotFoundError(f"{path}: missing; it is written by the stage {made_by} (run `dvc repro {made_by}`)")
    return load(branch.method).SETTINGS[stage].model_validate(json.loads(path.read_text())["settings"])
