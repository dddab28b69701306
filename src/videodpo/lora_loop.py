"""One LoRA training loop for every method: the accelerator, the optimiser and its learning-rate
schedule, checkpoints and their resume, SIGTERM, the training clock and validation. A method supplies
its step: what one optimiser step computes and back-propagates (`MethodStep`).

Under `accelerate launch` every process trains on its own shard of the method's rows (pairs,
queries) and the LoRA's gradients are averaged across processes (DDP), so every process holds the
same LoRA; the main process alone validates, logs and keeps checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from videodpo import precision
from videodpo.checkpoints import StopRequest, load_checkpoint, save_checkpoint
from videodpo.distributed import cpu_processes, my_shard
from videodpo.validation import TrainingClock

StepLog = Callable[[dict[str, float], int], None]


def code_digest() -> str:
    """A digest of the source of every videodpo module this process has imported: what a step runs,
    with no list to keep (a checkpoint made by other code is not resumed)."""
    import hashlib
    import sys

    digest = hashlib.sha256()
    for name in sorted(name for name in sys.modules if name == "videodpo" or name.startswith("videodpo.")):
        source = getattr(sys.modules[name], "__file__", None)
        if source:
            digest.update(name.encode() + Path(source).read_bytes())
    return digest.hexdigest()


def step_generator(seed: int, step: int, micro: int = 0, rank: int = 0) -> torch.Generator:
    """The generator of one (micro-)step of one process: what a step draws is a pure function of
    (seed, step, micro, rank), so a resumed run draws exactly what it would have drawn."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step * 1_009 + micro + rank * 7_919_993)


@dataclass
class TrainingRun:
    """What one process did: the step reached, the step it resumed from, and the rows (pairs,
    queries) its steps drew."""

    steps: int
    resumed_from: int = 0
    rows_seen: set[int] = field(default_factory=set)
    train_seconds: float = 0.0  # optimisation time, validation excluded


@dataclass(frozen=True)
class LoopPlan:
    """How the loop runs, whatever the method."""

    max_steps: int
    learning_rate: float
    mixed_precision: str = "fp32"
    checkpoint_every: int = 25
    val_every: int = 0  # steps between validation scores; 0 = none
    max_grad_norm: float = 0.0  # clip the LoRA's gradient norm to this; 0 = no clipping
    consumed: str = "pairs_drawn"  # what a step consumes, named for the validation log
    consumed_per_step: int = 1  # on one process
    desc: str = "train"


@dataclass(frozen=True)
class StepContext:
    """What a method's step is given: the policy (the denoiser, wrapped by accelerate), the step's
    index, this process's rows and rank, the accelerator (its autocast and backward), and the last
    step a checkpoint holds (for error messages)."""

    policy: torch.nn.Module
    step: int
    rows: range
    rank: int
    accelerator: object
    saved: int


# A method's step: forward and backward (accelerator.backward) for one optimiser step, adding the rows
# it drew to the run; returns the scalars to log for the step.
MethodStep = Callable[[StepContext, TrainingRun], dict[str, float]]


def train_lora(
    model,
    method_step: MethodStep,
    plan: LoopPlan,
    fingerprint: dict,
    rows: int,
    checkpoint_dir: Path | None = None,
    log: StepLog | None = None,
    validate: Callable[[], dict[str, float]] | None = None,
    learning_rate_at: Callable[[int], float] | None = None,
) -> TrainingRun:
    """Train the model's LoRA (model.add_lora first) by `method_step` for plan.max_steps optimiser
    steps; return what this process did.

    Resumes from checkpoint_dir when it holds a checkpoint whose fingerprint is `fingerprint` (what
    the trained weights depend on: settings, code, data) and the same number of processes; a larger
    max_steps continues a finished run. `learning_rate_at(step)` sets each step's rate (default: the
    plan's, constant). Every plan.val_every steps the main process calls `validate` and logs what it
    returns with the training seconds and data consumed so far (validation time not counted).
    """
    from accelerate import Accelerator

    accelerator = Accelerator(mixed_precision=precision.accelerate_name(plan.mixed_precision), cpu=cpu_processes())
    denoiser = model.denoiser
    precision.trainable_in_fp32(denoiser)
    params = [p for p in denoiser.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the denoiser has no trainable parameters: add a LoRA first (model.add_lora)")
    optimiser = torch.optim.AdamW(params, lr=plan.learning_rate)
    policy, optimiser = accelerator.prepare(denoiser, optimiser)
    fingerprint = {**fingerprint, "processes": accelerator.num_processes}
    start = load_checkpoint(checkpoint_dir, denoiser, optimiser, fingerprint) if checkpoint_dir else 0
    main = accelerator.is_main_process
    if start and main:
        tqdm.write(f"resuming from the checkpoint at step {start} in {checkpoint_dir}")
    shard = my_shard(rows)
    run = TrainingRun(start, resumed_from=start)
    clock = TrainingClock.resumed(
        checkpoint_dir, start, plan.val_every, plan.max_steps, validate if main else None, log,
        plan.consumed, plan.consumed_per_step * accelerator.num_processes,
    )
    clock.validate_at_start(denoiser, start)
    denoiser.train()  # gradient checkpointing runs in train mode only
    progress = tqdm(range(start, plan.max_steps), initial=start, total=plan.max_steps, desc=plan.desc, unit="step", disable=not main)
    saved = start
    with StopRequest() as stop:
        for step in progress:
            clock.start_step()
            optimiser.zero_grad(set_to_none=True)
            if learning_rate_at is not None:
                for group in optimiser.param_groups:
                    group["lr"] = learning_rate_at(step)
            logged = method_step(StepContext(policy, step, shard, accelerator.process_index, accelerator, saved), run)
            if plan.max_grad_norm:
                accelerator.clip_grad_norm_(params, plan.max_grad_norm)
            optimiser.step()
            clock.end_step()
            if log and main:
                log(logged, step)
            done = step + 1
            run.steps = done
            clock.validate_after(denoiser, done)
            keeps = checkpoint_dir is not None and main
            save = (lambda: save_checkpoint(checkpoint_dir, denoiser, optimiser, done, fingerprint, extra=clock.extra())) if keeps else None
            if stop.end_of_step(done, plan.max_steps, plan.checkpoint_every, checkpoint_dir, save):
                saved = done
    accelerator.wait_for_everyone()
    denoiser.eval()
    run.train_seconds = clock.seconds
    return run
