"""DVC stage `train@<method>`: a LoRA on the motion modules, by the method's objective.

dpo, vanilla_dpo: Diffusion-DPO from cached latents, one label per pair; dense_dpo(_third): the same
loop with a DPO term per labelled segment of frames (the pairs' labels). vader: reward gradients through the sampler, on the training
queries of data/latents/vader (VADER samples its own clips). Both score a small validation set every
`val_every` steps (videodpo.validation), logged against training time and data consumed.

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
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import torch
from dvclive import Live

from videodpo import distributed, families, integrity, latents, models, outputs, precision, prompts, rewards, vader, validation, visuals
from videodpo.method_settings import read_stage_settings
from videodpo.lora_loop import TrainingRun, code_digest
from videodpo.training import LoopSettings, train_dpo_lora

TRAINED_HERE = ("dpo", "vader", "vanilla_dpo", "dense_dpo", "dense_dpo_third")  # methods this stage trains
VJEPA_DIR = Path("models/vjepa")  # the vjepa reward's scorer, from the vjepa stage


def fingerprint(files: tuple[str, ...], tensors: list[torch.Tensor], settings: tuple) -> str:
    """What a checkpoint's weights depend on beyond the loop's settings: the code this process runs
    (lora_loop.code_digest), other files it reads (a scorer's weights), the data, the LoRA."""
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


def publish_curves(checkpoint: Path, plots: Path) -> None:
    """The run's logged curves into the stage's plot output, whole."""
    with outputs.atomic_directory(plots) as staging:
        shutil.copytree(checkpoint / "live", staging, dirs_exist_ok=True)


def validation_scorer(model, settings, card: models.ModelCard):
    """Scores the model as it is now on the first prompts of the training set (either method's settings)."""
    texts = prompts.read_prompt_set(settings.validation_prompts, card.source, "prompts.train").prompts
    return validation.scorer(model, texts, card.frames, settings.validation_steps, settings.guidance_scale, card.shared_noise)


def main(method: str, state) -> None:
    started = time.perf_counter()
    if method not in TRAINED_HERE:
        raise SystemExit(f"train: trains {', '.join(TRAINED_HERE)}, not {method!r}")
    if method == "vader":
        return train_vader(state, started)
    settings = read_stage_settings(f"data/settings/{method}", method, "train")
    checkpoint = Path(f"models/checkpoints/train_{method}")
    plots = Path(f"plots/train/{method}")
    card = models.ModelCard.load("models/base")
    training = settings.training
    # frozen weights in the tier's precision; the LoRA is cast to fp32 when training starts
    model = families.load_base("models/base", precision.weight_dtype(training.mixed_precision))
    data = latents.load_latents(f"data/latents/{method}", f"encode_latents@{method}")
    reference = None if training.memory_optimized else copy.deepcopy(model.denoiser).requires_grad_(False)
    torch.manual_seed(training.seed)  # the LoRA's initial weights come from torch's global generator
    lora = model.add_lora(settings.lora_rank, settings.lora_alpha)
    if training.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    loop = LoopSettings(
        max_steps=training.max_steps, batch_size=training.batch_size, learning_rate=training.learning_rate,
        beta=training.beta, gradient_accumulation_steps=training.gradient_accumulation_steps,
        mixed_precision=training.mixed_precision, seed=training.seed, shared_noise=card.shared_noise,
        sft_weight=training.sft_weight, max_timestep=training.max_timestep, val_every=training.val_every,
        checkpoint_every=training.checkpoint_every,
    )
    validate = validation_scorer(model, settings, card)
    identity = fingerprint((), list(data.values()), (settings.lora_rank, settings.lora_alpha, training.memory_optimized))
    with dvclive_log(checkpoint, state.is_main_process) as log:
        run = train_dpo_lora(model, reference, data, loop, checkpoint, log, identity, validate)
    with distributed.main_process_writes() as writes:
        if writes:
            with outputs.atomic_directory(f"models/lora/{method}") as staging:
                model.save_lora(lora, staging)
            publish_curves(checkpoint, plots)
            shutil.rmtree(checkpoint, ignore_errors=True)
            plot_curves(plots / "plots/metrics", plots / "curves.png")
            validation.write_table(plots / "plots/metrics", "pairs_drawn", plots / "validation.csv")
            outputs.write_json(f"metrics/train_{method}.json", training_cost(run, loop, data, state.num_processes, started))


def train_vader(state, started: float) -> None:
    settings = read_stage_settings("data/settings/vader", "vader", "train")
    options = settings.vader
    checkpoint, plots = Path("models/checkpoints/train_vader"), Path("plots/train/vader")
    card = models.ModelCard.load("models/base")
    model = families.load_base("models/base", precision.weight_dtype(settings.mixed_precision)).to(state.device)
    queries = vader.load_query_tensors(Path("data/latents/vader"))
    torch.manual_seed(options.seed)  # the LoRA's initial weights
    lora = model.add_lora(settings.lora_rank, settings.lora_alpha, targets=options.lora_targets)
    if settings.gradient_checkpointing:
        model.enable_gradient_checkpointing(decoder=True)  # the reward's gradient runs back through the decoder too
    scorers = rewards.load_scorers(options.rewards, VJEPA_DIR, settings.clip.hub, settings.clip.revision, state.device)
    sampling = vader.VaderSampling(
        card.frames, options.num_inference_steps, settings.guidance_scale, card.shared_noise,
        options.backprop, options.backprop_steps, options.decode_frames,
    )
    objective = vader.VaderObjective(options.rewards, options.guard)
    loop = vader.VaderLoop(
        options.max_steps, options.clips_per_step, options.learning_rate, settings.mixed_precision, options.seed,
        val_every=options.val_every, lr_schedule=options.lr_schedule, checkpoint_every=options.checkpoint_every,
    )
    scorer_weights = sorted(str(path) for path in VJEPA_DIR.glob("*.safetensors")) if "vjepa" in scorers else []
    identity = fingerprint(
        tuple(scorer_weights),
        [torch.tensor(queries.seeds), queries.unconditional, queries.conditional, queries.references],
        (settings.lora_rank, settings.lora_alpha, options.lora_targets, queries.prompts, settings.clip),
    )
    validate = validation_scorer(model, settings, card)
    with dvclive_log(checkpoint, state.is_main_process) as log:
        run = vader.train_vader_lora(model, queries, sampling, objective, loop, checkpoint, log, identity, validate, scorers)
    with distributed.main_process_writes() as writes:
        if writes:
            with outputs.atomic_directory("models/lora/vader") as staging:
                model.save_lora(lora, staging)
            publish_curves(checkpoint, plots)
            shutil.rmtree(checkpoint, ignore_errors=True)
            plot_vader_curves(plots / "plots/metrics", plots / "curves.png", objective)
            validation.write_table(plots / "plots/metrics", "clips_sampled", plots / "validation.csv")
            outputs.write_json(
                "metrics/train_vader.json",
                {
                    "wall_seconds": round(time.perf_counter() - started, 1),
                    "train_seconds": round(run.train_seconds, 1),
                    "optimizer_steps": run.steps,
                    "resumed_from_step": run.resumed_from,
                    "queries": len(queries.seeds),
                    "clips_sampled": run.steps * loop.clips_per_step * state.num_processes,  # one reward query each
                    "optimised_rewards": sorted(name for name, weight in objective.rewards.items() if weight),
                },
            )


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


def plot_vader_curves(tsv_dir: Path, path: Path, objective) -> None:
    panels = {
        "reward (weighted sum)": {"reward": visuals.logged_series(tsv_dir, "reward")},
        "rewards": {name: visuals.logged_series(tsv_dir, name) for name in objective.rewards},
        "appearance guard": {term: visuals.logged_series(tsv_dir, f"guard_{term}") for term in rewards.GUARD_TERMS},
    }
    if (tsv_dir / "val_warping_error.tsv").is_file():
        panels["validation warping error"] = {"warping error": visuals.logged_series(tsv_dir, "val_warping_error")}
    visuals.curves(panels, path)


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


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else ""
    with distributed.process_group() as processes, integrity.stage_errors(f"train@{method}"):
        main(method, processes)
