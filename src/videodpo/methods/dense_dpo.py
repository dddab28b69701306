"""dense_dpo: DenseDPO. Two corrupted copies of one ground-truth clip (noised to η and denoised by the
base), labelled per segment of frames by `dense_dpo.labeller`; DPO (`training`) with a term per
labelled segment, on timesteps below η only. Its section, `dense_dpo`, also holds the labeller and
tie margin that vanilla_dpo's whole-clip labels use, and its pair settings are the labelled methods'."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from videodpo import families
from videodpo.core.params import Section
from videodpo.methods import Empty
from videodpo.methods.dpo import DPOTrainSettings, dpo_train_settings, train  # noqa: F401 (dpo's train step is this method's)
from videodpo.methods.dpo import encode_latents as encode_pair_latents
from videodpo.toyworld import ToyworldSettings
from videodpo.training.settings import TrainingSettings

if TYPE_CHECKING:
    from videodpo.config import Config

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    'DenseDPO: each pair is two denoised corrupted copies of one ground-truth clip (same motion, different details), labelled per segment of frames by a labeller; one DPO term per labelled segment.'
)

LABELLERS = ("warping_error", "oracle", "human")  # pairs.labellers' built-ins, people on the labelling page; or module:function


class DenseDPOSettings(Section):
    """params `dense_dpo` (read by dense_dpo, dense_dpo_third and vanilla_dpo): how pairs are made and labelled.

    Pairs count and seeds come from `data` (num_pairs, seed), so every DPO method gets the same budget."""

    eta: float = Field(default=0.6, gt=0, le=1)  # corruption level of the ground truth's two copies
    copy_shared_noise: float | None = Field(default=0.0, ge=0, le=1)  # None: the model's own share
    segment_frames: int = Field(default=4, gt=0)  # frames per labelled segment
    labeller: str = Field(default="warping_error", min_length=1)  # a built-in, human (python -m videodpo.label) or module:function
    tie_margin: float = Field(default=0.5, ge=0, lt=1)  # relative score gap under which a segment ties

    @field_validator("labeller")
    @classmethod
    def _known_labeller(cls, name: str) -> str:
        module, colon, function = name.partition(":")
        if name not in LABELLERS and not (colon and module and function):
            raise ValueError(f"not a labeller; name one of {', '.join(LABELLERS)}, or your own as module:function (importable with PYTHONPATH=src)")
        return name


SECTION = DenseDPOSettings  # params `dense_dpo`


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
    frames_key: str = "data.frames"  # the params key that sets `frames` for this family (named when a video is too short)
    resolution: int
    toyworld: ToyworldSettings
    num_inference_steps: int
    guidance_scale: float
    mixed_precision: str


SETTINGS = {"pairs": LabelledPairSettings, "latents": Empty, "train": DPOTrainSettings}


def check_labelling(config: Config) -> None:
    """The `dense_dpo` section's labeller and segments fit the tier (every labelled method reads them)."""
    dense = config.method_section("dense_dpo")
    families.frame_segments(config.family or config.families[0], config.data.frames, dense.segment_frames)
    if dense.labeller == "oracle" and config.model.source != "toy":
        raise ValueError("dense_dpo.labeller oracle reads toy-world clips only; use warping_error or your own on the hub tiers")


def labelled_pair_settings(config: Config, kind: str, label_budget: int | None = None) -> LabelledPairSettings:
    check_labelling(config)
    data = config.data
    return LabelledPairSettings(
        kind=kind, num_pairs=data.num_pairs, seed=data.seed, dense=config.method_section("dense_dpo"), label_budget=label_budget,
        train_prompts=config.train_prompts_file(), source=config.model.source, gt_videos=data.gt_videos, frames=data.frames,
        frames_key=families.frames_key(config.family or config.families[0], config.tier),
        resolution=data.resolution, toyworld=config.toyworld, num_inference_steps=config.sample.num_inference_steps,
        guidance_scale=config.sample.guidance_scale, mixed_precision=config.training.mixed_precision,
    )


def dense_training(config: Config) -> TrainingSettings:
    """`training` for guided pairs: DPO timesteps only below the noise level the copies start from at
    η (its family's timestep of it; at most `training.max_timestep`). Above it the two copies are the
    same ground truth under more noise; their details, where the labels lie, were made below it, so
    higher timesteps add gradient noise and no preference."""
    family = config.family or config.families[0]
    below_eta = families.noise_timestep(family, config.method_section("dense_dpo").eta, config.sample.num_inference_steps)
    return config.training.model_copy(update={"max_timestep": min(config.training.max_timestep, below_eta)})


def check_ground_truth(config: Config) -> None:
    if config.model.source == "hub" and not Path(config.data.gt_videos).is_dir():
        raise ValueError(
            f"data.gt_videos: {config.data.gt_videos!r} is not a folder; dense_dpo on the hub tiers denoises your own "
            "captioned videos (see README, DenseDPO): point data.gt_videos at them, or drop the dense methods from methods"
        )


def settings(config: Config, label_budget: int | None = None) -> dict[str, Section]:
    pairs = labelled_pair_settings(config, "dense", label_budget)
    check_ground_truth(config)
    dense = config.method_section("dense_dpo")
    segments = families.latent_segments(config.family or config.families[0], config.data.frames, dense.segment_frames)
    return {"pairs": pairs, "latents": Empty(), "train": dpo_train_settings(config, dense_training(config), segments)}


def make_pairs(branch, settings: LabelledPairSettings, state) -> None:
    from videodpo.pairs import labelled

    labelled.make_labelled_pairs(branch, settings, state)


def encode_latents(branch, settings: Empty, state) -> None:
    """dpo's encode_latents on the labelled pairs. Pairs left to people (`dense_dpo.labeller: human`)
    first take their labels from labels/<family>/<method>.jsonl; one missing stops the stage before
    any model loads, naming the command that opens the labelling page."""
    from videodpo.labelling import training_labels

    if training_labels.left_to_people(branch):
        training_labels.encode_peoples_pairs(branch, state)
    else:
        encode_pair_latents(branch, settings, state)
