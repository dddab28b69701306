"""Wan 2.1 (a flow-matching video transformer) behind the family seam: its base folders hold a
diffusers WanPipeline (causal 3-D VAE, UMT5 text encoder, WanTransformer3DModel, flow-matching
Euler scheduler), and every LoRA it trains loads with WanPipeline.load_lora_weights.

Flow matching as Wan trains: at noise level σ = t / 1000, x_t = (1 − σ)·x0 + σ·ε, and the transformer
predicts the velocity ε − x0. Latents are the VAE's posterior means normalised per channel by the
VAE's latents_mean and latents_std, as WanPipeline denormalises them before decoding."""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from videodpo.core import layout, lora_files
from videodpo.core.clips import clips_to_tensor
from videodpo.core.integrity import DamagedFileError, first_line, remake_hint
from videodpo.core.noise import correlated_noise
from videodpo.families.seam import PipelineModel
from videodpo.families.wan.frames import latent_frames, latent_segments, pixel_frames_of  # noqa: F401  (the family's frame grouping)
from videodpo.families.wan.vae_norm import write_out_rms_norms

NAME = "wan"
PIPELINE = "WanPipeline"  # the class its base folders hold (videodpo.families.family_of)
NUM_TRAIN_TIMESTEPS = 1000
LORA_ADAPTER = "videodpo"
# Wan has no separate motion modules: its self-attention runs over all frames' tokens at once, so it
# is where motion is modelled; the cross-attention reads the prompt. peft full-matches the regex.
LORA_TARGETS = {
    "self_attention": r".*blocks\.\d+\.attn1\.(to_q|to_k|to_v|to_out\.0)",
    "self_and_cross_attention": r".*blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)",
}


def load(folder: Path, dtype: torch.dtype = torch.float32) -> "Wan":
    """The Wan pipeline saved in `folder` (offline, safetensors only); the VAE stays in fp32."""
    from diffusers import AutoencoderKLWan, WanPipeline

    try:
        vae = AutoencoderKLWan.from_pretrained(Path(folder) / "vae", local_files_only=True, use_safetensors=True)
        pipe = WanPipeline.from_pretrained(folder, vae=vae, torch_dtype=dtype, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as error:
        raise DamagedFileError(f"{folder} is incomplete or damaged ({first_line(error)}); {remake_hint(layout.base_stage(folder))}") from error
    pipe.set_progress_bar_config(disable=True)
    from videodpo.core import model_card

    has_card = (Path(folder) / model_card.MODEL_CARD).is_file()  # the frame size it samples
    return Wan(pipe, resolution=model_card.ModelCard.load(folder).frame_size if has_card else None)


def load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    tokenizer_folder = Path(folder) / "tokenizer"
    if not tokenizer_folder.is_dir():
        raise DamagedFileError(f"{tokenizer_folder} is missing; {remake_hint(layout.base_stage(folder))}")
    return AutoTokenizer.from_pretrained(str(tokenizer_folder), local_files_only=True)


class Wan(PipelineModel):
    """A Wan pipeline (diffusers' WanPipeline) seen through the family seam."""

    family = "wan"

    def __init__(self, pipe, resolution: int | None = None) -> None:
        self.pipe = pipe
        if getattr(pipe, "vae", None) is not None:
            write_out_rms_norms(pipe.vae)  # diffusers' F.normalize over channels is slow on CPU
        self.kept_embeddings: dict[str, torch.Tensor] = {}  # keep_prompt_embeddings: prompt → its embedding
        self.resolution = resolution  # the frame size it samples when none is asked (WanPipeline has no default of its own)

    @property
    def denoiser(self) -> torch.nn.Module:
        return self.pipe.transformer

    def enable_gradient_checkpointing(self, decoder: bool = False) -> None:
        """The transformer's blocks recompute in the backward pass. diffusers' AutoencoderKLWan has no
        gradient checkpointing: a reward's gradient through the decoder is kept whole (vader.decode_frames
        decodes less of the clip instead)."""
        self.pipe.transformer.enable_gradient_checkpointing()

    num_train_timesteps = NUM_TRAIN_TIMESTEPS

    # -- LoRA --------------------------------------------------------------------------------------
    def add_lora(self, rank: int, alpha: float, targets: str = "self_attention", adapter_name: str = LORA_ADAPTER):
        """Add a LoRA to the transformer's attention projections (LORA_TARGETS); return its peft config.
        The base weights are frozen; only the LoRA matrices train."""
        from peft import LoraConfig

        if targets not in LORA_TARGETS:
            raise ValueError(f"LoRA targets {targets!r}; allowed for wan: {', '.join(LORA_TARGETS)}")
        config = LoraConfig(r=rank, lora_alpha=alpha, init_lora_weights="gaussian", target_modules=LORA_TARGETS[targets])
        transformer = self.pipe.transformer
        transformer.requires_grad_(False)
        transformer.add_adapter(config, adapter_name=adapter_name)
        transformer.set_adapter(adapter_name)
        return config

    def save_lora(self, lora_config, folder: Path, adapter_name: str = LORA_ADAPTER) -> None:
        """The transformer's LoRA in diffusers format (WanPipeline.load_lora_weights reads it), with
        its adapter metadata so lora_alpha ≠ r reloads at the right scale."""
        lora_files.save_lora(type(self.pipe), self.pipe.transformer, "transformer_lora_layers", lora_config, folder, adapter_name)

    def load_lora(self, folder: Path, adapter_name: str = LORA_ADAPTER) -> None:
        """Load a LoRA written by save_lora and make it the active adapter."""
        lora_files.load_lora(self.pipe, folder, adapter_name)

    adapters_disabled = staticmethod(lora_files.adapters_disabled)

    @staticmethod
    def latent_frames(pixel_frames: int) -> int:
        return latent_frames(pixel_frames)

    @staticmethod
    def latent_segments(segments: Sequence[range], pixel_frames: int) -> list[range]:
        return latent_segments(segments, pixel_frames)

    # -- conditioning ----------------------------------------------------------------------------
    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """UMT5 embeddings (N, seq, dim) with the padding positions zeroed, as WanPipeline gives them
        (after keep_prompt_embeddings: the kept ones)."""
        if self.pipe.text_encoder is None:
            missing = sorted(set(prompts) - set(self.kept_embeddings))
            if missing:
                raise ValueError(f"the text encoder was released (keep_prompt_embeddings) before these prompts were encoded: {missing}")
            return torch.stack([self.kept_embeddings[prompt] for prompt in prompts])
        tokens = self.pipe.tokenizer(
            prompts, padding="max_length", max_length=self.pipe.tokenizer.model_max_length, truncation=True, return_tensors="pt",
        )
        encoder = self.pipe.text_encoder
        mask = tokens.attention_mask.to(encoder.device)
        hidden = encoder(tokens.input_ids.to(encoder.device), attention_mask=mask).last_hidden_state
        return (hidden * mask[..., None]).float().contiguous().cpu()

    def keep_prompt_embeddings(self, prompts: list[str]) -> None:
        """Encode these prompts and the empty one (guidance's) once, keep their embeddings, and release
        the text encoder: training reads cached embeddings, and the hub Wan's UMT5 (5.7 B parameters)
        does not stay in memory beside the transformer."""
        texts = list(dict.fromkeys(["", *prompts]))
        self.kept_embeddings = {**self.kept_embeddings, **dict(zip(texts, self.encode_prompts(texts)))}
        self.pipe.text_encoder = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def guidance_embeddings(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(unconditional, conditional) prompt embeddings for classifier-free guidance: the empty
        prompt's and each prompt's, one row per prompt."""
        return self.encode_prompts([""]).expand(len(prompts), -1, -1).contiguous(), self.encode_prompts(prompts)

    # -- latents -----------------------------------------------------------------------------------
    def _normalisation(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        config = self.pipe.vae.config
        shape = (1, config.z_dim, 1, 1, 1)
        mean = torch.tensor(config.latents_mean).view(shape).to(like)
        std = torch.tensor(config.latents_std).view(shape).to(like)
        return mean, std

    @torch.no_grad()
    def encode_clips(self, clips: np.ndarray) -> torch.Tensor:
        """Normalised VAE posterior means of uint8 clips (N, F, H, W, 3) with F = 4k + 1: (N, C, 1 + k, h, w)."""
        latent_frames(clips.shape[1])
        vae = self.pipe.vae
        pixels = clips_to_tensor(clips).transpose(1, 2).to(vae.device, vae.dtype)  # (N, 3, F, H, W)
        latents = vae.encode(pixels).latent_dist.mode().float()
        mean, std = self._normalisation(latents)
        return ((latents - mean) / std).contiguous().cpu()

    def decode(self, latents: torch.Tensor, window: slice | None = None) -> torch.Tensor:
        """Normalised latents (B, C, F', h, w) → frames (B, F, 3, H, W) in [-1, 1], differentiable: all
        of them, or the pixel frames of a window of latent frames (window_frames). The causal VAE
        decodes each latent frame from the ones before it, so a window is decoded from the clip's
        start and its frames are the clip's own; it saves the decoding of the frames after it."""
        vae = self.pipe.vae
        mean, std = self._normalisation(latents)
        stop = None if window is None else window.stop
        frames = vae.decode(((latents * std + mean)[:, :, :stop]).to(vae.dtype)).sample.transpose(1, 2)
        return frames if window is None else frames[:, self.window_frames(window)]

    @staticmethod
    def window_frames(window: slice) -> slice:
        """The pixel frames a window of latent frames [start, stop) decodes to: from the first frame
        of latent frame `start` to the last of latent frame stop − 1."""
        return slice(pixel_frames_of(window.start or 0).start, pixel_frames_of(window.stop - 1).stop)

    def initial_latents(self, frames: int, seed: int, shared_noise: float, resolution: int | None = None) -> torch.Tensor:
        """The starting noise of one clip of `frames` pixel frames, (1, C, 1 + (frames − 1)/4, h, w), a pure
        function of its seed (`shared_noise`: the share common to all latent frames; resolution: the
        model's own frame size by default)."""
        config = self.pipe.vae.config
        resolution = resolution or self.resolution
        if resolution is None:
            raise ValueError("this Wan model has no frame size of its own: pass resolution")
        size = resolution // config.scale_factor_spatial
        shape = (1, config.z_dim, latent_frames(frames), size, size)
        return correlated_noise(shape, shared_noise, torch.Generator().manual_seed(seed))

    @torch.no_grad()
    def generate(
        self, prompts: list[str], seeds: list[int], frames: int, steps: int, guidance_scale: float, shared_noise: float,
        batch_size: int = 8, desc: str = "sampling", resolution: int | None = None,
    ) -> np.ndarray:
        """One clip per (prompt, seed): uint8 (N, F, H, W, 3), H = W = resolution (default: the size the
        model was made for). Same prompt and seed → same clip."""
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        resolution = resolution or self.resolution
        if resolution is None:
            raise ValueError("this Wan model has no frame size of its own: pass resolution")
        clips = []
        for start in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch"):
            latents = torch.cat([self.initial_latents(frames, seed, shared_noise, resolution) for seed in seeds[start : start + batch_size]])
            unconditional, conditional = self.guidance_embeddings(prompts[start : start + batch_size])
            output = self.pipe(
                prompt_embeds=conditional.to(self.device, self.dtype), negative_prompt_embeds=unconditional.to(self.device, self.dtype),
                num_frames=frames, height=resolution, width=resolution, num_inference_steps=steps, guidance_scale=guidance_scale,
                latents=latents.to(self.device), output_type="np",
            )
            clips.append((np.asarray(output.frames) * 255).round().clip(0, 255).astype(np.uint8))
        return np.concatenate(clips)

    # -- training --------------------------------------------------------------------------------
    @staticmethod
    def predict(denoiser, noisy: torch.Tensor, timesteps: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The transformer's velocity for noisy latents (B, C, F, h, w) at timesteps (B,) in [0, 1000)."""
        return denoiser(hidden_states=noisy, timestep=timesteps, encoder_hidden_states=text).sample

    @staticmethod
    def training_draw(latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_t, target): x_t = (1 − σ)·x0 + σ·ε at σ = t / 1000, and the velocity ε − x0."""
        sigma = (timesteps.float() / NUM_TRAIN_TIMESTEPS).view(-1, *[1] * (latents.dim() - 1)).to(latents)
        return (1 - sigma) * latents + sigma * noise, noise - latents

    # -- sampling --------------------------------------------------------------------------------
    @staticmethod
    def sampler_step(
        scheduler, prediction: torch.Tensor, timestep, latents: torch.Tensor, eta: float = 0.0,
        generator: torch.Generator | None = None, prev_latents: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One step from `latents` at `timestep` with the predicted velocity: (the next latents, their
        log-probability (B,)). eta = 0: the Euler step of the flow ODE (no log-probability: None).
        eta > 0: a step of the SDE with the ODE's marginals, as Flow-GRPO takes it (noise level eta,
        std eta·√(σ/(1 − σ))·√(σ − σ_next)); it draws the next latents with `generator` unless
        `prev_latents` gives them (to score a recorded step under the current denoiser)."""
        index = int((scheduler.timesteps - torch.as_tensor(timestep, dtype=scheduler.timesteps.dtype)).abs().argmin())
        sigma, sigma_next = scheduler.sigmas[index].item(), scheduler.sigmas[index + 1].item()
        step = sigma_next - sigma  # negative: towards the data
        if eta == 0:
            return latents + step * prediction, None
        # at σ = 1 the ratio diverges: the first step takes the next level's, as Flow-GRPO does
        ratio = sigma / (1 - (scheduler.sigmas[1].item() if sigma == 1 else sigma))
        spread = eta * math.sqrt(ratio)
        mean = latents * (1 + spread**2 / (2 * sigma) * step) + prediction * (1 + spread**2 * (1 - sigma) / (2 * sigma)) * step
        std = spread * math.sqrt(-step)
        if prev_latents is None:
            noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)
            prev_latents = mean + std * noise
        log_prob = -((prev_latents.detach() - mean) ** 2) / (2 * std**2) - math.log(std) - math.log(math.sqrt(2 * math.pi))
        return prev_latents, log_prob.flatten(1).mean(dim=1)

    def denoise(
        self, denoiser, latents: torch.Tensor, unconditional: torch.Tensor, conditional: torch.Tensor, steps: int,
        guidance_scale: float, gradient_from: int = 0, start: int = 0,
    ) -> torch.Tensor:
        """Euler sampling from `latents` (B, C, F, h, w) at step `start` of `steps` to the clean latents,
        with classifier-free guidance on the velocity, keeping the graph of steps gradient_from.. only."""
        scheduler = self.sampler(steps)
        embeddings = torch.cat([unconditional, conditional]).to(latents.device)
        for index, timestep in enumerate(scheduler.timesteps):
            if index < start:
                continue
            with nullcontext() if index >= gradient_from else torch.no_grad():
                both = self.predict(denoiser, torch.cat([latents, latents]), timestep.expand(2 * len(latents)), embeddings)
                plain, guided = both.chunk(2)
                latents, _ = self.sampler_step(scheduler, plain + guidance_scale * (guided - plain), timestep, latents)
        return latents

    @staticmethod
    def strength_for(count: int, steps: int) -> float:
        """The SDEdit strength that denoises over exactly the last `count` of `steps` steps."""
        return count / steps

    @torch.no_grad()
    def denoise_from(
        self, clean: torch.Tensor, noise: torch.Tensor, prompts: list[str], strength: float, steps: int, guidance_scale: float,
        resolution: int, batch_size: int = 8, desc: str = "denoise",
    ) -> np.ndarray:
        """SDEdit: latents `clean` (N, C, F, h, w) moved along the flow to the noise level of the first
        of the last round(strength · steps) Euler steps, x = (1 − σ)·clean + σ·noise, and denoised from
        there, each with its prompt. uint8 clips (N, F, H, W, 3)."""
        scheduler = self.sampler(steps)
        start = steps - round(strength * steps)
        sigma = scheduler.sigmas[start].item()
        clips = []
        for first in range(0, len(clean), batch_size):
            rows = slice(first, first + batch_size)
            latents = ((1 - sigma) * clean[rows] + sigma * noise[rows]).to(self.device)
            unconditional, conditional = self.guidance_embeddings(prompts[rows])
            final = self.denoise(self.denoiser, latents, unconditional, conditional, steps, guidance_scale, gradient_from=steps, start=start)
            frames = self.decode(final)  # (B, F, 3, H, W) in [-1, 1]
            clips.append(((frames.permute(0, 1, 3, 4, 2) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy())
        return np.concatenate(clips)


MODEL = Wan  # the family's model class (families.seam.FamilyModel)
