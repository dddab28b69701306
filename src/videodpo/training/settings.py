"""The `training` params section: the Diffusion-DPO loop (training.dpo.LoopSettings is built from it),
and the precision and memory settings every method's training reads. Light on purpose: every stage's
params check imports it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from videodpo.core.params import Section


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
