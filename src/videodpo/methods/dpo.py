"""dpo: Diffusion-DPO on synthetic pairs. Winners are base generations; each loser is its winner made
temporally jittery (`data`); the LoRA trains by the `training` section's Diffusion-DPO loop on the
pairs' cached latents. Its train step is also the labelled DPO methods' (vanilla_dpo, dense_dpo),
and its sections are theirs: `data` (pairs.settings: how many pairs, of what clips) and `training`
(training.settings: the DPO loop, and the precision every method trains in)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import model_validator

from videodpo.core.params import Section, built_from
from videodpo.methods import Empty, LoRAStepSettings, lora_step_settings
from videodpo.pairs.settings import DataSettings
from videodpo.training.settings import TrainingSettings

if TYPE_CHECKING:
    from videodpo.config import Config

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    'Diffusion-DPO on synthetic preference pairs: winner = a normal generation, loser = the same clip made temporally jittery. LoRA on the motion-module attention only; the reference model is the same UNet with the LoRA switched off.'
)

NUM_TRAIN_TIMESTEPS = 1000  # the noise schedule of every tier's model (SD1.5's and the toy model's)


class DPOSection(Section):
    """params `dpo`: where dpo's losers are made.

    pixels: each loser is its winner's frames jittered by `data.jitter_method`. latents: the winner's
    latents z are moved along the part of its flicker that the family's VAE keeps,
    z + s·(z − E(stabilised winner)) with s = `data.jitter_strength`, and both clips are decoded, so the
    pair differs only in what the latents can hold (a causal VAE that folds 4 frames into one latent
    frame keeps little of a per-frame jitter: docs/wan.md). Needs `data.jitter_method: amplify`, the
    maker whose flicker this is."""

    loser_space: Literal["pixels", "latents"] = "pixels"


SECTION = DPOSection  # params `dpo`


class DPOPairSettings(Section):
    """make_pairs@dpo: how pairs are made, and how the base model samples their winners."""

    data: DataSettings
    dpo: DPOSection = DPOSection()  # where the losers are made
    train_prompts: str  # the training prompt set's file (videodpo.core.prompts)
    num_inference_steps: int
    guidance_scale: float
    mixed_precision: str

    @model_validator(mode="after")
    def _latent_losers_amplify(self) -> "DPOPairSettings":
        if self.dpo.loser_space == "latents" and self.data.jitter_method != "amplify":
            raise ValueError(
                f"dpo.loser_space: latents amplifies the flicker the VAE keeps, so data.jitter_method must be amplify, "
                f"not {self.data.jitter_method!r}: set data.jitter_method=amplify or dpo.loser_space=pixels"
            )
        return self


class DPOTrainSettings(LoRAStepSettings):
    """train@<a DPO method>: the DPO loop, and the LoRA it trains."""

    training: TrainingSettings
    # segment-labelled pairs: each segment's latent frames [start, stop) (videodpo.families.latent_segments)
    latent_segments: list[tuple[int, int]] | None = None


SETTINGS = {"pairs": DPOPairSettings, "latents": Empty, "train": DPOTrainSettings}


def dpo_train_settings(
    config: Config, training: TrainingSettings | None = None, latent_segments: list[tuple[int, int]] | None = None
) -> DPOTrainSettings:
    """The DPO loop's settings: the `training` section (or a variant of it), the LoRA's shape, and the
    latent frames of each labelled segment where the pairs carry segment labels."""
    return DPOTrainSettings(training=training or config.training, latent_segments=latent_segments, **lora_step_settings(config))


def settings(config: Config) -> dict[str, Section]:
    return {
        "pairs": DPOPairSettings(
            data=config.data, train_prompts=config.train_prompts_file(), num_inference_steps=config.sample.num_inference_steps,
            guidance_scale=config.sample.guidance_scale, mixed_precision=config.training.mixed_precision,
            dpo=config.method_section("dpo"),
        ),
        "latents": Empty(),
        "train": dpo_train_settings(config),
    }


def make_pairs(branch, settings: DPOPairSettings, state) -> None:
    from videodpo.pairs import synthetic

    synthetic.make_jitter_pairs(branch, settings, state)


def encode_latents(branch, settings: Empty, state) -> None:
    """VAE latents of every pair of the branch's pairs (videodpo.core.layout), text embeddings of its caption and its segment
    labels if it has them: training then loads neither the VAE nor the text encoder."""
    from pathlib import Path

    from tqdm.auto import tqdm

    from videodpo import families
    from videodpo.core import outputs
    from videodpo.pairs import store

    pairs_dir = branch.pairs
    model = families.load_base(branch.family.base).to(state.device)  # fp32: SD1.5's VAE overflows in fp16
    made_by = branch.stage("make_pairs")
    manifest = store.read_manifest(pairs_dir, made_by)
    with outputs.atomic_directory(branch.latents) as staging:
        for shard, arrays in tqdm(list(store.iter_pair_arrays(pairs_dir, made_by)), desc=branch.stage("encode_latents"), unit="shard"):
            records = store.shard_records(manifest, shard, len(arrays["winners"]), pairs_dir, made_by)
            captions = [record["caption"] for record in records]
            store.encode_latent_shard(
                model, Path(staging), shard.replace("pairs-", "latents-"), arrays["winners"], arrays["losers"], captions, arrays.get("labels")
            )


def train(branch, settings: DPOTrainSettings, state) -> None:
    """Diffusion-DPO from the cached latents of the branch (videodpo.core.layout): one label per pair, or a DPO
    term per labelled segment of frames where the pairs carry segment labels."""
    import copy
    import time

    import torch

    from videodpo import families
    from videodpo.core import distributed, model_card, outputs, precision
    from videodpo.pairs import store
    from videodpo.training import dpo, lora_loop

    started = time.perf_counter()
    checkpoint = branch.checkpoint
    card = model_card.ModelCard.load(branch.family.base)
    options = settings.training
    # frozen weights in the tier's precision; the LoRA is cast to fp32 when training starts
    model = families.load_base(branch.family.base, precision.weight_dtype(options.mixed_precision))
    data = store.load_latents(branch.latents, branch.stage("encode_latents"))
    reference = None if options.memory_optimized else copy.deepcopy(model.denoiser).requires_grad_(False)
    torch.manual_seed(options.seed)  # the LoRA's initial weights come from torch's global generator
    lora = model.add_lora(settings.lora_rank, settings.lora_alpha)
    if options.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    segments = None if settings.latent_segments is None else tuple(map(tuple, settings.latent_segments))
    loop = built_from(dpo.LoopSettings, options, shared_noise=card.shared_noise, latent_segments=segments)
    validate = lora_loop.validation_scorer(model, settings, card)
    identity = lora_loop.fingerprint((), list(data.values()), (settings.lora_rank, settings.lora_alpha, options.memory_optimized))
    with lora_loop.dvclive_log(checkpoint, state.is_main_process) as log:
        run = dpo.train_dpo_lora(model, reference, data, loop, checkpoint, log, identity, validate)
    with distributed.main_process_writes() as writes:
        if writes:
            curves = lora_loop.publish_run(model, lora, branch, "pairs_drawn")
            dpo.plot_curves(curves, branch.train_plots / "curves.png")
            outputs.write_json(branch.train_metrics, dpo.training_cost(run, loop, data, state.num_processes, started))
