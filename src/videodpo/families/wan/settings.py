"""The `wan` params section: where the hub model comes from, the toy model's sizes and its
pretraining, and the family's own values of other sections (`overrides`: the toy Wan's clips have
4k + 1 frames, and its DPO's β suits velocity errors)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from videodpo.core.params import Section

HUB_MODEL = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
FLOW_SHIFT = 3.0  # the Euler sampler's shift: the toy Wan's, and the 1.3B pipeline's for 480p


LORA_TARGETS = ("self_attention", "self_and_cross_attention")  # what a LoRA may adapt (self_attention: the attention over every frame's tokens, where Wan models motion; self_and_cross_attention: and the prompt's)


class WanHubSettings(Section):
    """The hub Wan; a revision is a branch, tag or commit (scripts/pin_hub_revisions.py pins it)."""

    base: str = HUB_MODEL
    revision: str = Field(default="main", min_length=1)


class WanToySettings(Section):
    """Sizes of the toy Wan (frames and frame size come from `toyworld`)."""

    latent_channels: int = Field(default=16, gt=0)
    vae_base: int = Field(default=8, gt=0)
    vae_levels: int = Field(default=3, ge=3)
    vae_residual: bool = False
    heads: int = Field(default=2, gt=0)
    # Wan's rotary positions give each spatial axis head_width // 6 frequencies: below 4 of them
    # the transformer barely tells latent positions apart (shapes scatter, directions come out wrong)
    head_width: int = Field(default=32, ge=24)
    layers: int = Field(default=4, gt=0)
    text_width: int = Field(default=32, gt=0)
    text_layers: int = Field(default=2, gt=0)


class WanPretrainSettings(Section):
    seed: int = 0
    clips_per_caption: int = Field(default=60, gt=0)
    vae_frame_steps: int = Field(default=0, ge=0)
    vae_clip_steps: int = Field(default=4000, ge=0)
    vae_batch_frames: int = Field(default=32, gt=0)
    vae_batch_clips: int = Field(default=4, gt=0)
    vae_lr: float = Field(default=3e-3, gt=0)
    vae_edge_weight: float = Field(default=1.0, ge=1)
    vae_decode_mean: bool = False
    steps: int = Field(default=4000, ge=0)
    batch_clips: int = Field(default=16, gt=0)
    image_share: float = Field(default=0.25, ge=0, le=1)
    learning_rate: float = Field(default=1e-3, gt=0)
    text_lr_scale: float = Field(default=1.0, ge=0)
    timestep_shift: float = Field(default=3.0, gt=0)
    caption_dropout: float = Field(default=0.1, ge=0, lt=1)


class WanSettings(Section):
    hub: WanHubSettings = WanHubSettings()
    toy: WanToySettings = WanToySettings()
    pretrain: WanPretrainSettings = WanPretrainSettings()
    overrides: dict[str, Any] = Field(default_factory=dict)  # the family's values of other sections (config.family_overlay)


SETTINGS = WanSettings


def check(config) -> None:
    """What Wan cannot run, refused before any model loads, naming the key and the fix."""
    from videodpo.families.wan.frames import TEMPORAL_COMPRESSION

    tier = config.tier
    if config.training.mixed_precision == "fp16":
        raise ValueError(
            f"tiers.{tier}.training.mixed_precision: fp16, and Wan makes invalid videos in fp16: it needs bf16, which "
            f"tier {tier}'s GPUs lack (T4: Turing). Run wan on tier l4 or a100, or leave it out: -S 'families=[animatediff]'"
        )
    frames = config.data.frames
    if (frames - 1) % TEMPORAL_COMPRESSION:
        fit = frames - (frames - 1) % TEMPORAL_COMPRESSION
        raise ValueError(
            f"data.frames: {frames} (tier {tier}), but Wan's VAE makes clips of 4k + 1 frames: set "
            f"wan.overrides.tiers.{tier}.data.frames to {fit} or {fit + TEMPORAL_COMPRESSION}"
        )
    section = config.family_section("wan")
    multiple = 16 if config.model.source == "hub" else 2 ** (section.toy.vae_levels - 1)  # hub: VAE 8× and patches of 2
    if config.data.resolution % multiple:
        raise ValueError(
            f"data.resolution: {config.data.resolution} (tier {tier}), but Wan's frames are a multiple of {multiple} px: "
            f"set wan.overrides.tiers.{tier}.data.resolution to {config.data.resolution // multiple * multiple}"
        )


def frame_segments(frames: int, segment_frames: int) -> list[range]:
    """Windows of `segment_frames` frames after the first frame, which joins the first window. Wan's
    VAE keeps frame 0 alone in latent frame 0 and folds each next 4 frames into one latent frame, so
    with a multiple of 4 every segment holds whole latent frames and a label teaches only the frames
    it judged."""
    from videodpo.families.wan.frames import TEMPORAL_COMPRESSION

    step = TEMPORAL_COMPRESSION
    if segment_frames <= 0 or segment_frames % step or (frames - 1) % segment_frames:
        fits = [n for n in range(step, frames, step) if (frames - 1) % n == 0]
        raise ValueError(
            f"dense_dpo.segment_frames: {segment_frames} does not fit Wan's latent grouping of {frames} frames (frame 0 "
            f"alone, then {step} frames to a latent frame): a segment would cut a latent frame and its label teach frames "
            f"it did not judge. Give a multiple of {step} dividing {frames - 1} ({', '.join(map(str, fits))}): "
            f"wan.overrides.dense_dpo.segment_frames"
        )
    windows = [range(1 + start, 1 + start + segment_frames) for start in range(0, frames - 1, segment_frames)]
    return [range(0, windows[0].stop), *windows[1:]]


def latent_segments(segments, pixel_frames: int) -> list[range]:
    """The latent frames of each segment of pixel frames (videodpo.families.wan.frames)."""
    from videodpo.families.wan import frames

    return frames.latent_segments(segments, pixel_frames)


def noise_timestep(eta: float, steps: int) -> int:
    """The shifted flow sampler starts the last round(η · steps) of `steps` steps at noise level
    σ = shift · e / (1 + (shift − 1) · e), e = round(η · steps) / steps: timestep 1000 · σ, above η · 1000."""
    e = max(1, round(eta * steps)) / steps
    return round(1000 * FLOW_SHIFT * e / (1 + (FLOW_SHIFT - 1) * e))


def frames_key(tier: str) -> str:
    """Wan's clips take their frames from its overrides (4k + 1 of them)."""
    return f"wan.overrides.tiers.{tier}.data.frames (4k + 1)"
