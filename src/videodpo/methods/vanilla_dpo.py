"""vanilla_dpo: two base generations of each training caption from independent noise, the steadier
(by `dense_dpo.labeller`, as whole clips) preferred; ties are dropped. Trains with dpo's loop
(`training`). The labelled pair settings here are also dense_dpo's."""

from __future__ import annotations

import math
from typing import Literal

from videodpo import families
from videodpo.config import Config, DenseDPOSettings, Section, ToyworldSettings
from videodpo.methods import Empty
from videodpo.methods.dpo import DPOTrainSettings, dpo_train_settings, encode_latents, train  # noqa: F401 (dpo's steps are this method's)

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    'Video DPO as usually done: two base generations of a training caption from independent noise, the steadier one (by a labeller) preferred over the whole clip; ties dropped. The baseline DenseDPO is measured against.'
)


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
    dense = config.dense_dpo
    families.frame_segments(config.family or config.families[0], config.data.frames, dense.segment_frames)
    if dense.labeller == "oracle" and config.model.source != "toy":
        raise ValueError("dense_dpo.labeller oracle reads toy-world clips only; use warping_error or your own on the hub tiers")


def labelled_pair_settings(config: Config, kind: str, label_budget: int | None = None) -> LabelledPairSettings:
    check_labelling(config)
    data = config.data
    return LabelledPairSettings(
        kind=kind, num_pairs=data.num_pairs, seed=data.seed, dense=config.dense_dpo, label_budget=label_budget,
        train_prompts=config.train_prompts_file(), source=config.model.source, gt_videos=data.gt_videos, frames=data.frames,
        frames_key=families.frames_key(config.family or config.families[0], config.tier),
        resolution=data.resolution, toyworld=config.toyworld, num_inference_steps=config.sample.num_inference_steps,
        guidance_scale=config.sample.guidance_scale, mixed_precision=config.training.mixed_precision,
    )


def clip_labels_asked(config: Config) -> int:
    """Labels vanilla_dpo asks for: one per pair."""
    return config.data.num_pairs


def third_of_vanilla_labels(config: Config) -> int:
    """dense_dpo_third's label budget: a third of the clip labels vanilla_dpo asks for."""
    return max(1, math.floor(clip_labels_asked(config) / 3))


def settings(config: Config) -> dict[str, Section]:
    return {"pairs": labelled_pair_settings(config, "vanilla"), "latents": Empty(), "train": dpo_train_settings(config)}


def make_pairs(branch, settings: LabelledPairSettings, state) -> None:
    from videodpo.pairs import labelled

    labelled.make_labelled_pairs(branch, settings, state)
