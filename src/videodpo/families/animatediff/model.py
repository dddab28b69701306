"""AnimateDiff behind the family seam: an SD1.5-shaped UNet joined with a motion adapter
(UNetMotionModel), a 2-D VAE applied frame by frame, a CLIP text encoder, and DDIM.

Everything a stage, a method, a metric or a reward does with the model goes through `AnimateDiff`
(videodpo.families describes the seam). Every artifact is in diffusers' own formats, so a saved base
opens in `AnimateDiffPipeline.from_pretrained` and a saved LoRA in `pipe.load_lora_weights`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from diffusers import AnimateDiffPipeline, AnimateDiffVideoToVideoPipeline
from safetensors import SafetensorError
from tqdm.auto import tqdm

from videodpo.core import layout, lora_files
from videodpo.core.clips import clips_to_tensor
from videodpo.core.integrity import DamagedFileError, first_line, remake_hint
from videodpo.core.noise import correlated_noise
from videodpo.families.seam import PipelineModel

NAME = "animatediff"
PIPELINE = "AnimateDiffPipeline"  # the class its base folders hold (videodpo.families.family_of)

# peft full-matches these against module names. `motion`: the attention projections of the temporal
# (motion) transformers only, never the spatial attention of each frame; `motion_and_spatial`: the
# spatial layers' attention as well (self- and cross-attention of every spatial transformer block).
LORA_TARGETS = {
    "motion": r".*motion_modules\.\d+\.transformer_blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)",
    "motion_and_spatial": r".*(motion_modules|attentions)\.\d+\.transformer_blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)",
}
LORA_ADAPTER = "temporal_alignment"


def load(folder: Path, dtype: torch.dtype = torch.float32) -> AnimateDiff:
    """Open a saved base folder from disk only (safetensors weights, no network)."""
    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise DamagedFileError(f"{folder} is not a diffusers pipeline folder (no model_index.json); {remake_hint(layout.base_stage(folder))}")
    try:
        pipe = AnimateDiffPipeline.from_pretrained(folder, torch_dtype=dtype, use_safetensors=True, local_files_only=True)
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:  # a part missing, truncated or of other shapes
        raise DamagedFileError(f"{folder} is incomplete or damaged ({first_line(error)}); {remake_hint(layout.base_stage(folder))}") from error
    pipe.set_progress_bar_config(disable=True)
    return AnimateDiff(pipe)


def load_tokenizer(folder: Path):
    """The CLIP tokenizer of a saved base folder alone (no weights)."""
    from transformers import CLIPTokenizer

    tokenizer_folder = Path(folder) / "tokenizer"
    if not tokenizer_folder.is_dir():
        raise DamagedFileError(f"{tokenizer_folder} is missing; {remake_hint(layout.base_stage(folder))}")
    return CLIPTokenizer.from_pretrained(str(tokenizer_folder), local_files_only=True)


def add_lora(unet, rank: int, alpha: float, targets: str = "motion", adapter_name: str = LORA_ADAPTER):
    """Add a LoRA to the motion modules' attention projections (`targets="motion"`), or to the
    spatial transformer blocks' attention too (`"motion_and_spatial"`); return its peft config.
    The base weights are frozen; only the LoRA matrices train."""
    from peft import LoraConfig

    if targets not in LORA_TARGETS:
        raise ValueError(f"LoRA targets {targets!r}; allowed: {', '.join(LORA_TARGETS)}")
    config = LoraConfig(r=rank, lora_alpha=alpha, init_lora_weights="gaussian", target_modules=LORA_TARGETS[targets])
    unet.requires_grad_(False)
    unet.add_adapter(config, adapter_name=adapter_name)
    unet.set_adapter(adapter_name)
    return config


def save_lora(unet, lora_config, folder: Path, adapter_name: str = LORA_ADAPTER) -> None:
    """Save a UNet's LoRA in diffusers format, with its adapter metadata (videodpo.core.lora_files)."""
    lora_files.save_lora(AnimateDiffPipeline, unet, "unet_lora_layers", lora_config, folder, adapter_name)


class AnimateDiff(PipelineModel):
    """One AnimateDiff model: its denoiser (the UNet that LoRA and accelerate wrap), VAE, text side
    and DDIM scheduler. Latents are (N, C, F, h, w) with one latent frame per pixel frame."""

    family = NAME

    def __init__(self, pipe: AnimateDiffPipeline):
        self.pipe = pipe

    # -- the parts ---------------------------------------------------------------------------
    @property
    def denoiser(self) -> torch.nn.Module:
        return self.pipe.unet

    @property
    def vae(self):
        return self.pipe.vae

    @property
    def scheduler(self):
        return self.pipe.scheduler

    @property
    def tokenizer(self):
        return self.pipe.tokenizer

    def enable_gradient_checkpointing(self, decoder: bool = False) -> None:
        self.pipe.unet.enable_gradient_checkpointing()
        if decoder:  # a reward's gradient runs back through the decoder too
            self.pipe.vae.enable_gradient_checkpointing()

    # -- LoRA --------------------------------------------------------------------------------
    def add_lora(self, rank: int, alpha: float, targets: str = "motion", adapter_name: str = LORA_ADAPTER):
        """Add a LoRA to the denoiser (add_lora); return its peft config."""
        return add_lora(self.pipe.unet, rank, alpha, targets, adapter_name)

    def save_lora(self, lora_config, folder: Path, adapter_name: str = LORA_ADAPTER) -> None:
        """Save the denoiser's LoRA (save_lora)."""
        save_lora(self.pipe.unet, lora_config, folder, adapter_name)

    def load_lora(self, folder: Path, adapter_name: str = LORA_ADAPTER) -> None:
        """Load a LoRA written by save_lora and make it the active adapter."""
        lora_files.load_lora(self.pipe, folder, adapter_name)

    adapters_disabled = staticmethod(lora_files.adapters_disabled)

    # -- prompts -----------------------------------------------------------------------------
    def caption_ids(self, texts: list[str]) -> torch.Tensor:
        """Token ids exactly as AnimateDiffPipeline makes them (padded to the tokenizer's length)."""
        return caption_ids(self.pipe.tokenizer, texts)

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """Text embeddings (N, seq, dim) exactly as the pipeline computes them for these prompts."""
        ids = self.caption_ids(prompts).to(self.pipe.text_encoder.device)
        return self.pipe.text_encoder(ids)[0].float().contiguous().cpu()

    def keep_prompt_embeddings(self, prompts: list[str]) -> None:
        """Nothing to release: AnimateDiff's CLIP text encoder is small beside its UNet, and the
        pipeline keeps encoding prompts itself (the seam's member for text encoders worth dropping)."""

    def guidance_embeddings(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(unconditional, conditional) prompt embeddings for classifier-free guidance, one row per prompt."""
        with torch.no_grad():
            conditional, unconditional = self.pipe.encode_prompt(prompts, self.device, 1, True)
        return unconditional, conditional

    # -- clips and latents -------------------------------------------------------------------
    @torch.no_grad()
    def encode_clips(self, clips: np.ndarray, batch_frames: int = 64) -> torch.Tensor:
        """VAE posterior means of uint8 clips (N, F, H, W, 3), scaled as the UNet sees them: (N, C, F, h, w)."""
        vae = self.pipe.vae
        pixels = clips_to_tensor(clips).flatten(0, 1).to(vae.device, vae.dtype)
        latents = encode_frames(vae, pixels, batch_frames).float() * vae.config.scaling_factor
        return latents.unflatten(0, clips.shape[:2]).transpose(1, 2).contiguous().cpu()

    def decode(self, latents: torch.Tensor, window: slice | None = None) -> torch.Tensor:
        """Clean latents (B, C, F, h, w) → frames (B, W, 3, H, W) in [-1, 1] of the window's latent
        frames (all by default); differentiable."""
        vae = self.pipe.vae
        picked = latents[:, :, window or slice(None)].transpose(1, 2)
        flat = picked.flatten(0, 1) / vae.config.scaling_factor
        return vae.decode(flat.to(vae.dtype)).sample.unflatten(0, picked.shape[:2])

    @staticmethod
    def window_frames(window: slice) -> slice:
        """The pixel frames a window of latent frames decodes to: the same frames."""
        return window

    @staticmethod
    def latent_frames(pixel_frames: int) -> int:
        """Latent frames of a clip of `pixel_frames` frames: one each (the VAE is 2-D)."""
        return pixel_frames

    @staticmethod
    def latent_segments(segments: Sequence[range], pixel_frames: int) -> list[range]:
        """The latent frames of each segment of pixel frames: the same frames."""
        return [range(s.start, s.stop) for s in segments]

    def initial_latents(self, frames: int, seed: int, shared_noise: float, resolution: int | None = None) -> torch.Tensor:
        """The starting noise of one clip, (1, C, F, h, w), a pure function of its seed; frames of
        `resolution` pixels (default: the size the UNet was made for)."""
        unet = self.pipe.unet
        size = unet.config.sample_size if resolution is None else resolution // self.pipe.vae_scale_factor
        shape = (1, unet.config.in_channels, frames, size, size)
        latents = correlated_noise(shape, shared_noise, torch.Generator().manual_seed(seed))
        return latents * self.pipe.scheduler.init_noise_sigma

    # -- the denoiser and its training target -------------------------------------------------
    @property
    def num_train_timesteps(self) -> int:
        return self.pipe.scheduler.config.num_train_timesteps

    @staticmethod
    def predict(denoiser, noisy: torch.Tensor, timesteps: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The denoiser's prediction for noisy latents (B, C, F, h, w) at integer timesteps (B,) under
        text embeddings (B, seq, dim), which UNetMotionModel wants repeated per frame."""
        frames = noisy.shape[2]
        return denoiser(noisy, timesteps, encoder_hidden_states=text.repeat_interleave(frames, dim=0)).sample

    def training_draw(self, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(noisy latents, what the denoiser is trained to predict there): the scheduler's forward
        process, and ε or v by its prediction type."""
        scheduler = self.pipe.scheduler
        noisy = scheduler.add_noise(latents, noise, timesteps)
        kind = scheduler.config.prediction_type
        if kind == "epsilon":
            return noisy, noise
        if kind == "v_prediction":
            return noisy, scheduler.get_velocity(latents, noise, timesteps)
        raise ValueError(f"unsupported prediction type {kind!r}: epsilon or v_prediction")

    # -- sampling ------------------------------------------------------------------------------
    def denoise(
        self, denoiser, latents: torch.Tensor, unconditional: torch.Tensor, conditional: torch.Tensor, steps: int,
        guidance_scale: float, gradient_from: int = 0,
    ) -> torch.Tensor:
        """DDIM from `latents` (B, C, F, h, w) to the clean latents, as AnimateDiffPipeline samples
        (guidance on the prediction), keeping the graph of steps gradient_from.. only."""
        from contextlib import nullcontext

        scheduler = copy.deepcopy(self.pipe.scheduler)
        scheduler.set_timesteps(steps, device=latents.device)
        frames = latents.shape[2]
        embeddings = torch.cat([unconditional, conditional]).repeat_interleave(frames, dim=0)
        for index, timestep in enumerate(scheduler.timesteps):
            with nullcontext() if index >= gradient_from else torch.no_grad():
                output = denoiser(torch.cat([latents, latents]), timestep, encoder_hidden_states=embeddings).sample
                plain, guided = output.chunk(2)
                prediction = plain + guidance_scale * (guided - plain)
                latents = scheduler.step(prediction, timestep, latents).prev_sample
        return latents

    @staticmethod
    def sampler_step(
        scheduler, prediction: torch.Tensor, timestep, latents: torch.Tensor, eta: float = 0.0,
        generator: torch.Generator | None = None, prev_latents: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One DDIM step from `latents` (B, C, F, h, w) at `timestep`, as DDPO takes it: (the next
        latents, their log-probability (B,) under the step's Gaussian). eta = 0 is the deterministic
        step (no log-probability: None); eta > 0 draws the next latents with `generator`, unless
        `prev_latents` gives them (to score a recorded step under the current denoiser)."""
        config = scheduler.config
        t = int(timestep)
        prev_t = t - config.num_train_timesteps // scheduler.num_inference_steps
        alpha = scheduler.alphas_cumprod[t]
        alpha_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
        beta = 1 - alpha
        if config.prediction_type == "epsilon":
            clean = (latents - beta.sqrt() * prediction) / alpha.sqrt()
            epsilon = prediction
        elif config.prediction_type == "v_prediction":
            clean = alpha.sqrt() * latents - beta.sqrt() * prediction
            epsilon = alpha.sqrt() * prediction + beta.sqrt() * latents
        else:
            raise ValueError(f"unsupported prediction type {config.prediction_type!r}: epsilon or v_prediction")
        if config.clip_sample:
            clean = clean.clamp(-config.clip_sample_range, config.clip_sample_range)
        variance = (1 - alpha_prev) / beta * (1 - alpha / alpha_prev)
        std = eta * variance.sqrt()
        mean = alpha_prev.sqrt() * clean + (1 - alpha_prev - std**2).sqrt() * epsilon
        if eta == 0:
            return mean, None
        if prev_latents is None:
            noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)
            prev_latents = mean + std * noise
        log_prob = -((prev_latents.detach() - mean) ** 2) / (2 * std**2) - std.log() - math.log(math.sqrt(2 * math.pi))
        return prev_latents, log_prob.flatten(1).mean(dim=1)

    @torch.no_grad()
    def generate(
        self, prompts: list[str], seeds: list[int], frames: int, steps: int, guidance_scale: float, shared_noise: float,
        batch_size: int = 8, desc: str = "sampling", resolution: int | None = None,
    ) -> np.ndarray:
        """One clip per (prompt, seed): uint8 (N, F, H, W, 3), H = W = resolution (default: the UNet's
        own size). Same prompt and seed → same clip."""
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        pipe = self.pipe
        clips = []
        size = resolution or pipe.unet.config.sample_size * pipe.vae_scale_factor
        for start in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch"):
            latents = torch.cat([self.initial_latents(frames, seed, shared_noise, size) for seed in seeds[start : start + batch_size]])
            output = pipe(
                prompt=prompts[start : start + batch_size], num_frames=frames, height=size, width=size, num_inference_steps=steps,
                guidance_scale=guidance_scale, latents=latents.to(self.device, self.dtype), output_type="np",
            )
            clips.append((np.asarray(output.frames) * 255).round().clip(0, 255).astype(np.uint8))
        return np.concatenate(clips)

    @torch.no_grad()
    def denoise_from(
        self, clean: torch.Tensor, noise: torch.Tensor, prompts: list[str], strength: float, steps: int, guidance_scale: float,
        resolution: int, batch_size: int = 8, desc: str = "denoise",
    ) -> np.ndarray:
        """SDEdit: latents `clean` (N, C, F, h, w) noised with `noise` to the level of `strength` and
        denoised by the model over the last int(strength · steps) of `steps` DDIM steps, each with its
        prompt. uint8 clips (N, F, H, W, 3)."""
        video_pipe = AnimateDiffVideoToVideoPipeline(**self.pipe.components)
        video_pipe.set_progress_bar_config(disable=True)
        scheduler = video_pipe.scheduler
        scheduler.set_timesteps(steps)
        timesteps, _ = video_pipe.get_timesteps(steps, scheduler.timesteps, strength, "cpu")
        noisy = scheduler.add_noise(clean, noise, timesteps[:1].repeat(len(clean)))
        out = []
        for start in tqdm(range(0, len(clean), batch_size), desc=desc, unit="batch"):
            output = video_pipe(
                prompt=prompts[start : start + batch_size], latents=noisy[start : start + batch_size].to(self.device, self.dtype),
                height=resolution, width=resolution, num_inference_steps=steps, strength=strength, guidance_scale=guidance_scale,
                output_type="np",
            )
            out.append((np.asarray(output.frames) * 255).round().clip(0, 255).astype(np.uint8))
        return np.concatenate(out)

    @staticmethod
    def strength_for(count: int, steps: int) -> float:
        """The SDEdit strength that denoises over exactly the last `count` of `steps` steps (diffusers
        floors strength · steps)."""
        return min(1.0, (count + 0.5) / steps)


@torch.no_grad()
def encode_frames(vae, frames: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Posterior means of frames (N, 3, H, W) → latents (N, 4, h, w), unscaled."""
    return torch.cat([vae.encode(frames[i : i + batch]).latent_dist.mode() for i in range(0, len(frames), batch)])


def caption_ids(tokenizer, texts: list[str]) -> torch.Tensor:
    """Token ids exactly as AnimateDiffPipeline makes them (padded to the tokenizer's length)."""
    return tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt").input_ids


MODEL = AnimateDiff  # the family's model class (families.seam.FamilyModel)
