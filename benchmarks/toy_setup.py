"""What both benchmarks train on: the embedded default's UNet (random weights, seed 0, no LoRA
yet) on the fastest device here, and one fixed batch of preference pairs."""

from __future__ import annotations

import torch
from diffusers import UNetMotionModel

from videodpo import models
from videodpo.training import DPOBatch


def toy_unet_and_batch(batch_size: int):
    """(device, unet, scheduler, batch); add the LoRA yourself (after copying the UNet, if you copy it)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    arch = models.ToyArchitecture()
    unet = UNetMotionModel.from_unet2d(models.build_toy_unet2d(arch), models.build_toy_motion_adapter(arch))
    if device.type != "cpu":
        unet.to(device)
    generator = torch.Generator().manual_seed(0)
    shape = (batch_size, unet.config.in_channels, arch.frames, arch.frame_size // 4, arch.frame_size // 4)
    winners = torch.randn(shape, generator=generator)
    tensors = (
        winners,
        winners + 0.3 * torch.randn(shape, generator=generator),
        torch.randn(batch_size, models.TEXT_LENGTH, arch.text_width, generator=generator),
        torch.randn(shape, generator=generator),
        torch.randint(0, 1000, (batch_size,), generator=generator),
    )
    return device, unet, models.build_toy_scheduler(), DPOBatch(*(t.to(device) for t in tensors))
