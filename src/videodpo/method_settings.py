"""What each stage of a method's branch reads from params.yaml, resolved once by the branch's first stage.

DVC can put a method's name into the paths of the stages it expands from `methods`, but it cannot pick
a params section by that name (the DPO branch reads `data` and `training`, another method its own
section). So each branch starts with `settings@<method>`: it writes, per later stage of the branch, a
JSON file of exactly the settings that stage reads, and those stages depend on their file. A change
to one method's params rewrites only that method's files, so only its branch reruns.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from videodpo import outputs

from videodpo.config import DENSE_METHODS, ClipSettings, Config, prompt_set_file, DataSettings, DenseDPOSettings, Section, ToyworldSettings, TrainingSettings, VaderSettings


class DPOPairSettings(Section):
    """make_pairs@dpo: how pairs are made, and how the base model samples their winners."""

    data: DataSettings
    train_prompts: str  # the training prompt set's file (videodpo.prompts)
    num_inference_steps: int
    guidance_scale: float
    mixed_precision: str


class LabelledPairSettings(Section):
    """make_pairs of vanilla_dpo (two base generations from independent noise, one clip label) and
    of dense_dpo (two denoised corrupted copies of a ground-truth clip, a label per segment)."""

    kind: Literal["vanilla", "dense"]
    num_pairs: int
    seed: int
    dense: DenseDPOSettings  # η, segments, labeller and tie margin (vanilla: the labeller and margin)
    label_budget: int | None  # segments labelled in all (None: every segment of every pair)
    train_prompts: str  # vanilla: the training prompt set's file; dense on the toy model: what its ground truth renders
    source: str  # toy: ground truth rendered from toyworld; hub: read from gt_videos
    gt_videos: str
    frames: int
    resolution: int
    toyworld: ToyworldSettings
    num_inference_steps: int
    guidance_scale: float
    mixed_precision: str


class DPOTrainSettings(Section):
    """train@dpo: the DPO loop and the LoRA it trains."""

    training: TrainingSettings
    lora_rank: int
    lora_alpha: float
    guidance_scale: float
    validation_steps: int  # the evaluation's sampler, for the validation scores
    validation_prompts: str  # the training prompt set's file: validation samples its first prompts with seeds of its own


class VaderQuerySettings(Section):
    """make_pairs@vader: the training queries (caption, seed) and the reference model's clip of each."""

    queries: int
    seed: int
    train_prompts: str  # the training prompt set's file, taken in turn
    num_inference_steps: int
    guidance_scale: float
    mixed_precision: str


class VaderTrainSettings(Section):
    """train@vader: the reward-gradient loop, its sampler and the LoRA it trains."""

    vader: VaderSettings
    clip: ClipSettings  # the clip_text reward's model (the vjepa reward's is the vjepa stage's output)
    guidance_scale: float
    mixed_precision: str
    gradient_checkpointing: bool
    lora_rank: int
    lora_alpha: float
    validation_steps: int  # the evaluation's sampler, for the validation scores
    validation_prompts: str  # the training prompt set's file: validation samples its first prompts with seeds of its own


NUM_TRAIN_TIMESTEPS = 1000  # the noise schedule of every tier's model (SD1.5's and the toy model's)

# per method: the settings file of each stage that reads params, by stage
BRANCH_SETTINGS: dict[str, dict[str, type[Section]]] = {
    "dpo": {"pairs": DPOPairSettings, "train": DPOTrainSettings},
    "vader": {"pairs": VaderQuerySettings, "train": VaderTrainSettings},
    "vanilla_dpo": {"pairs": LabelledPairSettings, "train": DPOTrainSettings},
    "dense_dpo": {"pairs": LabelledPairSettings, "train": DPOTrainSettings},
    "dense_dpo_third": {"pairs": LabelledPairSettings, "train": DPOTrainSettings},
}


def third_of_vanilla_labels(config: Config) -> int:
    """dense_dpo_third's label budget: a third of the clip labels vanilla_dpo asks for (one per pair)."""
    return max(1, math.floor(config.data.num_pairs / 3))


def dense_training(config: Config) -> TrainingSettings:
    """`training` for guided pairs: DPO timesteps only below η (at most `training.max_timestep`).
    Above it the two copies are the same ground truth under more noise; their details, where the
    labels lie, were made below it, so higher timesteps add gradient noise and no preference."""
    below_eta = round(config.dense_dpo.eta * NUM_TRAIN_TIMESTEPS)
    return config.training.model_copy(update={"max_timestep": min(config.training.max_timestep, below_eta)})


def _dpo_train(config: Config, train_prompts: str, training: TrainingSettings | None = None) -> DPOTrainSettings:
    return DPOTrainSettings(
        training=training or config.training, lora_rank=config.model.lora_rank, lora_alpha=config.model.lora_alpha,
        guidance_scale=config.sample.guidance_scale, validation_steps=config.sample.num_inference_steps,
        validation_prompts=train_prompts,
    )


def branch_settings(config: Config, method: str) -> dict[str, Section]:
    """The settings of every stage of `method`'s branch, from the validated config."""
    if method not in config.methods:
        raise ValueError(f"{method!r} is not in params `methods` ({', '.join(config.methods)}): add it there to run its branch")
    train_prompts = str(prompt_set_file(config.prompts.train, config.model.source))
    if method == "dpo":
        return {
            "pairs": DPOPairSettings(
                data=config.data, train_prompts=train_prompts, num_inference_steps=config.sample.num_inference_steps,
                guidance_scale=config.sample.guidance_scale, mixed_precision=config.training.mixed_precision,
            ),
            "train": _dpo_train(config, train_prompts),
        }
    if method in ("vanilla_dpo", "dense_dpo", "dense_dpo_third"):
        data = config.data
        pairs = LabelledPairSettings(
            kind="vanilla" if method == "vanilla_dpo" else "dense", num_pairs=data.num_pairs, seed=data.seed,
            dense=config.dense_dpo, label_budget=third_of_vanilla_labels(config) if method == "dense_dpo_third" else None,
            train_prompts=train_prompts,
            source=config.model.source, gt_videos=data.gt_videos, frames=data.frames, resolution=data.resolution,
            toyworld=config.toyworld, num_inference_steps=config.sample.num_inference_steps,
            guidance_scale=config.sample.guidance_scale, mixed_precision=config.training.mixed_precision,
        )
        training = dense_training(config) if method in DENSE_METHODS else config.training
        return {"pairs": pairs, "train": _dpo_train(config, train_prompts, training)}
    if method == "vader":
        vader, training = config.vader, config.training
        return {
            "pairs": VaderQuerySettings(
                queries=vader.queries, seed=vader.seed, train_prompts=train_prompts, num_inference_steps=vader.num_inference_steps,
                guidance_scale=config.sample.guidance_scale, mixed_precision=training.mixed_precision,
            ),
            "train": VaderTrainSettings(
                vader=vader, clip=config.reward_models.clip, guidance_scale=config.sample.guidance_scale, mixed_precision=training.mixed_precision,
                gradient_checkpointing=training.gradient_checkpointing, lora_rank=config.model.lora_rank,
                lora_alpha=config.model.lora_alpha, validation_steps=config.sample.num_inference_steps,
                validation_prompts=train_prompts,
            ),
        }
    raise ValueError(f"no branch settings for method {method!r}")


def settings_path(folder: str | Path, stage: str) -> Path:
    return Path(folder) / f"{stage}.json"


def write_branch_settings(folder: str | Path, settings: dict[str, Section]) -> None:
    for stage, values in settings.items():
        outputs.write_json(settings_path(folder, stage), values.model_dump(mode="json"))


def read_stage_settings(folder: str | Path, method: str, stage: str) -> Section:
    """One stage's settings as `settings@<method>` wrote them, validated again."""
    path = settings_path(folder, stage)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; it is written by the stage settings@{method} (run `dvc repro settings@{method}`)")
    return BRANCH_SETTINGS[method][stage].model_validate_json(path.read_text())
