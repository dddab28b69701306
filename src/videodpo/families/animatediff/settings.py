"""The `animatediff` params section: where the hub model comes from, the toy model's sizes and its
pretraining, and the family's own values of other sections (`overrides`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from videodpo.core.params import Section

LORA_TARGETS = ("motion", "motion_and_spatial")  # what a LoRA may adapt (motion: the motion modules' attention; motion_and_spatial: and the spatial attention)


class HubSettings(Section):
    """Where the real model comes from; a revision is a branch, tag or commit (a commit pins it;
    scripts/pin_hub_revisions.py writes the commits a branch points at)."""

    base: str = "emilianJR/epiCRealism"
    revision: str = Field(default="main", min_length=1)
    motion_adapter: str = "guoyww/animatediff-motion-adapter-v1-5-2"
    motion_adapter_revision: str = Field(default="main", min_length=1)


class ToyArchitectureSettings(Section):
    vae_channels: list[int] = Field(default=[16, 32, 64], min_length=1)
    unet_channels: list[int] = Field(default=[32, 64], min_length=1)
    text_width: int = Field(default=32, gt=0)
    text_layers: int = Field(default=2, gt=0)
    motion_heads: int = Field(default=4, gt=0)


class PretrainSettings(Section):
    seed: int = 0
    clips_per_caption: int = Field(default=60, gt=0)
    vae_steps: int = Field(default=1000, ge=0)
    vae_batch_frames: int = Field(default=32, gt=0)
    vae_lr: float = Field(default=1.5e-3, gt=0)
    image_steps: int = Field(default=1100, ge=0)
    image_batch_frames: int = Field(default=32, gt=0)
    image_lr: float = Field(default=1.5e-3, gt=0)
    image_timestep_power: float = Field(default=0.6, gt=0)
    motion_steps: int = Field(default=600, ge=0)
    motion_batch_clips: int = Field(default=8, gt=0)
    motion_lr: float = Field(default=3e-3, gt=0)
    spatial_lr_scale: float = Field(default=0.1, ge=0)
    motion_trains: Literal["motion", "motion_and_text", "motion_and_spatial"] = "motion_and_spatial"
    image_trains_text_encoder: bool = True
    caption_dropout: float = Field(default=0.1, ge=0, lt=1)
    shared_noise: float = Field(default=0.5, ge=0, le=1)
    layout_share: float = Field(default=0.0, ge=0, le=1)
    layout_timesteps_from: int = Field(default=900, ge=0, le=999)


class AnimateDiffSettings(Section):
    hub: HubSettings = HubSettings()
    toy: ToyArchitectureSettings = ToyArchitectureSettings()
    pretrain: PretrainSettings = PretrainSettings()
    overrides: dict[str, Any] = Field(default_factory=dict)  # the family's values of other sections (config.family_overlay)


SETTINGS = AnimateDiffSettings


def frame_segments(frames: int, segment_frames: int) -> list[range]:
    """Consecutive windows of `segment_frames` frames: the VAE is 2-D, so any divisor of the frames
    gives segments of whole latent frames."""
    if segment_frames <= 0 or frames % segment_frames:
        divisors = [d for d in range(1, frames + 1) if frames % d == 0]
        raise ValueError(
            f"dense_dpo.segment_frames: {segment_frames} does not divide the clips' {frames} frames: pick a divisor of "
            f"{frames} ({', '.join(map(str, divisors))})"
        )
    return [range(start, start + segment_frames) for start in range(0, frames, segment_frames)]


def latent_segments(segments, pixel_frames: int) -> list[range]:
    """The latent frames of each segment of pixel frames: the same frames (the VAE is 2-D)."""
    return [range(part.start, part.stop) for part in segments]


def noise_timestep(eta: float, steps: int) -> int:
    """DDIM's timesteps are spaced evenly over the schedule: η of the way is timestep η · 1000."""
    return round(eta * 1000)
