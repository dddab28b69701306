"""One LoRA training loop for every method: the accelerator, the optimiser and its learning-rate
schedule, checkpoints and their resume, SIGTERM, the training clock and validation. A method supplies
its step: what one optimiser step computes and back-propagates (`MethodStep`).

Under `accelerate launch` every process trains on its own shard of the method's rows (pairs,
queries) and the LoRA's gradients are averaged across processes (DDP), so every process holds the
same LoRA; the main process alone validates, logs and keeps checkpoints.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from videodpo.core import outputs, precision
from videodpo.core.checkpoints import StopRequest, load_checkpoint, save_checkpoint
from videodpo.core.distributed import cpu_processes, my_shard
from videodpo.training.validation import TrainingClock

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
    mixed_precision: str
    checkpoint_every: int
    val_every: int  # steps between validation scores; 0 = none
    consumed: str  # what a step consumes, named for the validation log
    consumed_per_step: float  # on one process
    desc: str
    max_grad_norm: float = 0.0  # clip the LoRA's gradient norm to this; 0 = no clipping (a method's constant, not a setting)


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


RUN_LENGTH = ("max_steps", "checkpoint_every", "val_every")  # a longer run continues a finished one; cadence changes no weight


def resume_fingerprint(settings, **more) -> dict:
    """What a checkpoint must share with a run to be resumed by it: the loop's settings (a dataclass)
    but its length and cadence (RUN_LENGTH), and `more` (dataclasses as their fields)."""
    fingerprint = {k: v for k, v in asdict(settings).items() if k not in RUN_LENGTH}
    fingerprint.update({k: asdict(v) if is_dataclass(v) else v for k, v in more.items()})
    return fingerprint


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


# ---------------------------------------------------------------------------------------------
# What every method's train stage does around the loop

def fingerprint(files: tuple[str, ...], tensors: list[torch.Tensor], settings: tuple) -> str:
    """What a checkpoint's weights depend on beyond the loop's settings: the code this process runs
    (code_digest), other files it reads (a scorer's weights), the data, the LoRA."""
    digest = hashlib.sha256(code_digest().encode())
    for path in files:
        digest.update(Path(path).read_bytes())
    for tensor in tensors:
        digest.update(tensor.numpy().tobytes())
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:16]


@contextmanager
def dvclive_log(checkpoint: Path, main_process: bool):
    """The step logger of a training run, or None off the main process. dvclive writes beside the
    checkpoint (DVC clears the stage's plot outputs before a rerun), so a resumed run keeps the
    curves up to its checkpoint; publish_curves copies them to the plots when training is done."""
    if not main_process:
        yield None
        return
    from dvclive import Live

    folder = checkpoint / "live"
    with Live(dir=str(folder), dvcyaml=None, save_dvc_exp=False, report=None, resume=folder.exists()) as live:
        first = True

        def log(metrics: dict, step: int) -> None:
            nonlocal first
            if first:  # the run starts (or resumes) here: rows logged after the checkpoint are gone with it
                keep_rows_before(folder / "plots/metrics", step)
                first = False
            live.step = step
            for name, value in metrics.items():
                live.log_metric(name, value)

        yield log


def keep_rows_before(tables: Path, step: int) -> None:
    """Drop the logged rows a run resuming at `step` will log again: training rows from `step` on and
    validation rows after it (validation at `step` ran before its checkpoint was saved)."""
    for table in tables.rglob("*.tsv"):
        lines = table.read_text().splitlines(keepends=True)
        column = lines[0].rstrip("\n").split("\t").index("step")
        last = -1 if step == 0 else step if table.stem.startswith("val_") else step - 1  # 0: a fresh start keeps nothing
        kept = [line for line in lines[1:] if int(line.split("\t")[column]) <= last]
        table.write_text("".join(lines[:1] + kept))


def publish_run(model, lora, branch, consumed: str) -> Path:
    """Save the trained LoRA to the branch's LoRA folder, the run's logged curves to its train plots
    (videodpo.core.layout) and its validation table beside them; remove the checkpoint. Returns the curves' folder."""
    from videodpo.training import validation

    plots, checkpoint = branch.train_plots, branch.checkpoint
    with outputs.atomic_directory(branch.lora) as staging:
        model.save_lora(lora, staging)
    with outputs.atomic_directory(plots) as staging:
        shutil.copytree(checkpoint / "live", staging, dirs_exist_ok=True)
    shutil.rmtree(checkpoint, ignore_errors=True)
    validation.write_table(plots / "plots/metrics", consumed, plots / "validation.csv")
    return plots / "plots/metrics"


def validation_scorer(model, settings, card):
    """Scores the model as it is now on the first prompts of the training set (settings: the train
    step's validation_prompts, validation_steps and guidance_scale). Their embeddings are kept and
    the text encoder released (model.keep_prompt_embeddings): training reads cached embeddings."""
    from videodpo.core import prompts
    from videodpo.training import validation

    texts = prompts.read_prompt_set(settings.validation_prompts, card.source, "prompts.train").prompts
    scorer = validation.scorer(model, texts, card.frames, settings.validation_steps, settings.guidance_scale, card.shared_noise)
    model.keep_prompt_embeddings(validation.validation_prompts(texts, validation.VALIDATION_CLIPS))
    return scorer
