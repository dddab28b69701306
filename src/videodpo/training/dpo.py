"""One Diffusion-DPO step on latents: the policy and reference predictions and the loss; and the
DPO methods' step in the one LoRA loop (videodpo.training.lora_loop).

Winner and loser share noise and timestep and go through the policy in ONE batched forward; the
reference is the same denoiser with its LoRA switched off (memory-optimised) or a frozen copy. Under
`accelerate launch` each process draws its batches from its own shard of the pairs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from videodpo.core.distributed import processes
from videodpo.core.integrity import require_finite
from videodpo.core.noise import correlated_noise
from videodpo.evaluation import visuals
from videodpo.training.lora_loop import (
    LoopPlan,
    StepContext,
    StepLog,
    TrainingRun,
    resume_fingerprint,
    step_generator,
    train_lora,
)
from videodpo.training.objectives import DPOTerms, clip_dpo_loss, per_sample_mse, per_segment_mse, segment_dpo_loss


@dataclass(frozen=True)
class DPOBatch:
    """Latents (B, C, F, h, w) of winners and losers, text embeddings (B, seq, dim), shared noise and
    timesteps; segment labels (B, S) for DenseDPO pairs (winners and losers are then clips a and b)."""

    winners: torch.Tensor
    losers: torch.Tensor
    text: torch.Tensor
    noise: torch.Tensor
    timesteps: torch.Tensor
    labels: torch.Tensor | None = None  # None: the winner is better over the whole clip
    rows: torch.Tensor | None = None  # which pairs of the dataset these are (None: not from one)

    def to(self, device) -> "DPOBatch":
        moved = {name: None if value is None else value.to(device) for name, value in vars(self).items() if name != "rows"}
        return DPOBatch(**moved, rows=self.rows)


def paired_errors(model, denoiser, batch: DPOBatch, segments=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Prediction errors of winners and losers from one batched forward of both through `denoiser`
    (the model's, or its DDP wrapper or a frozen copy): per sample (B,), or per segment (B, S) when
    the batch has segment labels (`segments`: their latent frames, [start, stop) each; None: equal parts)."""
    latents = torch.cat([batch.winners, batch.losers])
    noise = torch.cat([batch.noise, batch.noise])
    timesteps = torch.cat([batch.timesteps, batch.timesteps])
    noisy, target = model.training_draw(latents, noise, timesteps)
    prediction = model.predict(denoiser, noisy, timesteps, torch.cat([batch.text, batch.text]))
    if batch.labels is None:
        return per_sample_mse(prediction, target).chunk(2)
    return per_segment_mse(prediction, target, segments or batch.labels.shape[1]).chunk(2)


def reference_errors(model, denoiser, reference_denoiser, batch: DPOBatch, segments=None):
    """The reference model's errors: the policy with its LoRA off, or a frozen copy if one is given."""
    with torch.no_grad():
        if reference_denoiser is not None:
            return paired_errors(model, reference_denoiser, batch, segments)
        inner = getattr(denoiser, "module", denoiser)  # under DDP: the wrapped denoiser, whose adapters can be switched
        with model.adapters_disabled(inner):
            return paired_errors(model, inner, batch, segments)


@dataclass(frozen=True)
class DPOStep:
    terms: DPOTerms
    policy_winner: torch.Tensor
    policy_loser: torch.Tensor
    reference_winner: torch.Tensor
    reference_loser: torch.Tensor


def dpo_step(model, denoiser, reference_denoiser, batch: DPOBatch, beta: float, sft_weight: float = 0.0, segments=None) -> DPOStep:
    """Loss and the errors behind it; call .terms.loss.backward() to train the LoRA."""
    reference_winner, reference_loser = reference_errors(model, denoiser, reference_denoiser, batch, segments)
    policy_winner, policy_loser = paired_errors(model, denoiser, batch, segments)
    if batch.labels is None:
        terms = clip_dpo_loss(policy_winner, policy_loser, reference_winner, reference_loser, beta, sft_weight)
    else:
        terms = segment_dpo_loss(policy_winner, policy_loser, reference_winner, reference_loser, batch.labels, beta, sft_weight)
    return DPOStep(terms, policy_winner, policy_loser, reference_winner, reference_loser)


# ---------------------------------------------------------------------------------------------
# The loop

@dataclass(frozen=True)
class LoopSettings:
    """How the LoRA trains: built from params `training` (methods.dpo.TrainingSettings, which holds
    each value's default and check) and the model card's shared noise."""

    max_steps: int
    batch_size: int
    learning_rate: float
    beta: float
    gradient_accumulation_steps: int
    mixed_precision: str
    seed: int
    shared_noise: float
    sft_weight: float
    max_timestep: int  # DPO on timesteps [0, max_timestep): where a loser's jitter still shows through the noise
    checkpoint_every: int
    val_every: int  # steps between validation scores; 0 = none
    latent_segments: tuple[tuple[int, int], ...] | None  # segment labels' latent frames; None: equal parts


def batch_for_step(
    data: dict[str, torch.Tensor], step: int, micro: int, settings: LoopSettings, rows: Sequence[int] | None = None, rank: int = 0
) -> DPOBatch:
    """The micro-batch of optimiser step `step`, drawn from `rows` (this process's shard; all by
    default): a pure function of (seed, step, micro, rank), so a resumed run sees exactly the
    batches, noise and timesteps it would have seen."""
    rows = torch.arange(len(data["winners"])) if rows is None else torch.as_tensor(list(rows))
    generator = step_generator(settings.seed, step, micro, rank)
    pick = rows[torch.randint(len(rows), (settings.batch_size,), generator=generator)]
    winners = data["winners"][pick]
    return DPOBatch(
        winners=winners,
        losers=data["losers"][pick],
        text=data["text"][pick],
        noise=correlated_noise(tuple(winners.shape), settings.shared_noise, generator),
        timesteps=torch.randint(0, settings.max_timestep, (settings.batch_size,), generator=generator),
        labels=data["labels"][pick] if "labels" in data else None,
        rows=pick,
    )


def train_dpo_lora(
    model,
    reference_unet,
    data: dict[str, torch.Tensor],
    settings: LoopSettings,
    checkpoint_dir: Path | None = None,
    log: StepLog | None = None,
    identity: str = "",
    validate: Callable[[], dict[str, float]] | None = None,
) -> TrainingRun:
    """Train the model's LoRA with Diffusion-DPO on cached latents, in the one LoRA loop
    (videodpo.training.lora_loop); return what this process did. `identity`: a hash of the code, data and
    model that a checkpoint must match to be resumed, beside these settings."""
    if reference_unet is not None:
        reference_unet.to(processes().device)
    # what the trained weights depend on; more max_steps continues a finished run instead of redoing it
    fingerprint = resume_fingerprint(settings, identity=identity)
    accumulation = settings.gradient_accumulation_steps

    def dpo_optimiser_step(context: StepContext, run: TrainingRun) -> dict[str, float]:
        for micro in range(accumulation):
            batch = batch_for_step(data, context.step, micro, settings, context.rows, context.rank)
            run.rows_seen.update(int(i) for i in batch.rows)
            at = f"step {context.step}, the batch of pairs {batch.rows.tolist()} (last checkpoint kept: step {context.saved})"
            require_finite(at, winners=batch.winners, losers=batch.losers, text=batch.text)
            batch = batch.to(context.accelerator.device)
            with context.accelerator.autocast():
                result = dpo_step(model, context.policy, reference_unet, batch, settings.beta, settings.sft_weight, settings.latent_segments)
            require_finite(at, loss=result.terms.loss.detach())
            context.accelerator.backward(result.terms.loss / accumulation)
        return {
            "loss": result.terms.loss.item(),
            "implicit_accuracy": result.terms.implicit_accuracy.item(),
            "reward_margin": result.terms.reward_margin.item(),
            "mse_winner": result.policy_winner.mean().item(),
            "mse_loser": result.policy_loser.mean().item(),
            "mse_winner_reference": result.reference_winner.mean().item(),
            "mse_loser_reference": result.reference_loser.mean().item(),
        }

    plan = LoopPlan(
        max_steps=settings.max_steps, learning_rate=settings.learning_rate, mixed_precision=settings.mixed_precision,
        checkpoint_every=settings.checkpoint_every, val_every=settings.val_every, consumed="pairs_drawn",
        consumed_per_step=settings.batch_size * accumulation, desc="train: DPO",
    )
    return train_lora(model, dpo_optimiser_step, plan, fingerprint, len(data["winners"]), checkpoint_dir, log, validate)


def training_cost(run: TrainingRun, loop: LoopSettings, data: dict[str, torch.Tensor], processes: int, started: float) -> dict:
    """What training consumed: time, optimiser steps, and preference data (labels: one per pair, or
    the labelled segments of segment-labelled pairs)."""
    pairs = len(data["winners"])
    return {
        "wall_seconds": round(time.perf_counter() - started, 1),
        "train_seconds": round(run.train_seconds, 1),
        "optimizer_steps": run.steps,
        "resumed_from_step": run.resumed_from,
        "preference_pairs": pairs,
        "labels": int((data["labels"] != 0).sum()) if "labels" in data else pairs,
        "pair_draws": run.steps * loop.batch_size * loop.gradient_accumulation_steps * processes,
    }


def plot_curves(tsv_dir: Path, path: Path) -> None:
    """The logged curves as one PNG for the README (dvc plots show draws the interactive ones)."""
    series = partial(visuals.logged_series, tsv_dir)
    visuals.curves(
        {
            "DPO loss": {"loss": series("loss")},
            "implicit accuracy": {"implicit accuracy": series("implicit_accuracy")},
            "reward margin (−β · DPO margin)": {"reward margin": series("reward_margin")},
        },
        path,
    )
