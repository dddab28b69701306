"""vader: VADER, reward gradients back-propagated through the sampler on the policy's own clips
(section `vader`; the rewards' models: `reward_models`). Its pairs are training queries (caption,
seed) with the reference model's clip of each, which the appearance guard holds the policy near."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from videodpo.core.params import Section, built_from
from videodpo.methods import Empty, LoRAStepSettings, check_lora_targets, lora_step_settings
from videodpo.rewards.settings import ClipSettings, DifferentiableRewardWeights, GuardWeights

if TYPE_CHECKING:
    from videodpo.config import Config

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    "VADER: the LoRA'd policy samples clips from recorded seeds and training captions, differentiable rewards score the decoded frames (temporal consistency), and the reward's gradient flows back through the denoising steps into a LoRA; an appearance guard keeps contrast, colour and layout near the LoRA-off model's clip from the same noise."
)


class VaderSettings(Section):
    """params `vader`: LoRA trained up the gradient of rewards on the policy's own samples."""

    max_steps: int = Field(default=20, gt=0)
    clips_per_step: int = Field(default=2, gt=0)
    learning_rate: float = Field(default=1e-2, gt=0)
    lr_schedule: Literal["constant", "cosine"] = "cosine"  # cosine: from learning_rate down to 0 at max_steps
    num_inference_steps: int = Field(default=10, gt=0)  # DDIM steps of the training samples
    backprop: Literal["last", "random", "all"] = "all"  # which denoising steps carry gradients
    backprop_steps: int = Field(default=1, gt=0)  # K, for backprop: last
    decode_frames: int = Field(default=0, ge=0)  # a random window of this many consecutive latent frames (wan: 4 pixel frames each); 0 = all
    rewards: DifferentiableRewardWeights = Field(default_factory=lambda: {"temporal": 1.0, "brightness": 1.0})
    guard: GuardWeights = Field(default_factory=lambda: {"contrast": 20.0, "colour": 1.0, "layout": 1.0})
    lora_targets: str = "motion_and_spatial"  # attention the LoRA adapts: one of the family's (families.lora_targets)
    queries: int = Field(default=64, gt=0, le=10_000)  # training (caption, seed) queries; seeds from core.seeds
    val_every: int = Field(default=10, ge=0)  # steps between validation scores; 0 = none
    checkpoint_every: int = Field(default=10, gt=0)  # steps between resumable checkpoints (and at SIGTERM)
    seed: int = Field(default=0, ge=0, le=999)

    @model_validator(mode="after")
    def _steps_fit(self) -> "VaderSettings":
        if self.backprop_steps > self.num_inference_steps:
            raise ValueError(f"backprop_steps {self.backprop_steps} > num_inference_steps {self.num_inference_steps}: K counts sampling steps")
        if self.decode_frames == 1:
            raise ValueError("decode_frames 1: a temporal reward needs two or more consecutive frames (0 decodes all)")
        if self.rewards.get("vjepa") and self.decode_frames % 2:
            raise ValueError(f"decode_frames {self.decode_frames}: the vjepa reward reads 2-frame tubelets; decode an even number of frames (0 decodes all)")
        return self


SECTION = VaderSettings  # params `vader`


class VaderQuerySettings(Section):
    """make_pairs@vader: the training queries (caption, seed) and the reference model's clip of each."""

    queries: int
    seed: int
    train_prompts: str  # the training prompt set's file, taken in turn
    num_inference_steps: int
    guidance_scale: float
    mixed_precision: str


class VaderTrainSettings(LoRAStepSettings):
    """train@vader: the reward-gradient loop and its sampler, and the LoRA it trains."""

    vader: VaderSettings
    clip: ClipSettings  # the clip_text reward's model (the vjepa reward's is the vjepa stage's output)
    mixed_precision: str
    gradient_checkpointing: bool


SETTINGS = {"pairs": VaderQuerySettings, "latents": Empty, "train": VaderTrainSettings}


def settings(config: Config) -> dict[str, Section]:
    vader, training = config.method_section("vader"), config.training
    family = config.family or config.families[0]
    check_lora_targets("vader", vader.lora_targets, family)
    return {
        "pairs": VaderQuerySettings(
            queries=vader.queries, seed=vader.seed, train_prompts=config.train_prompts_file(), num_inference_steps=vader.num_inference_steps,
            guidance_scale=config.sample.guidance_scale, mixed_precision=training.mixed_precision,
        ),
        "latents": Empty(),
        "train": VaderTrainSettings(
            vader=vader, clip=config.reward_models.clip, mixed_precision=training.mixed_precision,
            gradient_checkpointing=training.gradient_checkpointing, **lora_step_settings(config),
        ),
    }


def make_pairs(branch, settings: VaderQuerySettings, state) -> None:
    """The training queries and the reference model's clip of each, sampled as VADER's training
    samples are; writes the branch's pairs and pairs metrics (the references' flicker; videodpo.core.layout)."""
    from pathlib import Path

    import numpy as np
    from tqdm.auto import tqdm

    from videodpo import families
    from videodpo.core import clips, distributed, model_card, outputs, precision, prompts, seeds
    from videodpo.evaluation import temporal
    from videodpo.training import vader

    card = model_card.ModelCard.load(branch.family.base)
    captions = prompts.training_prompts(settings.train_prompts, card.source, families.load_base_tokenizer(branch.family.base)).prompts
    model = families.load_base(branch.family.base, precision.weight_dtype(settings.mixed_precision)).to(state.device)
    texts = [captions[i % len(captions)] for i in range(settings.queries)]
    query_seeds = seeds.pair_seeds(settings.seed, settings.queries)
    sampling = built_from(vader.ClipSampling, settings, frames=card.frames, shared_noise=card.shared_noise)
    shard = distributed.my_shard(settings.queries)
    mine = [(texts[i], query_seeds[i]) for i in shard]
    made = []
    for start in tqdm(range(0, len(mine), 8), desc=f"{branch.stage('make_pairs')}: reference clips", unit="batch"):
        batch = mine[start : start + 8]
        frames = vader.reference_clips(model, [p for p, _ in batch], [s for _, s in batch], sampling)
        made.append(clips.to_uint8_clips(frames))
    references = distributed.gather_rows(np.concatenate(made), settings.queries)
    with distributed.main_process_writes() as writes:
        if writes:
            errors = [temporal.warping_error(clip) for clip in tqdm(references, desc=f"{branch.stage('make_pairs')}: flicker", unit="clip")]
            outputs.write_json(
                branch.pairs_metrics,
                {"queries": settings.queries, "reference_warping_error": float(np.mean(errors)),
                 "reference_frame_difference": float(np.mean([temporal.frame_difference(c) for c in references]))},
            )
            with outputs.atomic_directory(branch.pairs) as staging:
                vader.write_query_clips(Path(staging), texts, query_seeds, references)


def encode_latents(branch, settings: Empty, state) -> None:
    """The prompt embeddings (with and without the caption) of every query and its reference clip as
    frames in [-1, 1]."""
    from pathlib import Path

    from videodpo import families
    from videodpo.core import outputs
    from videodpo.core.clips import clips_to_tensor
    from videodpo.training import vader

    model = families.load_base(branch.family.base).to(state.device)
    records, references = vader.read_query_clips(branch.pairs, branch.stage("make_pairs"))
    unconditional, conditional = model.guidance_embeddings([record["caption"] for record in records])
    queries = vader.VaderQueries(
        [record["seed"] for record in records], [record["caption"] for record in records], unconditional.float().cpu(),
        conditional.float().cpu(), clips_to_tensor(references),
    )
    with outputs.atomic_directory(branch.latents) as staging:
        vader.write_query_tensors(Path(staging), queries)


def train(branch, settings: VaderTrainSettings, state) -> None:
    """Reward gradients through the sampler, on the training queries of the branch's latents."""
    import time

    import torch

    from videodpo.training import reward_runs, vader

    started = time.perf_counter()
    options = settings.vader
    # the reward's gradient runs back through the decoder too: it checkpoints as well
    card, model, lora, scorers = reward_runs.policy_and_scorers(branch, settings, options, state, decoder_checkpointing=True)
    queries = vader.load_query_tensors(branch.latents, branch.stage("encode_latents"))
    sampling, objective, loop = reward_runs.algorithm_settings((vader.VaderSampling, vader.VaderObjective, vader.VaderLoop), options, settings, card)
    tensors = [torch.tensor(queries.seeds), queries.unconditional, queries.conditional, queries.references]
    identity = reward_runs.run_identity(branch, settings, options, scorers, tensors, queries.prompts)
    run = reward_runs.logged_run(
        branch, model, settings, card, state,
        lambda log, validate: vader.train_vader_lora(model, queries, sampling, objective, loop, branch.checkpoint, log, identity, validate, scorers),
    )
    cost = {"queries": len(queries.seeds), "clips_sampled": run.steps * loop.clips_per_step * state.num_processes}  # a reward query a clip
    reward_runs.publish(branch, model, lora, run, started, lambda curves, png: vader.plot_curves(curves, png, objective), cost, objective)
