"""params.yaml → one typed, validated config, with the chosen tier's preset merged in.

Every bad value is reported with its key, the value given and what is allowed, before any heavy
work starts. A tier preset owns its keys: setting the same key in a section too is an error, so
`dvc exp run -S tier=t4` always means exactly the t4 preset.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

TIERS = ("cpu", "t4", "l4", "a100")
LABELLERS = ("warping_error", "oracle")  # videodpo.pairs.labellers' built-ins; or module:function


class ConfigError(ValueError):
    """A params.yaml value is missing or not allowed; the message names the key and the fix."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PreviewSettings(Section):
    """The base stage's own look at its model: samples, contact sheet and oracle scores."""

    seeds_per_caption: int = Field(default=2, gt=0, le=1000)  # keeps preview seeds below pair seeds (videodpo.core.seeds)
    steps: int = Field(default=20, gt=0)
    guidance_scale: float = Field(default=4.0, ge=1)


class ModelSettings(Section):
    """What every family's model shares; each family's own models are its section (`animatediff`, `wan`)."""

    source: Literal["toy", "hub"] = "toy"
    preview: PreviewSettings = PreviewSettings()
    lora_rank: int = Field(default=4, gt=0)
    lora_alpha: float = Field(default=4.0, gt=0)


class ToyworldSettings(Section):
    frame_size: int = Field(default=32, ge=16)
    frames: int = Field(default=8, ge=2)
    radius: float = Field(default=6.0, gt=0)
    speed: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _shape_fits(self) -> "ToyworldSettings":
        travel = self.speed * (self.frames - 1)
        if 2 * (self.radius + 1) + travel > self.frame_size:
            raise ValueError(
                f"a shape of radius {self.radius} moving {self.speed} px/frame for {self.frames} frames "
                f"does not fit in {self.frame_size} px: lower radius, speed or frames, or raise frame_size"
            )
        return self


# the loser makers of videodpo.pairs.jitter (names only here, so the config imports no model code)
JITTER_METHODS = ("noise", "renormalised", "shake", "stutter", "amplify", "img2img")


class DataSettings(Section):
    num_pairs: int = Field(default=64, gt=0, le=10_000)  # each data.seed owns a block of 10 000 pair seeds
    frames: int = Field(default=8, ge=2)
    resolution: int = Field(default=32, ge=16)
    jitter_method: str | list[str] = "amplify"  # one maker, or a mix taken in turn
    jitter_strength: float = Field(default=0.5, ge=0)
    appearance_tolerance: float = Field(default=0.05, gt=0)  # largest relative contrast/saturation gap of a kept pair
    candidates_per_pair: int = Field(default=1, ge=1, le=100)  # the winner is the steadiest (lowest warping error) of this many generations
    seed: int = Field(default=0, ge=0, le=999)  # bounds keep pair seeds apart from evaluation seeds (videodpo.core.seeds)
    gt_videos: str = Field(default="videos", min_length=1)  # dense_dpo on the hub tiers: captioned videos (videodpo.pairs.user_videos)

    @field_validator("jitter_method")
    @classmethod
    def _known_makers(cls, method: str | list[str]) -> str | list[str]:
        names = [method] if isinstance(method, str) else method
        unknown = [name for name in names if name not in JITTER_METHODS]
        if unknown or not names:
            raise ValueError(f"{unknown or 'an empty list'} is not a loser maker; name one of {', '.join(JITTER_METHODS)}, or a list of them")
        return method


class TrainingSettings(Section):
    max_steps: int = Field(default=100, gt=0)
    beta: float = Field(default=2500.0, gt=0)
    learning_rate: float = Field(default=1e-4, gt=0)
    batch_size: int = Field(default=4, gt=0)
    gradient_accumulation_steps: int = Field(default=1, gt=0)
    # "fp32", not "no": `dvc exp run -S` rewrites params.yaml unquoted, and YAML reads no as false
    mixed_precision: Literal["fp32", "fp16", "bf16"] = "fp32"
    gradient_checkpointing: bool = False
    memory_optimized: bool = True
    # anchor: keep the policy as good as the reference on winners, so it cannot drift in appearance
    sft_weight: float = Field(default=0.0, ge=0)
    max_timestep: int = Field(default=1000, gt=0, le=1000)  # DPO on timesteps [0, max_timestep)
    val_every: int = Field(default=20, ge=0)  # steps between validation scores; 0 = none
    checkpoint_every: int = Field(default=25, gt=0)  # steps between resumable checkpoints (and at SIGTERM)
    seed: int = 0


# the rewards and guard terms of videodpo.rewards (names only here, so the config imports no model code)
REWARD_NAMES = ("temporal", "brightness", "vjepa", "clip_text")  # differentiable in the frames: VADER's
SCORED_REWARDS = ("flow_warping", "oracle")  # scores without a gradient: GRPO's, beside VADER's and module:function
MODEL_REWARDS = ("vjepa", "clip_text")  # rewards scored by a model of reward_models
GUARD_TERMS = ("contrast", "colour", "layout")


def is_user_reward(name: str) -> bool:
    """`module:function`: the user's own reward, importable from the stage's PYTHONPATH (never differentiable)."""
    module, colon, function = name.partition(":")
    return bool(colon and module and function)


def reward_weights_problem(weights: dict[str, float], differentiable: bool) -> str | None:
    """What is wrong with a reward weighting, for a params error (None: nothing): an unknown name, no
    weight at all, or, for a method that back-propagates its reward (`differentiable`), a reward with no gradient."""
    known = REWARD_NAMES if differentiable else REWARD_NAMES + SCORED_REWARDS
    unknown = sorted(name for name in weights if name not in REWARD_NAMES + SCORED_REWARDS and not is_user_reward(name))
    if unknown:
        return f"unknown reward(s) {', '.join(unknown)}: known rewards are {', '.join(known)}" + ("" if differentiable else ", or your own as module:function")
    if not any(weights.values()):
        return f"no reward with a weight; weigh one or more of {', '.join(known)}, e.g. {{brightness: 1.0}}"
    scored = sorted(name for name in weights if name not in REWARD_NAMES)
    if differentiable and scored:
        return (f"reward(s) {', '.join(scored)} have no gradient, and vader back-propagates its reward through the sampler; "
                f"train grpo with them (it needs none), or weigh {', '.join(REWARD_NAMES)}")
    return None


def guard_weights_problem(weights: dict[str, float]) -> str | None:
    """What is wrong with appearance-guard weights (None: nothing)."""
    unknown = sorted(set(weights) - set(GUARD_TERMS))
    if unknown or any(w < 0 for w in weights.values()):
        problem = f"unknown {unknown}" if unknown else "a negative weight"
        return f"{problem}; weigh any of {', '.join(GUARD_TERMS)} with weights ≥ 0"
    return None


def _refusing(problem_of) -> AfterValidator:
    """A field check that raises what `problem_of(value)` finds wrong (the params error names the key)."""

    def check(value):
        problem = problem_of(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


# the weights of a method's rewards, by name: any reward (GRPO), or only those with a gradient (VADER)
RewardWeights = Annotated[dict[str, float], _refusing(lambda weights: reward_weights_problem(weights, differentiable=False))]
DifferentiableRewardWeights = Annotated[dict[str, float], _refusing(lambda weights: reward_weights_problem(weights, differentiable=True))]
GuardWeights = Annotated[dict[str, float], _refusing(guard_weights_problem)]  # appearance_guard terms, a penalty


class VjepaSettings(Section):
    """The V-JEPA 2 of the `vjepa` reward: trained by the vjepa stage on the embedded default, the
    published weights on the hub tiers."""

    hub: str = "facebook/vjepa2-vitl-fpc64-256"
    revision: str = Field(default="main", min_length=1)
    clips_per_caption: int = Field(default=15, gt=0)  # ground-truth toy clips of each training caption
    steps: int = Field(default=300, gt=0)
    batch_clips: int = Field(default=16, gt=0)
    learning_rate: float = Field(default=1e-3, gt=0)
    ema: float = Field(default=0.99, ge=0, lt=1)
    seed: int = Field(default=0, ge=0)


class ClipSettings(Section):
    """The CLIP of the `clip_text` reward (hub weights; none is trained here)."""

    hub: str = "openai/clip-vit-base-patch32"
    revision: str = Field(default="main", min_length=1)


class RewardModelSettings(Section):
    vjepa: VjepaSettings = VjepaSettings()
    clip: ClipSettings = ClipSettings()


class VaderSettings(Section):
    """vader: LoRA trained up the gradient of rewards on the policy's own samples."""

    max_steps: int = Field(default=40, gt=0)
    clips_per_step: int = Field(default=2, gt=0)
    learning_rate: float = Field(default=1e-2, gt=0)
    lr_schedule: Literal["constant", "cosine"] = "cosine"  # cosine: from learning_rate down to 0 at max_steps
    num_inference_steps: int = Field(default=10, gt=0)  # DDIM steps of the training samples
    backprop: Literal["last", "random", "all"] = "all"  # which denoising steps carry gradients
    backprop_steps: int = Field(default=1, gt=0)  # K, for backprop: last
    decode_frames: int = Field(default=0, ge=0)  # a random window of this many consecutive latent frames (wan: 4 pixel frames each); 0 = all
    rewards: DifferentiableRewardWeights = Field(default_factory=lambda: {"temporal": 1.0, "brightness": 1.0})
    guard: GuardWeights = Field(default_factory=lambda: {"contrast": 20.0, "colour": 1.0, "layout": 1.0})
    lora_targets: str = "motion_and_spatial"  # attention the LoRA adapts: one of the family's (videodpo.families.lora_targets)
    queries: int = Field(default=64, gt=0, le=10_000)  # training (caption, seed) queries; seeds from videodpo.core.seeds
    val_every: int = Field(default=10, ge=0)  # steps between validation scores; 0 = none
    checkpoint_every: int = Field(default=10, gt=0)  # steps between resumable checkpoints (and at SIGTERM)
    seed: int = Field(default=0, ge=0, le=999)

    @model_validator(mode="after")
    def _steps_fit(self) -> "VaderSettings":
        if self.backprop_steps > self.num_inference_steps:
            raise ValueError(f"backprop_steps {self.backprop_steps} > num_inference_steps {self.num_inference_steps}: K counts sampling steps")
        if self.decode_frames == 1:
            raise ValueError("decode_frames 1: a temporal reward needs two or more consecutive frames (0 decodes all)")
        if self.rewards.get("vjepa") and self.decode_frames % 2:
            raise ValueError(f"decode_frames {self.decode_frames}: the vjepa reward reads 2-frame tubelets; decode an even number of frames (0 decodes all)")
        return self


class DenseDPOSettings(Section):
    """dense_dpo (and dense_dpo_third, vanilla_dpo): how pairs are made and labelled.

    Pairs count and seeds come from `data` (num_pairs, seed), so every DPO method gets the same budget."""

    eta: float = Field(default=0.6, gt=0, le=1)  # corruption level of the ground truth's two copies
    copy_shared_noise: float | None = Field(default=None, ge=0, le=1)  # None: the model's own share
    segment_frames: int = Field(default=2, gt=0)  # frames per labelled segment
    labeller: str = Field(default="warping_error", min_length=1)  # a built-in or module:function
    tie_margin: float = Field(default=0.05, ge=0, lt=1)  # relative score gap under which a segment ties

    @field_validator("labeller")
    @classmethod
    def _known_labeller(cls, name: str) -> str:
        module, colon, function = name.partition(":")
        if name not in LABELLERS and not (colon and module and function):
            raise ValueError(f"not a labeller; name one of {', '.join(LABELLERS)}, or your own as module:function (importable with PYTHONPATH=src)")
        return name


class SplitSizes(Section):
    """Evaluation samples per prompt in each split (videodpo.core.seeds), each sample with its own seed."""

    dev: int = Field(default=6, gt=0)  # settings are chosen on these
    test: int = Field(default=6, gt=0)  # the README reports these; no choice has seen them


class SampleSettings(Section):
    seeds_per_prompt: SplitSizes = SplitSizes()
    num_inference_steps: int = Field(default=20, gt=0)
    guidance_scale: float = Field(default=4.0, ge=1)


BUILT_IN_PROMPT_SETS = {"toy": "toy.txt", "hub": "hub.txt"}  # model source → its set in a folder of built-in sets


def prompt_set_file(setting: str | Path, source: str) -> Path:
    """The file a `prompts.<role>` setting names: the file itself, or a folder's built-in set for
    the model `source` (toy | hub)."""
    path = Path(setting)
    return path / BUILT_IN_PROMPT_SETS[source] if path.is_dir() else path


class PromptSettings(Section):
    """The prompt sets (videodpo.core.prompts): each a file of one prompt per line, or a folder of built-in
    sets from which the model picks its own (toy.txt on the embedded default, hub.txt on the hub tiers)."""

    train: str = Field(default="prompts/train", min_length=1)  # pairs, and the queries reward methods train on
    eval: str = Field(default="prompts/eval", min_length=1)  # the evaluation samples: test split, and dev's unless `dev` names others
    dev: str = Field(default="prompts/eval", min_length=1)  # the dev split's prompts (with seeds of its own)

    def for_split(self, split: str) -> str:
        """The prompt set the evaluation split `split` samples."""
        return self.dev if split == "dev" else self.eval


class EvaluateSettings(Section):
    bootstrap_samples: int = Field(default=1000, gt=0)


class Config(Section):
    tier: Literal["cpu", "t4", "l4", "a100"] = "cpu"
    # what runs the stages that can use many processes (make_pairs, train, sample)
    launch: str = Field(default="python", min_length=1)
    # the model families to run, each a package of videodpo.families with its base, samples and branches
    families: list[str] = Field(default_factory=lambda: ["animatediff"])
    # the family a stage runs for (load_config(family=...)): its section's overrides are merged in
    family: str | None = None
    # each family's params section, named after it and validated by it (family_section)
    family_sections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # the alignment methods to run, each a module of videodpo.methods with a branch of stages in dvc.yaml
    methods: list[str] = Field(default_factory=lambda: list(_known_methods()))
    # the params sections of methods beyond the sections above, each named after its method and
    # validated by it (method_section)
    method_sections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    model: ModelSettings = ModelSettings()
    toyworld: ToyworldSettings = ToyworldSettings()
    data: DataSettings = DataSettings()
    training: TrainingSettings = TrainingSettings()
    vader: VaderSettings = VaderSettings()
    reward_models: RewardModelSettings = RewardModelSettings()
    dense_dpo: DenseDPOSettings = DenseDPOSettings()
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
        for field, known in (("method_sections", _known_methods()), ("family_sections", _known_families())):
            own = {key: value for key, value in values.items() if key not in cls.model_fields and key in known}
            if own:
                values = {key: value for key, value in values.items() if key not in own}
                values[field] = {**values.get(field, {}), **own}
        return values

    @field_validator("families")
    @classmethod
    def _listed_families_are_known(cls, families: list[str]) -> list[str]:
        known = _known_families()
        unknown = [name for name in families if name not in known]
        if unknown or not families or len(set(families)) != len(families):
            problem = f"unknown {unknown}" if unknown else "an empty list" if not families else "a name listed twice"
            raise ValueError(f"{problem}; list one or more of the known model families: {', '.join(known)}")
        return families

    def family_section(self, family: str | None = None) -> Section:
        """A family's own params section (named after it; this stage's family by default), validated by its class."""
        from videodpo import families

        name = family or self.family
        if name is None:
            raise ValueError("no model family: load the config with load_config(family=...)")
        try:
            return families.family_settings(name).model_validate(self.family_sections.get(name, {}))
        except ValidationError as error:
            raise ValueError(_format_errors(error, prefix=f"{name}.")) from None

    @field_validator("methods")
    @classmethod
    def _listed_methods_are_known(cls, methods: list[str]) -> list[str]:
        known = _known_methods()
        unknown = [name for name in methods if name not in known]
        if unknown or not methods or len(set(methods)) != len(methods):
            problem = f"unknown {unknown}" if unknown else "an empty list" if not methods else "a name listed twice"
            raise ValueError(f"{problem}; list one or more of the known methods: {', '.join(known)}")
        return methods

    def train_prompts_file(self) -> str:
        """The training prompt set's file for this tier (a folder of built-in sets gives its toy.txt or hub.txt)."""
        return str(prompt_set_file(self.prompts.train, self.model.source))

    def method_section(self, method: str, section: type[Section]) -> Section:
        """A method's own params section (named after it), validated by its Section class."""
        try:
            return section.model_validate(self.method_sections.get(method, {}))
        except ValidationError as error:
            raise ValueError(_format_errors(error, prefix=f"{method}.")) from None

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


def _known_families() -> tuple[str, ...]:
    from videodpo import families

    return families.known()


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


def _known_methods() -> tuple[str, ...]:
    from videodpo import methods

    return methods.known()


def _format_errors(error: ValidationError, prefix: str = "") -> str:
    lines = []
    for item in error.errors():
        key = prefix + ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (check its spelling and section)")
        elif isinstance(item.get("input"), (dict, list)):
            lines.append(f"{key}: {item['msg']}")
        else:
            lines.append(f"{key}: {item['msg']} (got {item.get('input')!r})")
    return "params.yaml is not valid:\n  " + "\n  ".join(lines)


def _validated(params: dict[str, Any], family: str | None) -> Config:
    from videodpo import families, methods

    where = f" for model family {family} (its section's overrides merged)" if family else ""
    try:
        config = Config.model_validate(merge_tier(family_overlay(params, family) if family else params))
    except ValidationError as error:
        raise ConfigError(_format_errors(error).replace("is not valid:", f"is not valid{where}:", 1)) from None
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
    if family is not None and family not in _known_families():
        raise ConfigError(f"model family {family!r} is unknown; known: {', '.join(_known_families())}")
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
