"""Mixed precision as the tiers use it: frozen weights in half precision, trained LoRA weights in fp32.

`training.mixed_precision` names the compute precision (fp32 | fp16 | bf16). The frozen base
weights are stored in it (half the memory of fp32), while the LoRA matrices and their optimiser
state stay fp32, so small updates are not rounded away; autocast mixes the two in each forward.
"""

from __future__ import annotations

import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def weight_dtype(mixed_precision: str) -> torch.dtype:
    """The dtype frozen weights are loaded in for a `training.mixed_precision` value."""
    if mixed_precision not in DTYPES:
        raise ValueError(f"training.mixed_precision: {mixed_precision!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[mixed_precision]


def accelerate_name(mixed_precision: str) -> str:
    """accelerate's name for it ("no" for fp32)."""
    weight_dtype(mixed_precision)
    return "no" if mixed_precision == "fp32" else mixed_precision


def trainable_in_fp32(model: torch.nn.Module) -> int:
    """Cast the trainable parameters to fp32 in place; return how many were cast."""
    cast = 0
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype != torch.float32:
            parameter.data = parameter.data.float()
            cast += 1
    return cast


def flush_denormals() -> None:
    """Compute with subnormal floats read and written as zero (x86's FTZ/DAZ, where the CPU has them).

    Small LoRA updates and the tails of softmax and exp make subnormals, and each costs the CPU a slow
    microcode path: train@wan-vanilla_dpo computed in 12.3 s with them flushed against 15.7 s. They lie
    far below any difference the stages' outputs resolve: pairs, LoRAs and a short pretraining made
    with and without it were byte-identical. Every stage that computes with a family model sets it as
    its first statement, before torch starts its worker threads, which take the setting from it.
    """
    torch.set_flush_denormal(True)
