"""VADER: align the policy by the gradients of differentiable rewards on its own samples.

One step: sample clips from the LoRA'd policy with DDIM from recorded seeds (classifier-free guidance,
the evaluation's sampler), with gradients through K of the denoising steps (`backprop`: the `last` K,
a `random` cutoff per step as in VADER's code, or `all`), decode a window of consecutive frames,
score it with the weighted rewards minus the appearance guard against the reference model's clip
from the same noise (the LoRA switched off), and step the LoRA up the gradient.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file

from videodpo.core import phases
from videodpo.core.integrity import DamagedFileError, read_tensors, remake_hint, require_finite, require_keys
from videodpo.evaluation import visuals
from videodpo.pairs.store import read_manifest, write_manifest
from videodpo.rewards import registry as rewards
from videodpo.training.lora_loop import (
    LoopPlan,
    StepContext,
    TrainingRun,
    resume_fingerprint,
    step_generator,
    train_lora,
)

MAX_GRAD_NORM = 1.0  # VADER's clip of the LoRA's gradient norm


@dataclass(frozen=True)
class ClipSampling:
    """How a clip is sampled from a training query: the evaluation's sampler at these steps."""

    frames: int
    num_inference_steps: int
    guidance_scale: float
    shared_noise: float


@dataclass(frozen=True)
class VaderSampling(ClipSampling):
    """How the policy's training clips are sampled and what the gradient sees of them (the `vader`
    section checks each value: methods.vader.VaderSettings)."""

    backprop: str  # last (the last backprop_steps) | random (a random cutoff per step) | all
    backprop_steps: int  # K for `last`
    decode_frames: int  # a window of this many consecutive latent frames; 0 = all


def first_gradient_step(sampling: VaderSampling, generator: torch.Generator) -> int:
    """Index of the first denoising step whose graph is kept; earlier steps run under no_grad."""
    steps = sampling.num_inference_steps
    if sampling.backprop == "all":
        return 0
    if sampling.backprop == "last":
        return steps - sampling.backprop_steps
    return int(torch.randint(steps, (1,), generator=generator))


def decode_window(sampling: VaderSampling, latent_frames: int, generator: torch.Generator) -> slice:
    """A random window of `decode_frames` consecutive latent frames of the clip's `latent_frames` (all: 0)."""
    if sampling.decode_frames in (0, latent_frames):
        return slice(0, latent_frames)
    if sampling.decode_frames > latent_frames:
        raise ValueError(f"vader.decode_frames: {sampling.decode_frames}, more than the clips' {latent_frames} latent frames")
    start = int(torch.randint(latent_frames - sampling.decode_frames + 1, (1,), generator=generator))
    return slice(start, start + sampling.decode_frames)


def starting_latents(model, seeds: list[int], sampling: ClipSampling) -> torch.Tensor:
    """The starting noise of each seed's clip, as the evaluation's sampler draws it, on the model's device."""
    latents = torch.cat([model.initial_latents(sampling.frames, s, sampling.shared_noise) for s in seeds])
    return latents.to(model.device, model.dtype)


def reference_clips(model, prompts: list[str], seeds: list[int], sampling: ClipSampling) -> torch.Tensor:
    """The reference model's (LoRA off, or no LoRA) decoded clips (B, F, 3, H, W) in [-1, 1], from the
    same noise and sampler as the policy's training clips: what the appearance guard compares with."""
    latents = starting_latents(model, seeds, sampling)
    unconditional, conditional = model.guidance_embeddings(prompts)
    denoiser = model.denoiser
    adapters = model.adapters_disabled(denoiser) if getattr(denoiser, "peft_config", None) else nullcontext()
    with torch.no_grad(), adapters:
        final = model.denoise(
            denoiser, latents, unconditional, conditional, sampling.num_inference_steps, sampling.guidance_scale, sampling.num_inference_steps,
        )
        return model.decode(final).float()


@dataclass(frozen=True)
class VaderObjective:
    rewards: dict[str, float]  # weight per differentiable reward
    guard: dict[str, float]  # weight per appearance_guard term


@dataclass(frozen=True)
class VaderBatch:
    """Training queries: seeds (the starting noise), prompts and their embeddings (B, seq, dim), and the
    reference model's clips from the same noise (B, F, 3, H, W)."""

    seeds: list[int]
    prompts: list[str]
    unconditional: torch.Tensor
    conditional: torch.Tensor
    references: torch.Tensor


@dataclass
class VaderStep:
    loss: torch.Tensor
    reward: torch.Tensor  # (B,) weighted reward
    parts: dict[str, torch.Tensor]  # each reward and guard term, (B,)


def vader_step(
    denoiser, model, batch: VaderBatch, sampling: VaderSampling, objective: VaderObjective, generator: torch.Generator,
    scorers: dict | None = None,
) -> VaderStep:
    """Sample, decode, score: the loss −(reward − guard) of one batch of the policy's clips. `denoiser`
    is the policy (model.denoiser, or its DDP wrapper); `scorers` are the model rewards' models
    (rewards.load_scorers)."""
    gradient_from = first_gradient_step(sampling, generator)
    window = decode_window(sampling, model.latent_frames(sampling.frames), generator)
    device, dtype = model.device, model.dtype
    latents = starting_latents(model, batch.seeds, sampling)
    final = model.denoise(
        denoiser, latents, batch.unconditional.to(device, dtype), batch.conditional.to(device, dtype), sampling.num_inference_steps,
        sampling.guidance_scale, gradient_from,
    )
    frames = model.decode(final, window).float()
    reward, parts = rewards.combined(frames, objective.rewards, rewards.RewardContext(batch.prompts, scorers or {}))
    guard = rewards.appearance_guard(frames, batch.references[:, model.window_frames(window)].to(frames.device))
    penalty = sum(objective.guard.get(name, 0.0) * value for name, value in guard.items())
    parts = {**parts, **{f"guard_{name}": value for name, value in guard.items()}}
    return VaderStep(loss=-(reward - penalty).mean(), reward=reward.detach(), parts={k: v.detach() for k, v in parts.items()})


@dataclass(frozen=True)
class VaderQueries:
    """Every training query: its seed, prompt and prompt embeddings, and the reference model's clip."""

    seeds: list[int]
    prompts: list[str]
    unconditional: torch.Tensor  # (Q, seq, dim)
    conditional: torch.Tensor  # (Q, seq, dim)
    references: torch.Tensor  # (Q, F, 3, H, W) in [-1, 1]

    def batch(self, rows: torch.Tensor) -> VaderBatch:
        picked = [int(i) for i in rows]
        return VaderBatch(
            [self.seeds[i] for i in picked], [self.prompts[i] for i in picked], self.unconditional[rows], self.conditional[rows], self.references[rows],
        )


# ---------------------------------------------------------------------------------------------
# The training queries on disk: make_pairs@vader writes the clips, encode_latents@vader the tensors

QUERY_CLIPS = "references.safetensors"  # uint8 (Q, F, H, W, 3): the reference model's clip per query
QUERY_TENSORS = "queries.safetensors"  # seeds, prompt embeddings and reference frames in [-1, 1]


@phases.timed("write")
def write_query_clips(folder: Path, captions: list[str], seeds: list[int], references: np.ndarray) -> None:
    if references.dtype != np.uint8 or len(references) != len(seeds) or len(captions) != len(seeds):
        raise ValueError(f"{len(captions)} captions, {len(seeds)} seeds and {references.shape} {references.dtype} clips: one uint8 clip per query")
    save_numpy({"references": np.ascontiguousarray(references)}, str(Path(folder) / QUERY_CLIPS))
    write_manifest(Path(folder), [{"row": i, "caption": c, "seed": s} for i, (c, s) in enumerate(zip(captions, seeds))])


def read_query_clips(folder: Path, made_by: str) -> tuple[list[dict], np.ndarray]:
    """The queries and their reference clips as `made_by` (the branch's make_pairs stage) wrote them."""
    path = Path(folder) / QUERY_CLIPS
    clips = read_tensors(path, made_by, ("references",), numpy=True)
    return read_manifest(folder, made_by), clips["references"]


@phases.timed("write")
def write_query_tensors(folder: Path, queries: VaderQueries) -> None:
    save_file(
        {"seeds": torch.tensor(queries.seeds, dtype=torch.int64), "unconditional": queries.unconditional.contiguous(),
         "conditional": queries.conditional.contiguous(), "references": queries.references.contiguous()},
        str(Path(folder) / QUERY_TENSORS),
        metadata={"prompts": json.dumps(queries.prompts)},  # text rewards (clip_text) read them
    )


def load_query_tensors(folder: Path, made_by: str) -> VaderQueries:
    """The query tensors as `made_by` (the branch's encode_latents stage) wrote them."""
    path = Path(folder) / QUERY_TENSORS
    if not path.is_file():
        raise DamagedFileError(f"{path} is missing; {remake_hint(made_by)}")
    try:
        with safe_open(str(path), framework="pt") as handle:  # the tensors and the prompts in one read
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
            prompts = json.loads((handle.metadata() or {}).get("prompts", "null"))
    except (SafetensorError, OSError, ValueError) as error:
        raise DamagedFileError(f"{path} is damaged ({error}); {remake_hint(made_by)}") from error
    require_keys(tensors, ("seeds", "unconditional", "conditional", "references"), path, made_by)
    if prompts is None or len(prompts) != len(tensors["seeds"]):
        raise DamagedFileError(f"{path} has no prompt per query; {remake_hint(made_by)}")
    return VaderQueries(tensors["seeds"].tolist(), prompts, tensors["unconditional"], tensors["conditional"], tensors["references"])


@dataclass(frozen=True)
class VaderLoop:
    max_steps: int
    clips_per_step: int
    learning_rate: float
    mixed_precision: str
    seed: int
    checkpoint_every: int
    val_every: int  # 0: no validation during training
    lr_schedule: str  # constant | cosine (from learning_rate to 0 at max_steps)

    def learning_rate_at(self, step: int) -> float:
        """The rate of step `step`, a function of the step alone, so a resumed run continues the schedule."""
        if self.lr_schedule == "cosine":
            return self.learning_rate * 0.5 * (1.0 + float(np.cos(np.pi * step / self.max_steps)))
        return self.learning_rate


def rows_for_step(count: int, step: int, loop: VaderLoop, rows: range | None = None, rank: int = 0) -> tuple[torch.Tensor, torch.Generator]:
    """The queries of step `step` from this process's rows, and the generator of the step's cutoff and
    window (lora_loop.step_generator: a resumed run draws what it would have drawn)."""
    rows = torch.arange(count) if rows is None else torch.as_tensor(list(rows))
    generator = step_generator(loop.seed, step, rank=rank)
    return rows[torch.randint(len(rows), (loop.clips_per_step,), generator=generator)], generator


def train_vader_lora(
    model,
    queries: VaderQueries,
    sampling: VaderSampling,
    objective: VaderObjective,
    loop: VaderLoop,
    checkpoint_dir: Path | None = None,
    log: Callable[[dict[str, float], int], None] | None = None,
    identity: str = "",
    validate: Callable[[], dict[str, float]] | None = None,
    scorers: dict | None = None,
) -> TrainingRun:
    """Train the model's LoRA up the reward gradient, in the one LoRA loop (videodpo.training.lora_loop);
    return what this process did. `scorers`: the model rewards' models (rewards.load_scorers).
    Validation is logged against the clips sampled so far."""
    fingerprint = resume_fingerprint(loop, identity=identity, sampling=sampling, objective=objective)

    def vader_optimiser_step(context: StepContext, run: TrainingRun) -> dict[str, float]:
        picked, generator = rows_for_step(len(queries.seeds), context.step, loop, context.rows, context.rank)
        run.rows_seen.update(int(i) for i in picked)
        with context.accelerator.autocast():
            result = vader_step(context.policy, model, queries.batch(picked), sampling, objective, generator, scorers)
        require_finite(
            f"step {context.step}, the queries {picked.tolist()} (last checkpoint kept: step {context.saved})",
            loss=result.loss.detach(), reward=result.reward, **result.parts,
        )
        context.accelerator.backward(result.loss)
        return {"loss": result.loss.item(), "reward": result.reward.mean().item(), **{k: v.mean().item() for k, v in result.parts.items()}}

    plan = LoopPlan(
        max_steps=loop.max_steps, learning_rate=loop.learning_rate, mixed_precision=loop.mixed_precision,
        checkpoint_every=loop.checkpoint_every, val_every=loop.val_every, max_grad_norm=MAX_GRAD_NORM,
        consumed="clips_sampled", consumed_per_step=loop.clips_per_step, desc="train: VADER",
    )
    return train_lora(model, vader_optimiser_step, plan, fingerprint, len(queries.seeds), checkpoint_dir, log, validate, loop.learning_rate_at)


def plot_curves(tsv_dir: Path, path: Path, objective: VaderObjective) -> None:
    """The logged reward, guard and validation curves as one PNG for the README."""
    panels = {
        "reward (weighted sum)": {"reward": visuals.logged_series(tsv_dir, "reward")},
        "rewards": {name: visuals.logged_series(tsv_dir, name) for name in objective.rewards},
        "appearance guard": {term: visuals.logged_series(tsv_dir, f"guard_{term}") for term in rewards.GUARD_TERMS},
    }
    if (tsv_dir / "val_warping_error.tsv").is_file():
        panels["validation warping error"] = {"warping error": visuals.logged_series(tsv_dir, "val_warping_error")}
    visuals.curves(panels, path)
