"""The Wan VAE's RMS norms with their norm written out.

diffusers' WanRMS_norm normalises each position's channels with F.normalize, whose norm over an axis
that is not the last takes torch's strided reduction on CPU: 7 ms for a (4, 8, 9, 32, 32) activation,
against 0.8 ms for the same square root of a sum of squares. In the toy Wan's VAE that is a fifth of
a training step and close to half of an encode and decode (benchmarks/wan_vae_norm.py). The values
agree with diffusers' to a float32 ulp; the weights and their names are diffusers' own.
"""

from __future__ import annotations

import types

import torch

LOW_PRECISION = (torch.float16, torch.bfloat16)


def rms_norm(self, x: torch.Tensor) -> torch.Tensor:
    """WanRMS_norm.forward: x / ‖x‖ over the channels, times √dim, the gain and the bias."""
    axis = 1 if self.channel_first else -1
    values = x.float() if x.dtype in LOW_PRECISION else x  # as diffusers: low precision normalises in fp32
    squares = values.pow(2).sum(axis, keepdim=True)
    normalised = (values / squares.clamp_min(1e-24).sqrt()).to(x.dtype)  # F.normalize's ε = 1e-12 on the norm
    return normalised * self.scale * self.gamma + self.bias


def write_out_rms_norms(vae: torch.nn.Module) -> torch.nn.Module:
    """Give each of the VAE's RMS norms the written-out forward; returns the VAE."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import WanRMS_norm

    for module in vae.modules():
        if isinstance(module, WanRMS_norm):
            module.forward = types.MethodType(rms_norm, module)
    return vae
