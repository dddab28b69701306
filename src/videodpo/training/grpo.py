"""GRPO: align the policy by group-relative policy gradients on clips it samples itself (DanceGRPO,
Flow-GRPO). No gradient is taken through the reward, so any reward serves: a warping error on real
optical flow, a labeller's score, a function of the user's.

A round: for each of P training prompts the LoRA'd policy samples a group of G clips with the family's
stochastic sampler (`model.sampler_step` with eta > 0: DDIM's Gaussian step on AnimateDiff, as DDPO
takes it; the flow SDE on Wan, as Flow-GRPO does), recording every step's latents and their
log-probability. The decoded clips are scored by the weighted rewards, less the optional appearance
guard against the reference model's clip (LoRA off) from the same start and the same sampler noise;
each clip's advantage is its distance from its group's mean reward in the group's standard deviations.
The round then feeds `updates_per_round` optimiser steps, each over its share of the trained steps
(all, or the `train_steps` highest-noise ones): PPO's clipped ratio of the policy's log-probability of
a recorded step to the recorded one, times the advantage, plus `kl_weight` × an estimate of the KL
divergence to the reference.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from videodpo.core import seeds
from videodpo.core.integrity import DamagedFileError, read_tensors, remake_hint, require_finite, require_keys
from videodpo.evaluation import visuals
from videodpo.rewards import registry as rewards
from videodpo.training.lora_loop import (
    LoopPlan,
    StepContext,
    TrainingRun,
    resume_fingerprint,
    step_generator,
    train_lora,
)

LOG_RATIO_LIMIT = 20.0  # |log ratio| beyond this is clamped before exp: a far-off step cannot overflow
MAX_GRAD_NORM = 1.0  # the clip of the LoRA's gradient norm


@dataclass(frozen=True)
class GrpoSampling:
    """How the policy's clips are sampled, and which of the sampler's steps are trained (the `grpo`
    section checks each value: methods.grpo.GrpoSettings)."""

    frames: int
    num_inference_steps: int
    guidance_scale: float
    shared_noise: float
    eta: float  # the sampler's noise level: DDIM's eta, the flow SDE's
    train_steps: int  # the highest-noise steps trained; 0 = every step

    def trained_steps(self) -> list[int]:
        """The indices of the trained sampler steps, highest noise first."""
        return list(range(self.train_steps or self.num_inference_steps))


@dataclass(frozen=True)
class GrpoObjective:
    rewards: dict[str, float]  # weight per reward, any reward
    guard: dict[str, float]  # weight per appearance_guard term: a penalty on the reward
    clip_range: float  # ratios outside 1 ± clip_range stop pulling
    kl_weight: float  # weight of the KL estimate to the reference (LoRA off)


@dataclass(frozen=True)
class GrpoLoop:
    max_steps: int  # optimiser steps
    prompts_per_round: int  # P
    group_size: int  # G clips per prompt
    updates_per_round: int  # optimiser steps fed by one round's clips
    learning_rate: float
    mixed_precision: str
    seed: int
    checkpoint_every: int
    val_every: int

    @property
    def clips_per_round(self) -> int:
        return self.prompts_per_round * self.group_size


# ---------------------------------------------------------------------------------------------
# Sampling with log-probabilities

def guided_prediction(model, denoiser, latents: torch.Tensor, timestep, unconditional: torch.Tensor, conditional: torch.Tensor, scale: float) -> torch.Tensor:
    """The denoiser's classifier-free-guided prediction for latents (B, C, F, h, w) at one sampler timestep."""
    both = model.predict(denoiser, torch.cat([latents, latents]), timestep.expand(2 * len(latents)), torch.cat([unconditional, conditional]))
    plain, guided = both.chunk(2)
    return plain + scale * (guided - plain)


def sample_trajectory(
    model, denoiser, start: torch.Tensor, unconditional: torch.Tensor, conditional: torch.Tensor, sampling: GrpoSampling,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The stochastic sampler from `start` (B, C, F, h, w): every state (T + 1, B, C, F, h, w), noise
    first, and each step's log-probability (T, B). The sampler's noise comes from `generator`, so the
    same generator state gives the same noise to another denoiser (the reference's clip)."""
    scheduler = model.sampler(sampling.num_inference_steps)
    latents, states, log_probs = start, [start], []
    for timestep in scheduler.timesteps:
        prediction = guided_prediction(model, denoiser, latents, timestep, unconditional, conditional, sampling.guidance_scale)
        latents, log_prob = model.sampler_step(scheduler, prediction, timestep, latents, sampling.eta, generator=generator)
        states.append(latents)
        log_probs.append(log_prob)
    return torch.stack(states), torch.stack(log_probs)


def step_log_prob(
    model, denoiser, scheduler, states: torch.Tensor, index: int, unconditional: torch.Tensor, conditional: torch.Tensor,
    sampling: GrpoSampling,
) -> torch.Tensor:
    """The log-probability (B,) under `denoiser` of the recorded step `index`: states[index] → states[index + 1]."""
    timestep = scheduler.timesteps[index]
    prediction = guided_prediction(model, denoiser, states[index], timestep, unconditional, conditional, sampling.guidance_scale)
    _, log_prob = model.sampler_step(scheduler, prediction, timestep, states[index], sampling.eta, prev_latents=states[index + 1])
    return log_prob


# ---------------------------------------------------------------------------------------------
# The objective: pure functions

def group_advantages(reward: torch.Tensor, group_size: int, epsilon: float = 1e-4) -> torch.Tensor:
    """(reward − its group's mean) / the group's standard deviation, for rewards (P · G,) in groups of
    G consecutive clips; a group whose clips all score alike gets advantage 0."""
    groups = reward.float().view(-1, group_size)
    centred = groups - groups.mean(dim=1, keepdim=True)
    return (centred / (groups.std(dim=1, unbiased=False, keepdim=True) + epsilon)).flatten()


def clipped_policy_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (to minimise) over clips (B,), and the share of clips whose ratio fell
    outside 1 ± clip_range."""
    ratio = torch.exp((log_prob - old_log_prob).clamp(-LOG_RATIO_LIMIT, LOG_RATIO_LIMIT))
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - clip_range, 1 + clip_range)
    return torch.maximum(unclipped, clipped).mean(), ((ratio - 1).abs() > clip_range).float().mean()


def kl_estimate(log_prob: torch.Tensor, reference_log_prob: torch.Tensor) -> torch.Tensor:
    """½ (log p − log p_ref)² per clip: the k2 estimate of KL(policy ‖ reference) on the policy's own samples."""
    return 0.5 * (log_prob - reference_log_prob) ** 2


# ---------------------------------------------------------------------------------------------
# The training prompts: make_pairs@grpo writes them, encode_latents@grpo their embeddings

PROMPTS_FILE = "prompts.json"
EMBEDDINGS_FILE = "prompts.safetensors"


@dataclass(frozen=True)
class GrpoPrompts:
    prompts: list[str]
    unconditional: torch.Tensor  # (N, seq, dim)
    conditional: torch.Tensor  # (N, seq, dim)


def write_prompts(folder: Path, prompts: list[str]) -> None:
    (Path(folder) / PROMPTS_FILE).write_text(json.dumps({"prompts": prompts}, indent=1))


def read_prompts(folder: Path, made_by: str) -> list[str]:
    path = Path(folder) / PROMPTS_FILE
    try:
        prompts = json.loads(path.read_text())["prompts"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DamagedFileError(f"{path} is missing or damaged ({error}); {remake_hint(made_by)}") from error
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise DamagedFileError(f"{path} holds no list of prompts; {remake_hint(made_by)}")
    return prompts


def write_embeddings(folder: Path, prompts: GrpoPrompts) -> None:
    save_file(
        {"unconditional": prompts.unconditional.contiguous(), "conditional": prompts.conditional.contiguous()},
        str(Path(folder) / EMBEDDINGS_FILE), metadata={"prompts": json.dumps(prompts.prompts)},
    )


def load_embeddings(folder: Path, made_by: str) -> GrpoPrompts:
    path = Path(folder) / EMBEDDINGS_FILE
    if not path.is_file():
        raise DamagedFileError(f"{path} is missing; {remake_hint(made_by)}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
            prompts = json.loads((handle.metadata() or {}).get("prompts", "null"))
    except (SafetensorError, OSError, ValueError) as error:
        raise DamagedFileError(f"{path} is damaged ({error}); {remake_hint(made_by)}") from error
    require_keys(tensors, ("unconditional", "conditional"), path, made_by)
    if prompts is None or len(prompts) != len(tensors["conditional"]):
        raise DamagedFileError(f"{path} has no prompt per embedding; {remake_hint(made_by)}")
    return GrpoPrompts(prompts, tensors["unconditional"], tensors["conditional"])


# ---------------------------------------------------------------------------------------------
# A round: sample, score, rank

def clip_seeds(seed: int, first: int, count: int) -> list[int]:
    """The starting-noise seeds of clips first .. first + count − 1 of a run: the candidate seeds of the
    pair block of `seed` (videodpo.core.seeds), clip i being candidate i mod 100 of pair seed i // 100, so no
    clip the policy trains on shares a seed with a preview, validation or evaluation sample. They
    repeat after a million clips."""
    per_pair, block = seeds.CANDIDATES_PER_SEED, seeds.pair_seeds(seed, 10_000)
    return [seeds.candidate_seeds(block[(i // per_pair) % len(block)], per_pair)[i % per_pair] for i in range(first, first + count)]


@dataclass
class Round:
    """One round's clips as the updates read them: each clip's prompt row (P · G,), every sampler
    state (T + 1, P · G, …), each step's log-probability (T, P · G), the advantages (P · G,), and the
    round's scores for the log."""

    rows: torch.Tensor
    states: torch.Tensor
    log_probs: torch.Tensor
    advantages: torch.Tensor
    scores: dict[str, float]

    def save(self, path: Path, fingerprint: str) -> None:
        tensors = {"rows": self.rows, "states": self.states, "log_probs": self.log_probs, "advantages": self.advantages}
        temporary = path.with_name(f".{path.name}.tmp")
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(temporary),
                  metadata={"fingerprint": fingerprint, "scores": json.dumps(self.scores)})
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> "Round | None":
        """The round saved at `path` by a run of the same fingerprint, or None."""
        if not path.is_file():
            return None
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("fingerprint") != fingerprint:
            return None
        tensors = read_tensors(path, "train", ("rows", "states", "log_probs", "advantages"))
        return cls(tensors["rows"], tensors["states"], tensors["log_probs"], tensors["advantages"], json.loads(metadata["scores"]))


def sample_round(
    model, prompts: GrpoPrompts, rows: torch.Tensor, start_seeds: list[int], sampling: GrpoSampling, objective: GrpoObjective,
    group_size: int, generator: torch.Generator, scorers: dict | None = None,
) -> Round:
    """Sample a group of `group_size` clips for each prompt row in `rows` with the policy (the model's
    denoiser, LoRA on), each from its own seed's starting noise (`start_seeds`, one per clip) and the
    sampler noise of `generator`; score them and rank each within its group."""
    device, dtype = model.device, model.dtype
    clip_rows = rows.repeat_interleave(group_size)
    if len(start_seeds) != len(clip_rows):
        raise ValueError(f"{len(start_seeds)} seeds for {len(clip_rows)} clips: one seed per clip")
    all_states, all_log_probs, totals, parts_seen = [], [], [], {}
    denoiser = model.denoiser
    with torch.no_grad():
        for first in range(0, len(clip_rows), group_size):
            group = clip_rows[first : first + group_size]
            start = torch.cat([model.initial_latents(sampling.frames, s, sampling.shared_noise) for s in start_seeds[first : first + group_size]])
            start = start.to(device, dtype)
            unconditional, conditional = prompts.unconditional[group].to(device, dtype), prompts.conditional[group].to(device, dtype)
            noise_state = generator.get_state()
            states, log_probs = sample_trajectory(model, denoiser, start, unconditional, conditional, sampling, generator)
            frames = model.decode(states[-1]).float()
            texts = [prompts.prompts[int(i)] for i in group]
            reward, parts = rewards.combined(frames, objective.rewards, rewards.RewardContext(texts, scorers or {}))
            if objective.guard:
                reference_noise = torch.Generator().set_state(noise_state)  # the reference's clip from the same noise
                adapters = model.adapters_disabled(denoiser) if getattr(denoiser, "peft_config", None) else nullcontext()
                with adapters:
                    reference_states, _ = sample_trajectory(model, denoiser, start, unconditional, conditional, sampling, reference_noise)
                guard = rewards.appearance_guard(frames, model.decode(reference_states[-1]).float())
                reward = reward - sum(objective.guard.get(name, 0.0) * value for name, value in guard.items())
                parts = {**parts, **{f"guard_{name}": value for name, value in guard.items()}}
            all_states.append(states.float().cpu())
            all_log_probs.append(log_probs.float().cpu())
            totals.append(reward.float().cpu())
            for name, value in parts.items():
                parts_seen.setdefault(name, []).append(value.float().cpu())
    reward = torch.cat(totals)
    scores = {"reward_mean": reward.mean().item(), "reward_std": reward.std(unbiased=False).item()}
    scores.update({name: torch.cat(values).mean().item() for name, values in parts_seen.items()})
    return Round(clip_rows, torch.cat(all_states, dim=1), torch.cat(all_log_probs, dim=1), group_advantages(reward, group_size), scores)


def grpo_update(
    context: StepContext, model, round_: Round, prompts: GrpoPrompts, sampling: GrpoSampling, objective: GrpoObjective,
    update: int, updates_per_round: int,
) -> dict[str, float]:
    """Forward and backward for update `update` of a round: over every clip, the round's trained steps
    update::updates_per_round, the clipped objective (and the KL term) averaged over those steps."""
    device, dtype = model.device, model.dtype
    scheduler = model.sampler(sampling.num_inference_steps)
    indices = sampling.trained_steps()[update::updates_per_round]
    unconditional = prompts.unconditional[round_.rows].to(device, dtype)
    conditional = prompts.conditional[round_.rows].to(device, dtype)
    states = round_.states.to(device, dtype)
    advantages = round_.advantages.to(device)
    totals = {"loss": 0.0, "kl": 0.0, "clipped_share": 0.0}
    for index in indices:
        with context.accelerator.autocast():
            log_prob = step_log_prob(model, context.policy, scheduler, states, index, unconditional, conditional, sampling)
            loss, clipped = clipped_policy_loss(log_prob.float(), round_.log_probs[index].to(device), advantages, objective.clip_range)
            kl = torch.zeros(())
            if objective.kl_weight:
                with torch.no_grad(), model.adapters_disabled(model.denoiser):
                    reference = step_log_prob(model, model.denoiser, scheduler, states, index, unconditional, conditional, sampling)
                kl = kl_estimate(log_prob.float(), reference.float()).mean()
                loss = loss + objective.kl_weight * kl
        require_finite(f"step {context.step}, sampler step {index} (last checkpoint kept: step {context.saved})", loss=loss.detach())
        context.accelerator.backward(loss / len(indices))
        totals["loss"] += loss.item() / len(indices)
        totals["kl"] += kl.item() / len(indices)
        totals["clipped_share"] += clipped.item() / len(indices)
    return totals


class RoundStore:
    """Each process's latest round, kept beside the checkpoint (rounds/), so a run stopped between two
    updates of a round resumes on the clips that round sampled; a round made with other settings is
    never read."""

    def __init__(self, checkpoint_dir: Path | None, fingerprint: dict):
        self.folder = Path(checkpoint_dir) / "rounds" if checkpoint_dir else None
        self.fingerprint = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def path(self, index: int, rank: int) -> Path:
        return self.folder / f"round-{index:06d}-rank{rank}.safetensors"

    def save(self, index: int, rank: int, round_: Round) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        round_.save(self.path(index, rank), self.fingerprint)
        for stale in self.folder.glob(f"round-*-rank{rank}.safetensors"):
            if stale.name != self.path(index, rank).name:
                stale.unlink()

    def load(self, index: int, rank: int) -> Round | None:
        return Round.load(self.path(index, rank), self.fingerprint) if self.folder else None


def train_grpo_lora(
    model,
    prompts: GrpoPrompts,
    sampling: GrpoSampling,
    objective: GrpoObjective,
    loop: GrpoLoop,
    checkpoint_dir: Path | None = None,
    log: Callable[[dict[str, float], int], None] | None = None,
    identity: str = "",
    validate: Callable[[], dict[str, float]] | None = None,
    scorers: dict | None = None,
) -> TrainingRun:
    """Train the model's LoRA by GRPO in the one LoRA loop (videodpo.training.lora_loop); return what this
    process did. A round is sampled every `updates_per_round` steps from the step's generator
    (lora_loop.step_generator), so a resumed run samples what it would have sampled. Validation is
    logged against the clips sampled so far."""
    fingerprint = resume_fingerprint(loop, identity=identity, sampling=sampling, objective=objective)
    store = RoundStore(checkpoint_dir, fingerprint)
    held: dict[int, Round] = {}
    per_round = loop.updates_per_round

    def grpo_optimiser_step(context: StepContext, run: TrainingRun) -> dict[str, float]:
        index, update = divmod(context.step, per_round)
        if index not in held:
            held.clear()
            round_ = store.load(index, context.rank) if update else None
            if round_ is None and update:
                raise DamagedFileError(
                    f"the checkpoint in {checkpoint_dir} stopped inside round {index}, whose clips ({store.path(index, context.rank)}) are gone: "
                    f"delete {checkpoint_dir} to start over"
                )
            if round_ is None:
                generator = step_generator(loop.seed, index * per_round, rank=context.rank)
                mine = torch.as_tensor(list(context.rows))
                rows = mine[torch.randint(len(mine), (loop.prompts_per_round,), generator=generator)]
                first = (index * context.accelerator.num_processes + context.rank) * loop.clips_per_round
                start_seeds = clip_seeds(loop.seed, first, loop.clips_per_round)
                round_ = sample_round(model, prompts, rows, start_seeds, sampling, objective, loop.group_size, generator, scorers)
                require_finite(f"round {index} (step {context.step})", reward_mean=torch.tensor(round_.scores["reward_mean"]))
                store.save(index, context.rank, round_)
            held[index] = round_
        round_ = held[index]
        run.rows_seen.update(int(i) for i in round_.rows)
        logged = grpo_update(context, model, round_, prompts, sampling, objective, update, per_round)
        return {**round_.scores, **logged}

    plan = LoopPlan(
        max_steps=loop.max_steps, learning_rate=loop.learning_rate, mixed_precision=loop.mixed_precision,
        checkpoint_every=loop.checkpoint_every, val_every=loop.val_every, max_grad_norm=MAX_GRAD_NORM,
        consumed="clips_sampled", consumed_per_step=loop.clips_per_round / per_round, desc="train: GRPO",
    )
    return train_lora(model, grpo_optimiser_step, plan, fingerprint, len(prompts.prompts), checkpoint_dir, log, validate)


def clips_sampled(steps: int, loop: GrpoLoop, processes: int = 1) -> int:
    """Clips sampled (each one reward query) by a run of `steps` optimiser steps: a round every
    updates_per_round steps."""
    return -(-steps // loop.updates_per_round) * loop.clips_per_round * processes


def plot_curves(tsv_dir: Path, path: Path, objective: GrpoObjective) -> None:
    """The logged reward, policy and validation curves as one PNG for the README."""
    series = lambda name: visuals.logged_series(tsv_dir, name)  # noqa: E731
    panels = {
        "reward (weighted, guard included)": {"round mean": series("reward_mean"), "round spread (std)": series("reward_std")},
        "rewards": {name: series(name) for name in objective.rewards if (tsv_dir / f"{name}.tsv").is_file()},
        "policy": {"KL estimate": series("kl"), "share of clipped ratios": series("clipped_share")},
    }
    if objective.guard:
        panels["appearance guard"] = {term: series(f"guard_{term}") for term in rewards.GUARD_TERMS}
    if (tsv_dir / "val_warping_error.tsv").is_file():
        panels["validation warping error"] = {"warping error": series("val_warping_error")}
    visuals.curves(panels, path)
