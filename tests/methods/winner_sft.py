"""winner_sft: supervised fine-tuning on the winners of DPO's pairs alone (no loser, no reference):
the LoRA learns to denoise the steadier clips. Not one of the project's methods: the test of adding a
method copies this module into a project's methods folder, adds its params section and lists it."""

from __future__ import annotations

from pydantic import Field

from videodpo.config import Config, Section
from videodpo.methods import Empty, LoRAStepSettings, lora_step_settings
from videodpo.methods.dpo import DPOPairSettings, encode_latents, make_pairs  # noqa: F401 (dpo's pairs and latents)
from videodpo.methods.dpo import settings as dpo_settings


class WinnerSFTSettings(Section):
    """params section `winner_sft`."""

    max_steps: int = Field(default=2, gt=0)
    learning_rate: float = Field(default=1e-3, gt=0)
    batch_size: int = Field(default=2, gt=0)
    seed: int = 0


class WinnerSFTTrainSettings(LoRAStepSettings):
    sft: WinnerSFTSettings
    mixed_precision: str


SETTINGS = {"pairs": DPOPairSettings, "latents": Empty, "train": WinnerSFTTrainSettings}


def settings(config: Config) -> dict[str, Section]:
    return {
        # it learns from winners alone: one generation per pair, and the cheapest loser (dpo's verification still checks it)
        "pairs": dpo_settings(config)["pairs"].model_copy(
            update={"data": config.data.model_copy(update={"candidates_per_pair": 1, "jitter_method": "amplify"})}
        ),
        "latents": Empty(),
        "train": WinnerSFTTrainSettings(
            sft=config.method_section("winner_sft", WinnerSFTSettings), mixed_precision=config.training.mixed_precision,
            **lora_step_settings(config),
        ),
    }


def train(branch, settings: WinnerSFTTrainSettings, state) -> None:

    import torch

    from videodpo import distributed, families, latents, lora_loop, models, outputs, precision, visuals
    from videodpo.objectives import per_sample_mse

    options = settings.sft
    card = models.ModelCard.load(branch.family.base)
    model = families.load_base(branch.family.base, precision.weight_dtype(settings.mixed_precision))
    data = latents.load_latents(branch.latents, branch.stage("encode_latents"))
    torch.manual_seed(options.seed)
    lora = model.add_lora(settings.lora_rank, settings.lora_alpha)

    def winner_step(context: lora_loop.StepContext, run: lora_loop.TrainingRun) -> dict[str, float]:
        generator = lora_loop.step_generator(options.seed, context.step, rank=context.rank)
        rows = torch.as_tensor(list(context.rows))
        picked = rows[torch.randint(len(rows), (options.batch_size,), generator=generator)]
        run.rows_seen.update(int(i) for i in picked)
        winners = data["winners"][picked]
        noise = torch.randn(winners.shape, generator=generator)
        timesteps = torch.randint(0, model.num_train_timesteps, (len(picked),), generator=generator)
        noisy, target = model.training_draw(winners, noise, timesteps)
        with context.accelerator.autocast():
            prediction = model.predict(context.policy, noisy, timesteps, data["text"][picked])
        loss = per_sample_mse(prediction, target).mean()
        context.accelerator.backward(loss)
        return {"loss": loss.item()}

    plan = lora_loop.LoopPlan(
        max_steps=options.max_steps, learning_rate=options.learning_rate, mixed_precision=settings.mixed_precision,
        checkpoint_every=options.max_steps, val_every=options.max_steps, consumed="pairs_drawn",
        consumed_per_step=options.batch_size, desc="train: winner SFT",
    )
    checkpoint = branch.checkpoint
    fingerprint = {"settings": settings.model_dump(), "data": lora_loop.fingerprint((), list(data.values()), ())}
    with lora_loop.dvclive_log(checkpoint, state.is_main_process) as log:
        run = lora_loop.train_lora(
            model, winner_step, plan, fingerprint, len(data["winners"]), checkpoint, log, lora_loop.validation_scorer(model, settings, card),
        )
    with distributed.main_process_writes() as writes:
        if writes:
            curves = lora_loop.publish_run(model, lora, branch, "pairs_drawn")
            visuals.curves({"winner SFT loss": {"loss": visuals.logged_series(curves, "loss")}}, branch.train_plots / "curves.png")
            outputs.write_json(branch.train_metrics, {"optimizer_steps": run.steps, "train_seconds": round(run.train_seconds, 1)})
