"""DVC stage `train`: Diffusion-DPO of a LoRA on the motion modules, from cached latents.

Writes models/lora (diffusers format, loadable with pipe.load_lora_weights) and the training
curves. An interrupted run resumes from models/checkpoints/train when its settings, code and data
are unchanged; the checkpoint is removed once the LoRA is saved. Under `accelerate launch` every
process trains on its own shard of the pairs; the main process alone logs and saves the LoRA.
"""

import copy
import hashlib
import shutil
from contextlib import nullcontext
from pathlib import Path

import torch
from dvclive import Live

from videodpo import distributed, latents, models, outputs, precision, visuals
from videodpo.config import load_config
from videodpo.training import LoopSettings, train_dpo_lora

CHECKPOINT = Path("models/checkpoints/train")
CODE = ("src/videodpo/training.py", "src/videodpo/objectives.py", "src/videodpo/models.py")


def fingerprint(config, data) -> str:
    digest = hashlib.sha256()
    for path in CODE:
        digest.update(Path(path).read_bytes())
    for key in ("winners", "losers", "text"):
        digest.update(data[key].numpy().tobytes())
    digest.update(repr((config.model.lora_rank, config.model.lora_alpha, config.training.memory_optimized)).encode())
    return digest.hexdigest()[:16]


def main(state) -> None:
    config = load_config()
    card = models.ModelCard.load("models/base")
    training = config.training
    # frozen weights in the tier's precision; the LoRA is cast to fp32 when training starts
    pipe = models.load_pipeline("models/base", precision.weight_dtype(training.mixed_precision))
    data = latents.load_latents("data/latents")
    reference = None if training.memory_optimized else copy.deepcopy(pipe.unet).requires_grad_(False)
    torch.manual_seed(training.seed)  # the LoRA's initial weights come from torch's global generator
    lora = models.add_motion_lora(pipe.unet, config.model.lora_rank, config.model.lora_alpha)
    if training.gradient_checkpointing:
        pipe.unet.enable_gradient_checkpointing()
    settings = LoopSettings(
        max_steps=training.max_steps, batch_size=training.batch_size, learning_rate=training.learning_rate,
        beta=training.beta, gradient_accumulation_steps=training.gradient_accumulation_steps,
        mixed_precision=training.mixed_precision, seed=training.seed, shared_noise=card.shared_noise,
        sft_weight=training.sft_weight, max_timestep=training.max_timestep,
    )
    main_process = state.is_main_process
    live = Live(dir="plots/train", dvcyaml=None, save_dvc_exp=False, report=None, resume=CHECKPOINT.exists()) if main_process else nullcontext()
    with live:

        def log(metrics: dict, step: int) -> None:
            live.step = step
            for name, value in metrics.items():
                live.log_metric(name, value)

        train_dpo_lora(pipe.unet, reference, pipe.scheduler, data, settings, CHECKPOINT, log if main_process else None, fingerprint(config, data))
    with distributed.main_process_writes() as writes:
        if writes:
            with outputs.atomic_directory("models/lora") as staging:
                models.save_motion_lora(pipe.unet, lora, staging)
            shutil.rmtree(CHECKPOINT, ignore_errors=True)
            plot_curves(Path("plots/train/plots/metrics"), Path("plots/train/curves.png"))


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
        main(processes)
