"""What the training algorithms receive, built from their params sections as the methods build them
(core.params.built_from): a test gives a section's values and takes every other from the section's
class, the one place that holds their defaults. The loops here are bare unless asked: no SFT anchor,
no validation."""

from videodpo.core.params import built_from
from videodpo.training.settings import TrainingSettings
from videodpo.methods.grpo import GrpoSettings
from videodpo.methods.vader import VaderSettings
from videodpo.training import dpo, grpo, vader


def dpo_loop(shared_noise: float = 0.0, latent_segments=None, **training) -> dpo.LoopSettings:
    section = TrainingSettings(**{"sft_weight": 0.0, "val_every": 0, **training})
    return built_from(dpo.LoopSettings, section, shared_noise=shared_noise, latent_segments=latent_segments)


def vader_sampling(frames: int, shared_noise: float, guidance_scale: float = 4.0, **section) -> vader.VaderSampling:
    return built_from(vader.VaderSampling, VaderSettings(**section), frames=frames, guidance_scale=guidance_scale, shared_noise=shared_noise)


def vader_objective(rewards: dict, guard: dict) -> vader.VaderObjective:
    return built_from(vader.VaderObjective, VaderSettings(rewards=rewards, guard=guard))


def vader_loop(mixed_precision: str = "fp32", **section) -> vader.VaderLoop:
    return built_from(vader.VaderLoop, VaderSettings(**{"val_every": 0, "lr_schedule": "constant", **section}), mixed_precision=mixed_precision)


def grpo_sampling(frames: int, shared_noise: float, guidance_scale: float = 4.0, **section) -> grpo.GrpoSampling:
    return built_from(grpo.GrpoSampling, GrpoSettings(**{"train_steps": 0, **section}), frames=frames, guidance_scale=guidance_scale, shared_noise=shared_noise)


def grpo_objective(**section) -> grpo.GrpoObjective:
    return built_from(grpo.GrpoObjective, GrpoSettings(**{"train_steps": 0, **section}))


def grpo_loop(mixed_precision: str = "fp32", **section) -> grpo.GrpoLoop:
    return built_from(grpo.GrpoLoop, GrpoSettings(**{"train_steps": 0, "val_every": 0, **section}), mixed_precision=mixed_precision)
