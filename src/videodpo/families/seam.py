"""The seam between the project and a model family, as code: what every family's model offers
(`FamilyModel`), what every family's package offers beside it (`FamilyPackage`), and how its base
is made (`FamilyBase`). Stages, methods,
rewards and measures reach a model through these members alone, so the same step runs on every
family; tests/unit/test_families.py holds each family to them, signatures included.

A family may add parameters with defaults after the ones named here (AnimateDiff's `encode_clips`
takes a batch size), and take a method as a staticmethod where it needs no `self`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from videodpo.core import phases


@runtime_checkable
class FamilyModel(Protocol):
    """A family's model: its denoiser (what LoRA and accelerate wrap), its VAE and text encoder behind
    the calls below, and its sampler. Clips are uint8 (N, F, H, W, 3); frames are float (B, F, 3, H, W)
    in [-1, 1]; latents are (B, C, F', h, w), F' latent frames."""

    # parts
    @property
    def denoiser(self) -> torch.nn.Module: ...
    @property
    def device(self) -> torch.device: ...
    @property
    def dtype(self) -> torch.dtype: ...
    def to(self, device): ...
    def save(self, folder: Path) -> None: ...
    def enable_gradient_checkpointing(self, decoder: bool = False) -> None: ...

    # LoRA: the reference model is the policy with its LoRA off
    def add_lora(self, rank: int, alpha: float, targets: str = ..., adapter_name: str = ...): ...
    def save_lora(self, lora_config, folder: Path, adapter_name: str = ...) -> None: ...
    def load_lora(self, folder: Path, adapter_name: str = ...) -> None: ...
    def adapters_disabled(self, denoiser: torch.nn.Module): ...  # a context manager: inside it, the base model

    # prompts
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor: ...
    def guidance_embeddings(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]: ...
    def keep_prompt_embeddings(self, prompts: list[str]) -> None: ...

    # clips and latents
    def encode_clips(self, clips: np.ndarray) -> torch.Tensor: ...
    def decode(self, latents: torch.Tensor, window: slice | None = None) -> torch.Tensor: ...
    def window_frames(self, window: slice) -> slice: ...
    def latent_frames(self, pixel_frames: int) -> int: ...
    def latent_segments(self, segments: Sequence[range], pixel_frames: int) -> list[range]: ...
    def initial_latents(self, frames: int, seed: int, shared_noise: float, resolution: int | None = None) -> torch.Tensor: ...

    # training: the noised latents and the target the denoiser learns (AnimateDiff's v, Wan's velocity ε − x0)
    def predict(self, denoiser, noisy: torch.Tensor, timesteps: torch.Tensor, text: torch.Tensor) -> torch.Tensor: ...
    def training_draw(self, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...
    @property
    def num_train_timesteps(self) -> int: ...

    # sampling: clips; a loop that can keep its graph (reward back-propagation); one step with its
    # log-probability at eta > 0 (policy gradients); SDEdit from clean latents
    def generate(
        self, prompts: list[str], seeds: list[int], frames: int, steps: int, guidance_scale: float, shared_noise: float,
        batch_size: int = 8, desc: str = "sampling", resolution: int | None = None,
    ) -> np.ndarray: ...
    def denoise(
        self, denoiser, latents: torch.Tensor, unconditional: torch.Tensor, conditional: torch.Tensor, steps: int,
        guidance_scale: float, gradient_from: int = 0,
    ) -> torch.Tensor: ...
    def sampler(self, steps: int): ...
    def sampler_step(
        self, scheduler, prediction: torch.Tensor, timestep, latents: torch.Tensor, eta: float = 0.0,
        generator: torch.Generator | None = None, prev_latents: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]: ...
    def denoise_from(
        self, clean: torch.Tensor, noise: torch.Tensor, prompts: list[str], strength: float, steps: int, guidance_scale: float,
        resolution: int, batch_size: int = 8, desc: str = "denoise",
    ) -> np.ndarray: ...
    def strength_for(self, count: int, steps: int) -> float: ...


@runtime_checkable
class FamilyPackage(Protocol):
    """What a family's package (videodpo.families.<name>) offers beside its model class."""

    NAME: str  # the family's name: its package's and its params section's
    PIPELINE: str  # the diffusers pipeline class its base folders hold (families.family_of)
    MODEL: type  # its FamilyModel class

    def load(self, folder: Path, dtype: torch.dtype = ...): ...  # a base folder's model (a FamilyModel)
    def load_tokenizer(self, folder: Path): ...  # a base folder's tokenizer, without weights


@runtime_checkable
class FamilyBase(Protocol):
    """What a family's `base` module (videodpo.families.<name>.base) offers the base stage."""

    def make_base(self, config, log, clock): ...  # (model, model card, metrics summary): pretrained on the toy world, or from the hub


class PipelineModel:
    """The parts of the seam that every family takes alike from its diffusers pipeline (`pipe`) and its
    `denoiser`: where it runs, its precision, moving it, saving it, its sampler."""

    @property
    def device(self) -> torch.device:
        return self.denoiser.device

    @property
    def dtype(self) -> torch.dtype:
        return self.denoiser.dtype

    def to(self, device):
        self.pipe.to(device)
        return self

    @phases.timed("write")
    def save(self, folder: Path) -> None:
        self.pipe.save_pretrained(folder, safe_serialization=True)

    def sampler(self, steps: int):
        """A fresh copy of the model's scheduler (AnimateDiff's DDIM, Wan's flow-matching Euler) set to
        `steps` sampling steps; its `.timesteps` run from the highest noise down (Wan's `.sigmas` hold one
        noise level more, 0 at the end)."""
        scheduler = copy.deepcopy(self.pipe.scheduler)
        scheduler.set_timesteps(steps)
        return scheduler
