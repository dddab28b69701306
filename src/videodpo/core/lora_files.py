"""A LoRA on disk, whatever the family: saved in diffusers' format with its adapter metadata (so a
lora_alpha ≠ r reloads at the right scale) and canonical bytes, loaded back with errors that name
the stage that writes it, and switched off to give the reference model."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch

from videodpo.core import layout, phases
from videodpo.core.integrity import DamagedFileError, first_line, remake_hint
from videodpo.core.outputs import canonical_safetensors


@phases.timed("write")
def save_lora(pipeline_class, denoiser: torch.nn.Module, layers_argument: str, lora_config, folder, adapter_name: str) -> None:
    """The denoiser's LoRA in diffusers format, as `pipeline_class.save_lora_weights` writes it
    (`layers_argument`: unet_lora_layers, transformer_lora_layers), with its adapter metadata."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(denoiser, adapter_name=adapter_name))
    prefix = layers_argument.removesuffix("_lora_layers")
    pipeline_class.save_lora_weights(
        folder, **{layers_argument: layers, f"{prefix}_lora_adapter_metadata": lora_config.to_dict()}, safe_serialization=True
    )
    for weights in Path(folder).glob("*.safetensors"):
        canonical_safetensors(weights)  # the same LoRA, the same bytes: its DVC hash does not flip between runs


@phases.timed("load")
def load_lora(pipe, folder, adapter_name: str) -> None:
    """Load a LoRA written by save_lora into the pipeline and make it the active adapter."""
    from safetensors import SafetensorError

    folder = Path(folder)
    made_by = layout.lora_stage(folder)
    if not any(folder.glob("*.safetensors")):
        raise DamagedFileError(f"no LoRA weights in {folder}; {remake_hint(made_by)}")
    try:
        pipe.load_lora_weights(folder, adapter_name=adapter_name)
    except RuntimeError as error:  # size mismatches: weights of another base, or not of the rank their metadata names
        mismatches = str(error).count("size mismatch")
        raise DamagedFileError(
            f"{folder} does not fit this base model ({mismatches} weights of other shapes: trained on another base, "
            f"or its weights are not of the rank its adapter metadata names); {remake_hint(made_by)}"
        ) from error
    except (OSError, ValueError, SafetensorError) as error:
        raise DamagedFileError(f"{folder} is damaged ({first_line(error)}); {remake_hint(made_by)}") from error
    pipe.set_adapters([adapter_name])


@contextmanager
def adapters_disabled(denoiser: torch.nn.Module):
    """Inside this block the denoiser is the base model: its LoRA adapters are switched off."""
    denoiser.disable_adapters()
    try:
        yield denoiser
    finally:
        denoiser.enable_adapters()
