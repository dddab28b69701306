"""DVC stage `train@dpo`: Diffusion-DPO of a LoRA on the motion modules, from cached latents.

Reads data/settings/<method>/train.json and data/latents/<method>; writes models/lora/<method>
(diffusers format, loadable with pipe.load_lora_weights), the training curves under
plots/train/<method> and what training cost in metrics/train_<method>.json. An interrupted run
resumes from models/checkpoints/train_<method> when its settings, code and data are unchanged; the
checkpoint is removed once the LoRA is saved. Under `accelerate launch` every process trains on its
own shard of the pairs; the main process alone logs and saves the LoRA.
"""

import copy
import hashlib
import shutil
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from dvclive import Live

from videodpo import distributed, latents, models, outputs, precision, visuals
from videodpo.method_settings import DPOTrainSettings, read_stage_settings
from videodpo.training import LoopSettings, TrainingRun, train_dpo_lora

TRAINED_HERE = ("dpo",)  # methods this stage trains (Diffusion-DPO on cached latents)
CODE = ("src/videodpo/training.py", "src/videodpo/objectives.py", "src/videodpo/models.py")


def fingerprint(settings: DPOTrainSettings, data) -> str:
    digest = hashlib.sha256()
    for path in CODE:
        digest.update(Path(path).read_bytes())
    for key in ("winners", "losers", "text"):
        digest.update(data[key].numpy().tobytes())
    digest.update(repr((settings.lora_rank, settings.lora_alpha, settings.training.memory_optimized)).encode())
    return digest.hexdigest()[:16]


def main(method: str, state) -> None:
    started = time.perf_counter()
    if method not in TRAINED_HERE:
        raise SystemExit(f"train: trains {', '.join(TRAINED_HERE)}, not {method!r}")
    settings = read_stage_settings(f"data/settings/{method}", method, "train")
    checkpoint = Path(f"models/checkpoints/train_{method}")
    plots = Path(f"plots/train/{method}")
    card = models.ModelCard.load("models/base")
    training = settings.training
    # frozen weights in the tier's precision; the LoRA is cast to fp32 when training starts
    pipe = models.load_pipeline("models/base", precision.weight_dtype(training.mixed_precision))
    data = latents.load_latents(f"data/latents/{method}")
    reference = None if training.memory_optimized else copy.deepcopy(pipe.unet).requires_grad_(False)
    torch.manual_seed(training.seed)  # the LoRA's initial weights come from torch's global generator
    lora = models.add_motion_lora(pipe.unet, settings.lora_rank, settings.lora_alpha)
    if training.gradient_checkpointing:
        pipe.unet.enable_gradient_checkpointing()
    loop = LoopSettings(
        max_steps=training.max_steps, batch_size=training.batch_size, learning_rate=training.learning_rate,
        beta=training.beta, gradient_accumulation_steps=training.gradient_accumulation_steps,
        mixed_precision=training.mixed_precision, seed=training.seed, shared_noise=card.shared_noise,
        sft_weight=training.sft_weight, max_timestep=training.max_timestep,
    )
    main_process = state.is_main_process
    live = Live(dir=str(plots), dvcyaml=None, save_dvc_exp=False, report=None, resume=checkpoint.exists()) if main_process else nullcontext()
    with live:

        def log(metrics: dict, step: int) -> None:
            live.step = step
            for name, value in metrics.items():
                live.log_metric(name, value)

        run = train_dpo_lora(
            pipe.unet, reference, pipe.scheduler, data, loop, checkpoint, log if main_process else None, fingerprint(settings, data)
        )
    with distributed.main_process_writes() as writes:
        if writes:
            with outputs.atomic_directory(f"models/lora/{method}") as staging:
                models.save_motion_lora(pipe.unet, lora, staging)
            shutil.rmtree(checkpoint, ignore_errors=True)
            plot_curves(plots / "plots/metrics", plots / "curves.png")
            outputs.write_json(f"metrics/train_{method}.json", training_cost(run, loop, len(data["winners"]), state.num_processes, started))


def training_cost(run: TrainingRun, loop: LoopSettings, pairs: int, processes: int, started: float) -> dict:
    """What training consumed: time, optimiser steps, and preference data (one clip-level label per pair)."""
    return {
        "wall_seconds": round(time.perf_counter() - started, 1),
        "optimizer_steps": run.steps,
        "resumed_from_step": run.resumed_from,
        "preference_pairs": pairs,
        "labels": pairs,
        "pair_draws": run.steps * loop.batch_size * loop.gradient_accumulation_steps * processes,
    }


def plot_curves(tsv_dir: Path, path: Path) -> None:
    """The logged curves as one PNG for the README (dvc plots show draws the interactive ones)."""

    def series(name: str) -> tuple[list[float], list[float]]:
        rows = [line.split("\t") for line in (tsv_dir / f"{name}.tsv").read_text().splitlines()[1:]]
        return [float(r[0]) for r in rows], [float(r[1]) for r in rows]

    visuals.curves(
        {
            "DPO loss": {"loss": series("loss")},
            "implicit accuracy": {"implicit accuracy": series("implicit_accuracy")},
            "reward margin (−β · DPO margin)": {"reward margin": series("reward_margin")},
        },
        path,
    )


if __name__ == "__main__":
    with distributed.process_group() as processes:
        main(sys.argv[1] if len(sys.argv) > 1 else "", processes)
