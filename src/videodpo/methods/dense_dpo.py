"""dense_dpo: DenseDPO. Two corrupted copies of one ground-truth clip (noised to η and denoised by the
base), labelled per segment of frames by `dense_dpo.labeller`; DPO (`training`) with a term per
labelled segment, on timesteps below η only."""

from __future__ import annotations

from pathlib import Path

from videodpo import families
from videodpo.config import Config, Section, TrainingSettings
from videodpo.methods import Empty
from videodpo.methods.dpo import NUM_TRAIN_TIMESTEPS, dpo_train_settings, encode_latents, train  # noqa: F401 (dpo's steps are this method's)
from videodpo.methods.vanilla_dpo import SETTINGS, labelled_pair_settings, make_pairs  # noqa: F401 (vanilla's pair maker, kind dense)

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    'DenseDPO: each pair is two denoised corrupted copies of one ground-truth clip (same motion, different details), labelled per segment of frames by a labeller; one DPO term per labelled segment.'
)


def dense_training(config: Config) -> TrainingSettings:
    """`training` for guided pairs: DPO timesteps only below the noise level the copies start from at
    η (its family's timestep of it; at most `training.max_timestep`). Above it the two copies are the
    same ground truth under more noise; their details, where the labels lie, were made below it, so
    higher timesteps add gradient noise and no preference."""
    family = config.family or config.families[0]
    below_eta = families.noise_timestep(family, config.dense_dpo.eta, config.sample.num_inference_steps)
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
    segments = families.latent_segments(config.family or config.families[0], config.data.frames, config.dense_dpo.segment_frames)
    return {"pairs": pairs, "latents": Empty(), "train": dpo_train_settings(config, dense_training(config), segments)}
