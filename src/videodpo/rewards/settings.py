"""What params may name of the rewards, and the `reward_models` section: the rewards by name (the
registry asserts it has exactly these), the weights' checks for a method's section, and the scorer
models' settings. Light on purpose: every stage's params check imports it, and it imports no model code."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from videodpo.core.params import Section, refusing

REWARD_NAMES = ("temporal", "brightness", "vjepa", "clip_text")  # differentiable in the frames: VADER's
SCORED_REWARDS = ("flow_warping", "oracle")  # scores without a gradient: GRPO's, beside VADER's and module:function
MODEL_REWARDS = ("vjepa", "clip_text")  # rewards scored by a model of reward_models (load_scorers)
GUARD_TERMS = ("contrast", "colour", "layout")  # what appearance_guard returns


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


# a method's params key of reward weights by name: any reward (GRPO), or only those with a gradient (VADER)
RewardWeights = Annotated[dict[str, float], refusing(lambda weights: reward_weights_problem(weights, differentiable=False))]
DifferentiableRewardWeights = Annotated[dict[str, float], refusing(lambda weights: reward_weights_problem(weights, differentiable=True))]
GuardWeights = Annotated[dict[str, float], refusing(guard_weights_problem)]  # appearance_guard terms, a penalty


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
    """params `reward_models`: the models some rewards score with."""

    vjepa: VjepaSettings = VjepaSettings()
    clip: ClipSettings = ClipSettings()
