"""Generating clips: identical seeds and initial noise for every model variant compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import AnimateDiffPipeline, AnimateDiffVideoToVideoPipeline
from tqdm.auto import tqdm

from videodpo.noise import correlated_noise


def samples_folder(split: str, variant: str) -> Path:
    """Where the evaluation samples of `variant` (base or a method) in `split` (dev, test) live."""
    return Path("results/samples") / split / variant


def sample_stage(variant: str, split: str) -> str:
    """The DVC stage that samples `variant` in `split`."""
    return f"sample_base@{split}" if variant == "base" else f"sample@{variant}-{split}"


def initial_latents(pipe: AnimateDiffPipeline, frames: int, seed: int, shared_noise: float, resolution: int | None = None) -> torch.Tensor:
    """The starting noise of one clip, (1, C, F, h, w), a pure function of its seed; frames of
    `resolution` pixels (default: the size the UNet was made for)."""
    unet = pipe.unet
    size = unet.config.sample_size if resolution is None else resolution // pipe.vae_scale_factor
    shape = (1, unet.config.in_channels, frames, size, size)
    latents = correlated_noise(shape, shared_noise, torch.Generator().manual_seed(seed))
    return latents * pipe.scheduler.init_noise_sigma


@torch.no_grad()
def generate_clips(
    pipe: AnimateDiffPipeline,
    prompts: list[str],
    seeds: list[int],
    frames: int,
    steps: int,
    guidance_scale: float,
    shared_noise: float,
    batch_size: int = 8,
    desc: str = "sampling",
    resolution: int | None = None,
) -> np.ndarray:
    """One clip per (prompt, seed): uint8 (N, F, H, W, 3), H = W = resolution (default: the UNet's
    own size). Same prompt and seed → same clip."""
    if len(prompts) != len(seeds):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    device = pipe.unet.device
    dtype = pipe.unet.dtype
    clips = []
    size = resolution or pipe.unet.config.sample_size * pipe.vae_scale_factor
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch"):
        batch_prompts = prompts[start : start + batch_size]
        latents = torch.cat(
            [initial_latents(pipe, frames, seed, shared_noise, size) for seed in seeds[start : start + batch_size]]
        )
        output = pipe(
            prompt=batch_prompts,
            num_frames=frames,
            height=size,
            width=size,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            latents=latents.to(device, dtype),
            output_type="np",
        )
        clips.append((np.asarray(output.frames) * 255).round().clip(0, 255).astype(np.uint8))
    return np.concatenate(clips)


def frame_noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Unit noise (C, F, h, w) in which frame f has its own generator, seeded seed · 1000 + f."""
    channels, frames, height, width = shape
    return torch.stack(
        [torch.randn((channels, height, width), generator=torch.Generator().manual_seed(seed * 1000 + f)) for f in range(frames)],
        dim=1,
    )


@torch.no_grad()
def regenerate_frames(
    pipe: AnimateDiffPipeline,
    clips: np.ndarray,
    prompts: list[str],
    seeds: list[int],
    strength: float,
    steps: int,
    guidance_scale: float,
    batch_size: int = 64,
    desc: str = "img2img",
) -> np.ndarray:
    """img2img: every frame of each clip noised to `strength` with its own seed and denoised by the
    model on its own (a one-frame clip, so nothing ties it to its neighbours), with the clip's
    caption. The scene and its motion stay; the details of each frame drift apart."""
    from videodpo.latents import encode_clips  # the VAE helpers live with the training data

    if not 0.0 < strength <= 1.0:
        raise ValueError(f"data.jitter_strength: img2img needs a strength in (0, 1], got {strength}")
    if len(clips) != len(prompts) or len(clips) != len(seeds):
        raise ValueError(f"{len(clips)} clips, {len(prompts)} prompts and {len(seeds)} seeds: give one of each per clip")
    frames = clips.shape[1]
    single = clips.reshape(-1, 1, *clips.shape[2:])
    clean = encode_clips(pipe, single)  # (N·F, C, 1, h, w)
    noise = torch.cat([frame_noise((clean.shape[1], frames, *clean.shape[3:]), seed).transpose(0, 1) for seed in seeds])
    frame_prompts = [prompt for prompt in prompts for _ in range(frames)]
    out = denoise_from(pipe, clean, noise.unsqueeze(2), frame_prompts, strength, steps, guidance_scale, clips.shape[2], batch_size, desc)
    return out.reshape(clips.shape)


@torch.no_grad()
def denoise_from(
    pipe: AnimateDiffPipeline,
    clean: torch.Tensor,
    noise: torch.Tensor,
    prompts: list[str],
    strength: float,
    steps: int,
    guidance_scale: float,
    resolution: int,
    batch_size: int = 8,
    desc: str = "denoise",
) -> np.ndarray:
    """SDEdit: latents `clean` (N, C, F, h, w) noised with `noise` to the level of `strength` and
    denoised by the model over the last int(strength · steps) of `steps` DDIM steps, each with its
    prompt. uint8 clips (N, F, H, W, 3)."""
    video_pipe = AnimateDiffVideoToVideoPipeline(**pipe.components)
    video_pipe.set_progress_bar_config(disable=True)
    scheduler = video_pipe.scheduler
    scheduler.set_timesteps(steps)
    timesteps, _ = video_pipe.get_timesteps(steps, scheduler.timesteps, strength, "cpu")
    noisy = scheduler.add_noise(clean, noise, timesteps[:1].repeat(len(clean)))
    out = []
    for start in tqdm(range(0, len(clean), batch_size), desc=desc, unit="batch"):
        output = video_pipe(
            prompt=prompts[start : start + batch_size],
            latents=noisy[start : start + batch_size].to(pipe.unet.device, pipe.unet.dtype),
            height=resolution,
            width=resolution,
            num_inference_steps=steps,
            strength=strength,
            guidance_scale=guidance_scale,
            output_type="np",
        )
        out.append((np.asarray(output.frames) * 255).round().clip(0, 255).astype(np.uint8))
    return np.concatenate(out)
