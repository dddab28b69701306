"""One Diffusion-DPO step on latents: the policy and reference predictions and the loss.

Winner and loser share noise and timestep and go through the policy in ONE batched forward; the
reference is the same UNet with its LoRA switched off (memory-optimised) or a frozen copy. Under
`accelerate launch` each process draws its batches from its own shard of the pairs and the LoRA's
gradients are averaged across processes (DDP), so every process holds the same LoRA.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from videodpo import precision
from videodpo.distributed import cpu_processes, my_shard
from videodpo.integrity import require_finite
from videodpo.noise import correlated_noise
from videodpo.objectives import DPOTerms, clip_dpo_loss, per_sample_mse, per_segment_mse, segment_dpo_loss


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


def paired_errors(model, denoiser, batch: DPOBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Prediction errors of winners and losers from one batched forward of both through `denoiser`
    (the model's, or its DDP wrapper or a frozen copy): per sample (B,), or per segment (B, S) when
    the batch has segment labels."""
    latents = torch.cat([batch.winners, batch.losers])
    noise = torch.cat([batch.noise, batch.noise])
    timesteps = torch.cat([batch.timesteps, batch.timesteps])
    noisy, target = model.training_draw(latents, noise, timesteps)
    prediction = model.predict(denoiser, noisy, timesteps, torch.cat([batch.text, batch.text]))
    if batch.labels is None:
        return per_sample_mse(prediction, target).chunk(2)
    return per_segment_mse(prediction, target, batch.labels.shape[1]).chunk(2)


def reference_errors(model, denoiser, reference_denoiser, batch: DPOBatch):
    """The reference model's errors: the policy with its LoRA off, or a frozen copy if one is given."""
    with torch.no_grad():
        if reference_denoiser is not None:
            return paired_errors(model, reference_denoiser, batch)
        inner = getattr(denoiser, "module", denoiser)  # under DDP: the wrapped denoiser, whose adapters can be switched
        with model.adapters_disabled(inner):
            return paired_errors(model, inner, batch)


@dataclass(frozen=True)
class DPOStep:
    terms: DPOTerms
    policy_winner: torch.Tensor
    policy_loser: torch.Tensor
    reference_winner: torch.Tensor
    reference_loser: torch.Tensor


def dpo_step(model, denoiser, reference_denoiser, batch: DPOBatch, beta: float, sft_weight: float = 0.0) -> DPOStep:
    """Loss and the errors behind it; call .terms.loss.backward() to train the LoRA."""
    reference_winner, reference_loser = reference_errors(model, denoiser, reference_denoiser, batch)
    policy_winner, policy_loser = paired_errors(model, denoiser, batch)
    if batch.labels is None:
        terms = clip_dpo_loss(policy_winner, policy_loser, reference_winner, reference_loser, beta, sft_weight)
    else:
        terms = segment_dpo_loss(policy_winner, policy_loser, reference_winner, reference_loser, batch.labels, beta, sft_weight)
    return DPOStep(terms, policy_winner, policy_loser, reference_winner, reference_loser)


# ---------------------------------------------------------------------------------------------
# The loop

@dataclass(frozen=True)
class LoopSettings:
    """How the LoRA trains (params.yaml `training`, with the tier's preset merged in)."""

    max_steps: int
    batch_size: int
    learning_rate: float
    beta: float
    gradient_accumulation_steps: int = 1
    mixed_precision: str = "fp32"
    seed: int = 0
    shared_noise: float = 0.0
    sft_weight: float = 0.0
    max_timestep: int = 1000  # DPO on timesteps [0, max_timestep): where a loser's jitter still shows through the noise
    checkpoint_every: int = 25
    val_every: int = 0  # steps between validation scores; 0 = none


def step_generator(seed: int, step: int, micro: int = 0, rank: int = 0) -> torch.Generator:
    """The generator of one (micro-)step of one process: what a step draws is a pure function of
    (seed, step, micro, rank), so a resumed run draws exactly what it would have drawn."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step * 1_009 + micro + rank * 7_919_993)


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


StepLog = Callable[[dict[str, float], int], None]


@dataclass
class TrainingRun:
    """What one process did: the step reached, the step it resumed from, and the pairs (dataset rows) its batches drew."""

    steps: int
    resumed_from: int = 0
    rows_seen: set[int] = field(default_factory=set)
    train_seconds: float = 0.0  # optimisation time, validation excluded


def train_dpo_lora(
    model,
    reference_unet,
    data: dict[str, torch.Tensor],
    settings: LoopSettings,
    checkpoint_dir: Path | None = None,
    log: StepLog | None = None,
    identity: str = "",
    validate: Callable[[], dict[str, float]] | None = None,
):
    """Train the model's LoRA with Diffusion-DPO on cached latents; return what this process did.

    Resumes from checkpoint_dir when it holds a checkpoint made with the same settings and the
    same `identity` (callers put a hash of the code, data and model there). Every `val_every` steps
    the main process calls `validate` and logs what it returns with the training seconds and pairs
    drawn so far (validation time not counted).
    """
    from accelerate import Accelerator

    from videodpo.checkpoints import StopRequest, load_checkpoint, save_checkpoint
    from videodpo.validation import TrainingClock

    accelerator = Accelerator(mixed_precision=precision.accelerate_name(settings.mixed_precision), cpu=cpu_processes())
    unet = model.denoiser
    precision.trainable_in_fp32(unet)
    params = [p for p in unet.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the denoiser has no trainable parameters: add a LoRA first (model.add_lora)")
    if reference_unet is not None:
        reference_unet.to(accelerator.device)
    optimiser = torch.optim.AdamW(params, lr=settings.learning_rate)
    policy, optimiser = accelerator.prepare(unet, optimiser)
    # what the trained weights depend on; more max_steps continues a finished run instead of redoing it
    fingerprint = {k: v for k, v in asdict(settings).items() if k not in ("max_steps", "checkpoint_every", "val_every")}
    fingerprint["identity"] = identity
    fingerprint["processes"] = accelerator.num_processes
    start = load_checkpoint(checkpoint_dir, unet, optimiser, fingerprint) if checkpoint_dir else 0
    if start and accelerator.is_main_process:
        tqdm.write(f"resuming from the checkpoint at step {start} in {checkpoint_dir}")
    rows = my_shard(len(data["winners"]))
    run = TrainingRun(start, resumed_from=start)
    accumulation = settings.gradient_accumulation_steps
    clock = TrainingClock.resumed(
        checkpoint_dir, start, settings.val_every, settings.max_steps, validate if accelerator.is_main_process else None, log,
        "pairs_drawn", settings.batch_size * accumulation * accelerator.num_processes,
    )
    clock.validate_at_start(unet, start)
    progress = tqdm(
        range(start, settings.max_steps), initial=start, total=settings.max_steps, desc="train: DPO", unit="step",
        disable=not accelerator.is_main_process,
    )
    saved = start
    with StopRequest() as stop:
        for step in progress:
            clock.start_step()
            optimiser.zero_grad(set_to_none=True)
            for micro in range(accumulation):
                batch = batch_for_step(data, step, micro, settings, rows, accelerator.process_index)
                run.rows_seen.update(int(i) for i in batch.rows)
                at = f"step {step}, the batch of pairs {batch.rows.tolist()} (last checkpoint kept: step {saved})"
                require_finite(at, winners=batch.winners, losers=batch.losers, text=batch.text)
                batch = batch.to(accelerator.device)
                with accelerator.autocast():
                    result = dpo_step(model, policy, reference_unet, batch, settings.beta, settings.sft_weight)
                require_finite(at, loss=result.terms.loss.detach())
                accelerator.backward(result.terms.loss / accumulation)
            optimiser.step()
            clock.end_step()
            if log and accelerator.is_main_process:
                log(
                    {
                        "loss": result.terms.loss.item(),
                        "implicit_accuracy": result.terms.implicit_accuracy.item(),
                        "reward_margin": result.terms.reward_margin.item(),
                        "mse_winner": result.policy_winner.mean().item(),
                        "mse_loser": result.policy_loser.mean().item(),
                        "mse_winner_reference": result.reference_winner.mean().item(),
                        "mse_loser_reference": result.reference_loser.mean().item(),
                    },
                    step,
                )
            done = step + 1
            run.steps = done
            clock.validate_after(unet, done)
            keeps = checkpoint_dir and accelerator.is_main_process
            save = (lambda: save_checkpoint(checkpoint_dir, unet, optimiser, done, fingerprint, extra=clock.extra())) if keeps else None
            if stop.end_of_step(done, settings.max_steps, settings.checkpoint_every, checkpoint_dir, save):
                saved = done
    accelerator.wait_for_everyone()
    run.train_seconds = clock.seconds
    return run
