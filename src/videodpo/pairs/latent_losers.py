"""Losers made in the latents (`dpo.loser_space: latents`): the winner's flicker as the family's VAE
holds it, amplified there.

A causal VAE that folds four frames into one latent frame keeps little of a per-frame jitter made on
the pixels (docs/wan.md): such a loser's latents sit within a few hundredths of its winner's, and DPO
learns from what little differs. Here the flicker is made where the model sees it: with z = E(winner)
and z_steady = E(winner stabilised along its optical flow), the loser is D(z + s·(z − z_steady)) and the
winner D(z), so both are clips the VAE renders and they differ only along the winner's own flicker.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from videodpo.core.clips import to_uint8_clips
from videodpo.pairs.jitter import stabilised


def steady_clips(clips: np.ndarray) -> np.ndarray:
    """uint8 clips (N, F, H, W, 3) stabilised along their optical flow (pairs.jitter.stabilised)."""
    return np.stack([stabilised(clip).round().clip(0, 255).astype(np.uint8) for clip in clips])


@torch.no_grad()
def latent_amplified_pairs(model, winners: np.ndarray, strength: float, batch_size: int = 8, desc: str = "latent losers") -> tuple[np.ndarray, np.ndarray]:
    """(winners, losers) as uint8 clips (N, F, H, W, 3): each winner decoded from its own latents, and
    its loser decoded from them pushed `strength` times further from its stabilised clip's latents."""
    rendered, losers = [], []
    for start in tqdm(range(0, len(winners), batch_size), desc=desc, unit="batch"):
        clips = winners[start : start + batch_size]
        steady = steady_clips(clips)
        latents, steady_latents = model.encode_clips(clips), model.encode_clips(steady)
        loser_latents = latents + strength * (latents - steady_latents)
        for target, z in ((rendered, latents), (losers, loser_latents)):
            target.append(to_uint8_clips(model.decode(z.to(model.device, model.dtype)).float()))
    return np.concatenate(rendered), np.concatenate(losers)
