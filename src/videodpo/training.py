"""One Diffusion-DPO step on latents: the policy and reference predictions and the loss.

Winner and loser share noise and timestep and go through the policy in ONE batched forward; the
reference is the same UNet with its LoRA switched off (memory-optimised) or a frozen copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler

from videodpo.models import adapters_disabled
from videodpo.objectives import DPOTerms, clip_dpo_loss, per_sample_mse


def diffusion_target(scheduler: DDIMScheduler, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor):
    """What the UNet is trained to predict, by the scheduler's prediction type."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    raise ValueError(f"unsupported prediction type {kind!r}: epsilon or v_prediction")


@dataclass(frozen=True)
class DPOBatch:
    """Latents (B, C, F, h, w) of winners and losers, text embeddings (B, seq, dim), shared noise and timesteps."""

    winners: torch.Tensor
    losers: torch.Tensor
    text: torch.Tensor
    noise: torch.Tensor
    timesteps: torch.Tensor


def _predict(unet, noisy: torch.Tensor, timesteps: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    frames = noisy.shape[2]
    return unet(noisy, timesteps, encoder_hidden_states=text.repeat_interleave(frames, dim=0)).sample


def paired_errors(unet, scheduler: DDIMScheduler, batch: DPOBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample prediction errors (B,) of winners and losers, from one batched forward of both."""
    latents = torch.cat([batch.winners, batch.losers])
    noise = torch.cat([batch.noise, batch.noise])
    timesteps = torch.cat([batch.timesteps, batch.timesteps])
    noisy = scheduler.add_noise(latents, noise, timesteps)
    prediction = _predict(unet, noisy, timesteps, torch.cat([batch.text, batch.text]))
    errors = per_sample_mse(prediction, diffusion_target(scheduler, latents, noise, timesteps))
    return errors.chunk(2)


def reference_errors(unet, reference_unet, scheduler: DDIMScheduler, batch: DPOBatch):
    """The reference model's errors: the policy with its LoRA off, or a frozen copy if one is given."""
    with torch.no_grad():
        if reference_unet is not None:
            return paired_errors(reference_unet, scheduler, batch)
        with adapters_disabled(unet):
            return paired_errors(unet, scheduler, batch)


@dataclass(frozen=True)
class DPOStep:
    terms: DPOTerms
    policy_winner: torch.Tensor
    policy_loser: torch.Tensor
    reference_winner: torch.Tensor
    reference_loser: torch.Tensor


def dpo_step(unet, reference_unet, scheduler: DDIMScheduler, batch: DPOBatch, beta: float) -> DPOStep:
    """Loss and the errors behind it; call .terms.loss.backward() to train the LoRA."""
    reference_winner, reference_loser = reference_errors(unet, reference_unet, scheduler, batch)
    policy_winner, policy_loser = paired_errors(unet, scheduler, batch)
    terms = clip_dpo_loss(policy_winner, policy_loser, reference_winner, reference_loser, beta)
    return DPOStep(terms, policy_winner, policy_loser, reference_winner, reference_loser)
