"""What the benchmarks train on: a UNetMotionModel with random weights (seed 0, no LoRA yet) on
the fastest device here, and one fixed batch of preference pairs.

toy:  the embedded default's architecture at its own clip size (8 frames of 8×8 latents).
sd15: Stable Diffusion 1.5's UNet and AnimateDiff's v1-5-2 motion adapter, built from their
      published configurations (SD1.5: diffusers' UNet2DConditionModel defaults with 768-wide text
      and 64² latents; v1-5-2: MotionAdapter's defaults, 8 motion heads, a motion mid-block, 32
      positions), at a tier's clip size. Nothing is downloaded: only the sizes matter here.
"""

from __future__ import annotations

import functools
import platform
import resource
from dataclasses import dataclass

import torch
from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel, UNetMotionModel

from videodpo.families.animatediff import toy
from videodpo.training.dpo import DPOBatch


@dataclass(frozen=True)
class Shape:
    frames: int
    latent_size: int
    text_width: int
    precision: str


# tier clip sizes (params.yaml tiers.<tier>.data): 256 px → 32² latents, 512 px → 64²
SHAPES = {
    "toy": Shape(frames=8, latent_size=8, text_width=32, precision="fp32"),
    "t4": Shape(frames=8, latent_size=32, text_width=768, precision="fp16"),
    "a100": Shape(frames=16, latent_size=64, text_width=768, precision="bf16"),
}


def device_here() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def peak_bytes(device: torch.device) -> int:
    """The process's peak memory so far: torch.cuda.max_memory_allocated on a GPU, peak resident
    memory (ru_maxrss) on a CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def device_info(device: torch.device) -> dict:
    """What a result was measured on: torch, the CPU and its thread count, and the GPU if one was used."""
    info = {"device": str(device), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads()}
    if device.type == "cpu":
        info["cpu_model"] = cpu_model()
        info["cpu_kind"] = cpu_kind()
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


@functools.cache
def cpu_fields() -> dict[str, str]:
    """/proc/cpuinfo's fields of the first CPU (none where there is no such file), read once a process."""
    fields: dict[str, str] = {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    return cpu_fields().get("model name") or platform.processor() or platform.machine()


def cpu_kind() -> str:
    """The CPU's model name with its family and model numbers (as `lscpu` gives them): floating point,
    and so every output, is the same only on the same kind."""
    fields = cpu_fields()
    if "cpu family" not in fields or "model" not in fields:
        return cpu_model()
    return f"{cpu_model()}, family {fields['cpu family']} model {fields['model']}"


def build_unet(size: str) -> UNetMotionModel:
    torch.manual_seed(0)
    if size == "toy":
        arch = toy.ToyArchitecture()
        return UNetMotionModel.from_unet2d(toy.build_toy_unet2d(arch), toy.build_toy_motion_adapter(arch))
    sd15 = UNet2DConditionModel(
        sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, attention_head_dim=8,
        cross_attention_dim=768, flip_sin_to_cos=True, freq_shift=0, norm_num_groups=32,
    )
    return UNetMotionModel.from_unet2d(sd15, MotionAdapter())


def build_vae(size: str) -> AutoencoderKL:
    """The decoder the reward's gradient passes through: the toy VAE, or SD1.5's (its published
    configuration: four blocks of 128–512 channels, two layers each), random weights."""
    torch.manual_seed(0)
    if size == "toy":
        return toy.build_toy_vae(toy.ToyArchitecture())
    blocks = 4
    return AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * blocks, up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=512, scaling_factor=0.18215,
    )


def fixed_batch(shape: Shape, pairs: int, device: torch.device, dtype: torch.dtype = torch.float32) -> DPOBatch:
    generator = torch.Generator().manual_seed(0)
    latents = (pairs, 4, shape.frames, shape.latent_size, shape.latent_size)
    winners = torch.randn(latents, generator=generator)
    tensors = (
        winners,
        winners + 0.3 * torch.randn(latents, generator=generator),
        torch.randn(pairs, toy.TEXT_LENGTH, shape.text_width, generator=generator),
        torch.randn(latents, generator=generator),
    )
    timesteps = torch.randint(0, 1000, (pairs,), generator=generator)
    return DPOBatch(*(t.to(device, dtype) for t in tensors), timesteps.to(device))


def toy_unet_and_batch(batch_size: int):
    """(device, unet, scheduler, batch) at the toy size; add the LoRA yourself (after copying the UNet, if you copy it)."""
    device = device_here()
    unet = build_unet("toy").to(device)
    return device, unet, toy.build_toy_scheduler(), fixed_batch(SHAPES["toy"], batch_size, device)
