"""grpo: group-relative policy gradients on the policy's own clips, with any reward (section `grpo`;
the rewards' models: `reward_models`). Its pairs are the training prompts, its latents their embeddings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from videodpo.core.params import Section
from videodpo.methods import Empty, LoRAStepSettings, check_lora_targets, lora_step_settings
from videodpo.rewards.settings import ClipSettings, GuardWeights, RewardWeights

if TYPE_CHECKING:
    from videodpo.config import Config

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    "GRPO: the LoRA'd policy samples a group of clips per training prompt with a stochastic sampler (DDIM with eta > 0, or the flow SDE), any rewards score them (no gradient through the reward), and a clipped policy-gradient step raises the log-probability of the clips that beat their group's mean."
)


class GrpoSettings(Section):
    """grpo: a round samples prompts_per_round × group_size clips and feeds updates_per_round optimiser steps."""

    max_steps: int = Field(default=40, gt=0)  # optimiser steps
    prompts_per_round: int = Field(default=2, gt=0)  # P
    group_size: int = 4  # G clips per prompt, ranked against one another
    updates_per_round: int = Field(default=2, gt=0)  # optimiser steps per round, each over its share of the trained steps
    num_inference_steps: int = Field(default=10, gt=0)  # sampler steps of the training clips
    eta: float = 1.0  # the sampler's noise level (DDIM's eta; the flow SDE's), in (0, 1]
    train_steps: int = Field(default=5, ge=0)  # the highest-noise sampler steps trained; 0 = all
    clip_range: float = Field(default=1e-4, gt=0)  # PPO's: ratios outside 1 ± clip_range stop pulling
    kl_weight: float = Field(default=0.0, ge=0)  # KL estimate to the reference (LoRA off)
    learning_rate: float = Field(default=3e-3, gt=0)
    rewards: RewardWeights = Field(default_factory=lambda: {"flow_warping": 1.0, "brightness": 1.0})
    guard: GuardWeights = Field(default_factory=dict)  # appearance_guard terms, a penalty on the reward
    lora_targets: str = "motion_and_spatial"  # one of the family's (families.lora_targets)
    val_every: int = Field(default=10, ge=0)
    checkpoint_every: int = Field(default=10, gt=0)
    seed: int = Field(default=0, ge=0, le=999)

    @field_validator("group_size")
    @classmethod
    def _a_group(cls, size: int) -> int:
        if size < 2:
            raise ValueError("an advantage compares each clip with the others of its group: give 2 or more")
        return size

    @field_validator("eta")
    @classmethod
    def _noisy_sampler(cls, eta: float) -> float:
        if not 0 < eta <= 1:
            raise ValueError("a sampler step has a log-probability only with noise: give 0 < eta ≤ 1 (1: DDPM-like, Flow-GRPO uses 0.7)")
        return eta

    @model_validator(mode="after")
    def _steps_fit(self) -> "GrpoSettings":
        if self.train_steps > self.num_inference_steps:
            raise ValueError(f"train_steps {self.train_steps} > num_inference_steps {self.num_inference_steps}: it counts sampler steps (0 = all)")
        trained = self.train_steps or self.num_inference_steps
        if self.updates_per_round > trained:
            raise ValueError(f"updates_per_round {self.updates_per_round} > the {trained} trained sampler steps: each update trains its share of them; lower it")
        return self


SECTION = GrpoSettings  # params `grpo`


class GrpoPromptSettings(Section):
    """make_pairs@grpo: the training prompts the rounds draw from."""

    train_prompts: str


class GrpoTrainSettings(LoRAStepSettings):
    """train@grpo: the rounds, the policy-gradient loop, and the LoRA it trains."""

    grpo: GrpoSettings
    clip: ClipSettings  # the clip_text reward's model (the vjepa reward's is the vjepa stage's output)
    mixed_precision: str
    gradient_checkpointing: bool


SETTINGS = {"pairs": GrpoPromptSettings, "latents": Empty, "train": GrpoTrainSettings}


def settings(config: Config) -> dict[str, Section]:
    grpo = config.method_section("grpo")
    family = config.family or config.families[0]
    check_lora_targets("grpo", grpo.lora_targets, family)
    if grpo.rewards.get("oracle") and config.model.source != "toy":
        raise ValueError("grpo.rewards: oracle reads the toy world's captions, and this tier samples hub prompts; weigh another reward")
    training = config.training
    return {
        "pairs": GrpoPromptSettings(train_prompts=config.train_prompts_file()),
        "latents": Empty(),
        "train": GrpoTrainSettings(
            grpo=grpo, clip=config.reward_models.clip, mixed_precision=training.mixed_precision,
            gradient_checkpointing=training.gradient_checkpointing, **lora_step_settings(config),
        ),
    }


def make_pairs(branch, settings: GrpoPromptSettings, state) -> None:
    """The training prompts, each once: GRPO samples its own clips as it trains."""
    from videodpo import families
    from videodpo.core import distributed, model_card, outputs, prompts
    from videodpo.training import grpo

    card = model_card.ModelCard.load(branch.family.base)
    texts = prompts.training_prompts(settings.train_prompts, card.source, families.load_base_tokenizer(branch.family.base)).prompts
    with distributed.main_process_writes() as writes:
        if writes:
            outputs.write_json(branch.pairs_metrics, {"prompts": len(texts)})
            with outputs.atomic_directory(branch.pairs) as staging:
                grpo.write_prompts(staging, texts)


def encode_latents(branch, settings: Empty, state) -> None:
    """Every training prompt's embeddings, with and without the prompt (classifier-free guidance)."""
    from videodpo import families
    from videodpo.core import outputs
    from videodpo.training import grpo

    model = families.load_base(branch.family.base).to(state.device)
    texts = grpo.read_prompts(branch.pairs, branch.stage("make_pairs"))
    unconditional, conditional = model.guidance_embeddings(texts)
    with outputs.atomic_directory(branch.latents) as staging:
        grpo.write_embeddings(staging, grpo.GrpoPrompts(texts, unconditional.float().cpu(), conditional.float().cpu()))


def train(branch, settings: GrpoTrainSettings, state) -> None:
    """GRPO on the training prompts of the branch's latents."""
    import time

    from videodpo.training import grpo, reward_runs

    started = time.perf_counter()
    options = settings.grpo
    card, model, lora, scorers = reward_runs.policy_and_scorers(branch, settings, options, state, decoder_checkpointing=False)
    prompts = grpo.load_embeddings(branch.latents, branch.stage("encode_latents"))
    sampling, objective, loop = reward_runs.algorithm_settings((grpo.GrpoSampling, grpo.GrpoObjective, grpo.GrpoLoop), options, settings, card)
    identity = reward_runs.run_identity(branch, settings, options, scorers, [prompts.unconditional, prompts.conditional], prompts.prompts)
    run = reward_runs.logged_run(
        branch, model, settings, card, state,
        lambda log, validate: grpo.train_grpo_lora(model, prompts, sampling, objective, loop, branch.checkpoint, log, identity, validate, scorers),
    )
    cost = {"prompts": len(prompts.prompts), "clips_sampled": grpo.clips_sampled(run.steps, loop, state.num_processes)}  # a reward query a clip
    reward_runs.publish(branch, model, lora, run, started, lambda curves, png: grpo.plot_curves(curves, png, objective), cost, objective)
