"""What the reward methods' train steps (vader, grpo) share around their loops: the policy with its
LoRA and the rewards' scorer models, what their algorithm receives, the identity a checkpoint must
match, the logged and validated run, and what a finished run publishes (its LoRA, curves and cost)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from videodpo.core.params import built_from


def policy_and_scorers(branch, settings, options, state, decoder_checkpointing: bool):
    """(model card, the base with a fresh LoRA on `options.lora_targets`, its peft config, the weighted
    model rewards' scorers) for a train step's `settings` (LoRAStepSettings) and method `options`."""
    import torch

    from videodpo import families
    from videodpo.core import model_card, precision
    from videodpo.rewards import registry as rewards

    card = model_card.ModelCard.load(branch.family.base)
    model = families.load_base(branch.family.base, precision.weight_dtype(settings.mixed_precision)).to(state.device)
    torch.manual_seed(options.seed)  # the LoRA's initial weights
    lora = model.add_lora(settings.lora_rank, settings.lora_alpha, targets=options.lora_targets)
    if settings.gradient_checkpointing:
        model.enable_gradient_checkpointing(decoder=decoder_checkpointing)
    scorers = rewards.load_scorers(options.rewards, branch.family.vjepa, settings.clip.hub, settings.clip.revision, state.device)
    return card, model, lora, scorers


def algorithm_settings(kinds: tuple[type, type, type], options, settings, card) -> tuple:
    """(sampling, objective, loop) of a reward method's algorithm, the dataclasses `kinds`, each built
    from the method's section `options`: the sampler with the model card's frames and starting noise and
    the train step's guidance, the loop in the step's precision."""
    sampling, objective, loop = kinds
    return (
        built_from(sampling, options, frames=card.frames, guidance_scale=settings.guidance_scale, shared_noise=card.shared_noise),
        built_from(objective, options),
        built_from(loop, options, mixed_precision=settings.mixed_precision),
    )


def logged_run(branch, model, settings, card, state, train: Callable):
    """`train(log, validate)` with the run's dvclive logger and the validation scorer (lora_loop)."""
    from videodpo.training import lora_loop

    validate = lora_loop.validation_scorer(model, settings, card)
    with lora_loop.dvclive_log(branch.checkpoint, state.is_main_process) as log:
        return train(log, validate)


def run_identity(branch, settings, options, scorers: dict, tensors: list, data) -> str:
    """What a checkpoint's weights depend on beyond the loop's settings (lora_loop.fingerprint): the
    scorer weights read, the method's data tensors and prompts, the LoRA and the CLIP reward's model."""
    from videodpo.training import lora_loop

    scorer_weights = sorted(str(path) for path in Path(branch.family.vjepa).glob("*.safetensors")) if "vjepa" in scorers else []
    return lora_loop.fingerprint(tuple(scorer_weights), tensors, (settings.lora_rank, settings.lora_alpha, options.lora_targets, data, settings.clip))


def publish(branch, model, lora, run, started: float, plot: Callable[[Path, Path], None], cost: dict, objective) -> None:
    """On the main process: the LoRA and the curves (lora_loop.publish_run), the method's curves PNG
    (`plot(logged folder, png path)`), and the run's cost with the method's own entries (`cost`) and
    the rewards its `objective` optimised."""
    import time

    from videodpo.core import distributed, outputs
    from videodpo.training import lora_loop

    with distributed.main_process_writes() as writes:
        if writes:
            curves = lora_loop.publish_run(model, lora, branch, "clips_sampled")
            plot(curves, branch.train_plots / "curves.png")
            outputs.write_json(
                branch.train_metrics,
                {
                    "wall_seconds": round(time.perf_counter() - started, 1),
                    "train_seconds": round(run.train_seconds, 1),
                    "optimizer_steps": run.steps,
                    "resumed_from_step": run.resumed_from,
                    **cost,
                    "optimised_rewards": sorted(name for name, weight in objective.rewards.items() if weight),
                },
            )
