"""params.yaml → one typed, validated config, with the chosen tier's preset merged in.

Every bad value is reported with its key, the value given and what is allowed, before any heavy
work starts. A tier preset owns its keys: setting the same key in a section too is an error, so
`dvc exp run -S tier=t4` always means exactly the t4 preset.

Each section's class lives with the code that owns it (core.params says how): `toyworld` in the toy
world, `prompts` with the prompt sets, `reward_models` in rewards.settings, `data` in pairs.settings,
`training` in training.settings, a method's own section (`vader`, `grpo`, `dense_dpo`) in its method
module, found by its name, and a family's section in its family's settings module. The sections
defined here are the run's shape, shared by every family and method.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from videodpo import families, methods
from videodpo.core.params import ConfigError, Section, error_lines, format_errors
from videodpo.core.prompts import PromptSettings, prompt_set_file
from videodpo.pairs.settings import DataSettings
from videodpo.rewards.settings import RewardModelSettings
from videodpo.toyworld import ToyworldSettings
from videodpo.training.settings import TrainingSettings

TIERS = ("cpu", "t4", "l4", "a100")


class PreviewSettings(Section):
    """The base stage's own look at its model: samples, contact sheet and oracle scores."""

    seeds_per_caption: int = Field(default=2, gt=0, le=1000)  # keeps preview seeds below pair seeds (core.seeds)
    steps: int = Field(default=20, gt=0)
    guidance_scale: float = Field(default=4.0, ge=1)


class ModelSettings(Section):
    """What every family's model shares; each family's own models are its section (`animatediff`, `wan`)."""

    source: Literal["toy", "hub"] = "toy"
    preview: PreviewSettings = PreviewSettings()
    lora_rank: int = Field(default=4, gt=0)
    lora_alpha: float = Field(default=4.0, gt=0)


class SplitSizes(Section):
    """Evaluation samples per prompt in each split (videodpo.core.seeds), each sample with its own seed."""

    dev: int = Field(default=6, gt=0)  # settings are chosen on these
    test: int = Field(default=6, gt=0)  # the README reports these; no choice has seen them


class SampleSettings(Section):
    """How every model is sampled for evaluation, the base and each method alike."""

    seeds_per_prompt: SplitSizes = SplitSizes()
    num_inference_steps: int = Field(default=20, gt=0)
    guidance_scale: float = Field(default=4.0, ge=1)


class EvaluateSettings(Section):
    bootstrap_samples: int = Field(default=1000, gt=0)


class Config(Section):
    tier: Literal["cpu", "t4", "l4", "a100"] = "cpu"
    # what runs the stages that can use many processes (make_pairs, train, sample)
    launch: str = Field(default="python", min_length=1)
    # the model families to run, each a package of videodpo.families with its base, samples and branches
    families: list[str] = Field(default_factory=lambda: list(families.known()))
    # the family a stage runs for (load_config(family=...)): its section's overrides are merged in
    family: str | None = None
    # each family's params section, named after it and validated by it (family_section)
    family_sections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # the alignment methods to run, each a module of videodpo.methods with a branch of stages in dvc.yaml
    methods: list[str] = Field(default_factory=lambda: list(methods.known()))
    # each method's own params section, named after it and validated by its module's SECTION (method_section)
    method_sections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    model: ModelSettings = ModelSettings()
    toyworld: ToyworldSettings = ToyworldSettings()
    data: DataSettings = DataSettings()
    training: TrainingSettings = TrainingSettings()
    reward_models: RewardModelSettings = RewardModelSettings()
    prompts: PromptSettings = PromptSettings()
    sample: SampleSettings = SampleSettings()
    evaluate: EvaluateSettings = EvaluateSettings()

    @model_validator(mode="after")
    def _toy_model_matches_data(self) -> "Config":
        if self.model.source == "toy" and (
            self.data.resolution != self.toyworld.frame_size or self.data.frames != self.toyworld.frames
        ):
            raise ValueError(
                f"tier {self.tier!r} asks for {self.data.frames} frames at {self.data.resolution} px, but the embedded "
                f"toy model makes {self.toyworld.frames} frames at {self.toyworld.frame_size} px: the toy model runs "
                f"at tier cpu only; set tiers.{self.tier}.model.source to hub"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _gather_own_sections(cls, values: Any) -> Any:
        """Top-level sections named after a method or a family (and not a section above) are its own."""
        if not isinstance(values, dict):
            return values
        for field, known in (("method_sections", methods.known()), ("family_sections", families.known())):
            own = {key: value for key, value in values.items() if key not in cls.model_fields and key in known}
            if own:
                values = {key: value for key, value in values.items() if key not in own}
                values[field] = {**values.get(field, {}), **own}
        return values

    @field_validator("families")
    @classmethod
    def _listed_families_are_known(cls, listed: list[str]) -> list[str]:
        known = families.known()
        unknown = [name for name in listed if name not in known]
        if unknown or not listed or len(set(listed)) != len(listed):
            problem = f"unknown {unknown}" if unknown else "an empty list" if not listed else "a name listed twice"
            raise ValueError(f"{problem}; list one or more of the known model families: {', '.join(known)}")
        return listed

    def family_section(self, family: str | None = None) -> Section:
        """A family's own params section (named after it; this stage's family by default), validated by its class."""
        name = family or self.family
        if name is None:
            raise ValueError("no model family: load the config with load_config(family=...)")
        try:
            return families.family_settings(name).model_validate(self.family_sections.get(name, {}))
        except ValidationError as error:
            raise ValueError(error_lines(error, name)) from None

    @field_validator("methods")
    @classmethod
    def _listed_methods_are_known(cls, listed: list[str]) -> list[str]:
        known = methods.known()
        unknown = [name for name in listed if name not in known]
        if unknown or not listed or len(set(listed)) != len(listed):
            problem = f"unknown {unknown}" if unknown else "an empty list" if not listed else "a name listed twice"
            raise ValueError(f"{problem}; list one or more of the known methods: {', '.join(known)}")
        return listed

    def train_prompts_file(self) -> str:
        """The training prompt set's file for this tier (a folder of built-in sets gives its toy.txt or hub.txt)."""
        return str(prompt_set_file(self.prompts.train, self.model.source))

    def method_section(self, method: str) -> Section:
        """A method's own params section (named after it), validated by its module's SECTION."""
        try:
            return methods.section_class(method).model_validate(self.method_sections.get(method, {}))
        except ValidationError as error:
            raise ValueError(error_lines(error, method)) from None

    @field_validator("launch")
    @classmethod
    def _known_launcher(cls, launch: str) -> str:
        words = launch.split()
        while words and "=" in words[0]:  # leading environment settings, e.g. ACCELERATE_USE_CPU=true
            words.pop(0)
        if words[:1] != ["python"] and words[:2] != ["accelerate", "launch"]:
            raise ValueError(
                "give `python` (one process) or an `accelerate launch ...` command, e.g. "
                "`accelerate launch --multi_gpu --num_processes 2` (see README, Many GPUs)"
            )
        return launch


def _walk(preset: dict, prefix: str = ""):
    for key, value in preset.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            yield from _walk(value, path)
        else:
            yield path, value


def merge_tier(params: dict[str, Any]) -> dict[str, Any]:
    """Return params with `tiers[tier]` merged into the sections (the preset's keys must be absent there)."""
    params = copy.deepcopy(params)
    tier = params.get("tier", "cpu")
    presets = params.pop("tiers", None) or {}
    if tier not in TIERS:
        raise ConfigError(f"tier: {tier!r} is not a tier; allowed: {', '.join(TIERS)}")
    for name in TIERS:
        if name not in presets:
            raise ConfigError(f"tiers.{name}: missing; params.yaml must define a preset for every tier ({', '.join(TIERS)})")
    for path, value in _walk(presets[tier]):
        *parents, leaf = path.split(".")
        node = params
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"tiers.{tier}.{path}: {part!r} is not a section")
        if leaf in node:
            raise ConfigError(
                f"{path} is set both in its section and by tiers.{tier}; the tier preset owns it: "
                f"remove it from the section, or set tiers.{tier}.{path} instead"
            )
        node[leaf] = value
    return params


def _deep_merge(into: dict, overlay: dict) -> dict:
    merged = dict(into)
    for key, value in overlay.items():
        merged[key] = _deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


# sections a family may not override: the evaluation protocol and the run's shape
SHARED_SECTIONS = ("families", "methods", "tier", "launch", "model", "prompts", "sample", "evaluate", "reward_models")


def family_overlay(params: dict[str, Any], family: str) -> dict[str, Any]:
    """params as family `family`'s stages read them: its section's `overrides` merged over the other
    sections (a tier preset too: overrides.tiers.<tier>.<key>), each value replacing the one there."""
    overrides = (params.get(family) or {}).get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{family}.overrides: give a mapping of sections to values, not {overrides!r}")
    shared = sorted(set(overrides) & set(SHARED_SECTIONS))
    if shared:
        raise ConfigError(
            f"{family}.overrides.{shared[0]}: every family is sampled and scored alike ({', '.join(SHARED_SECTIONS)} are shared), "
            f"so the families' figures compare; change `{shared[0]}` itself, or override the family's clips (toyworld, tiers) or a method's section"
        )
    return {**_deep_merge(params, overrides), "family": family}


def _validated(params: dict[str, Any], family: str | None) -> Config:
    where = f" for model family {family} (its section's overrides merged)" if family else ""
    try:
        config = Config.model_validate(merge_tier(family_overlay(params, family) if family else params))
    except ValidationError as error:
        raise ConfigError(format_errors(error).replace("is not valid:", f"is not valid{where}:", 1)) from None
    if family is None:
        return config
    try:
        config.family_section()
        families.check_config(config)
    except ValueError as error:
        raise ConfigError(f"params.yaml is not valid{where}:\n  {error}") from None
    for method in config.methods:
        try:
            methods.branch_settings(config, method)
        except ValueError as error:
            raise ConfigError(f"params.yaml is not valid for method {method}{where}:\n  {error}") from None
    return config


def config_from_params(params: dict[str, Any], family: str | None = None) -> Config:
    """The validated config, as family `family`'s stages read it (none: the sections as written). Every
    listed family's config is validated too, with the settings of every listed method built and checked
    by it, so a bad value stops the first stage that reads params. A method's module is imported by
    name: what it checks can stop a stage but not change its outputs, so only the settings stages
    depend on it."""
    config = _validated(params, None)
    if family is not None and family not in families.known():
        raise ConfigError(f"model family {family!r} is unknown; known: {', '.join(families.known())}")
    for name in config.families:
        if name != family:
            _validated(params, name)
    return _validated(params, family) if family else config


def load_config(path: str | Path = "params.yaml", family: str | None = None) -> Config:
    """params.yaml validated; with `family`, as that family's stages read it (config_from_params)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: not found; run from the project root, where params.yaml lives")
    return config_from_params(yaml.safe_load(path.read_text()) or {}, family)
