"""dpo: Diffusion-DPO on synthetic pairs. Winners are base generations; each loser is its winner made
temporally jittery (`data`); the LoRA trains by the `training` section's Diffusion-DPO loop on the
pairs' cached latents. Its train step is also the labelled DPO methods' (vanilla_dpo, dense_dpo),
and its sections are theirs: `data` (how many pairs, of what clips) and `training` (the DPO loop,
and the precision every method trains in)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from videodpo.core.params import Section, built_from
from videodpo.methods import Empty, LoRAStepSettings, lora_step_settings
from videodpo.pairs.jitter import JITTER_METHODS

if TYPE_CHECKING:
    from videodpo.config import Config

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    'Diffusion-DPO on synthetic preference pairs: winner = a normal generation, loser = the same clip made temporally jittery. LoRA on the motion-module attention only; the reference model is the same UNet with the LoRA switched off.'
)

NUM_TRAIN_TIMESTEPS = 1000  # the noise schedule of every tier's model (SD1.5's and the toy model's)


class DataSettings(Section):
    """params `data`: the clips' shape, and how many preference pairs the DPO methods make and from
    which seeds; dpo's losers (jitter), and dense_dpo's ground truth on the hub tiers."""

    num_pairs: int = Field(default=64, gt=0, le=10_000)  # each data.seed owns a block of 10 000 pair seeds
    frames: int = Field(default=8, ge=2)
    resolution: int = Field(default=32, ge=16)
    jitter_method: str | list[str] = "amplify"  # one maker, or a mix taken in turn
    jitter_strength: float = Field(default=1.0, ge=0)
    appearance_tolerance: float = Field(default=0.05, gt=0)  # largest relative contrast/saturation gap of a kept pair
    candidates_per_pair: int = Field(default=1, ge=1, le=100)  # the winner is the steadiest (lowest warping error) of this many generations
    seed: int = Field(default=0, ge=0, le=999)  # bounds keep pair seeds apart from evaluation seeds (core.seeds)
    gt_videos: str = Field(default="videos", min_length=1)  # dense_dpo on the hub tiers: captioned videos (pairs.user_videos)

    @field_validator("jitter_method")
    @classmethod
    def _known_makers(cls, method: str | list[str]) -> str | list[str]:
        names = [method] if isinstance(method, str) else method
        unknown = [name for name in names if name not in JITTER_METHODS]
        if unknown or not names:
            raise ValueError(f"{unknown or 'an empty list'} is not a loser maker; name one of {', '.join(JITTER_METHODS)}, or a list of them")
        return method


class TrainingSettings(Section):
    """params `training`: the Diffusion-DPO loop (training.dpo.LoopSettings is built from it), and the
    precision and memory settings every method's training reads."""

    max_steps: int = Field(default=200, gt=0)
    beta: float = Field(default=2500.0, gt=0)
    learning_rate: float = Field(default=1e-3, gt=0)
    batch_size: int = Field(default=4, gt=0)
    gradient_accumulation_steps: int = Field(default=1, gt=0)
    # "fp32", not "no": `dvc exp run -S` rewrites params.yaml unquoted, and YAML reads no as false
    mixed_precision: Literal["fp32", "fp16", "bf16"] = "fp32"
    gradient_checkpointing: bool = False
    memory_optimized: bool = True  # the reference is the policy with its LoRA off, not a frozen copy
    # anchor: keep the policy as good as the reference on winners, so it cannot drift in appearance
    sft_weight: float = Field(default=20.0, ge=0)
    max_timestep: int = Field(default=1000, gt=0, le=1000)  # DPO on timesteps [0, max_timestep)
    val_every: int = Field(default=50, ge=0)  # steps between validation scores; 0 = none
    checkpoint_every: int = Field(default=25, gt=0)  # steps between resumable checkpoints (and at SIGTERM)
    seed: int = 0


class DPOPairSettings(Section):
    """make_pairs@dpo: how pairs are made, and how the base model samples their winners."""

    data: DataSettings
    train_prompts: str  # the training prompt set's file (videodpo.core.prompts)
    num_inference_steps: int
    guidance_scale: float
    mixed_precision: str


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

    import torch
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
            labels = arrays.get("labels")
            store.write_latent_shard(
                Path(staging),
                shard.replace("pairs-", "latents-"),
                model.encode_clips(arrays["winners"]),
                model.encode_clips(arrays["losers"]),
                model.encode_prompts(captions),
                None if labels is None else torch.from_numpy(labels),
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
