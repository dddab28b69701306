"""How well a base model follows the toy world: oracle adherence and flicker against ground truth.

Train and held-out captions are scored separately; ground-truth clips rendered for the same
captions give the reference frame difference and warping error, and the VAE's reconstruction
PSNR on them.
"""

from __future__ import annotations

import numpy as np
import torch

from videodpo import toyworld
from videodpo.core import seeds
from videodpo.core.clips import clips_to_tensor
from videodpo.evaluation import temporal


@torch.no_grad()
def reconstruction_psnr(model, clips: np.ndarray, batch: int = 32) -> float:
    """PSNR (dB, frames in [-1, 1]) of uint8 clips passed through the model's VAE (posterior mean) against themselves."""
    squared_error, count = 0.0, 0
    for start in range(0, len(clips), batch):
        truth = clips_to_tensor(clips[start : start + batch])
        decoded = model.decode(model.encode_clips(clips[start : start + batch]).to(model.device)).clamp(-1, 1).float().cpu()
        squared_error += float((decoded - truth).pow(2).sum())
        count += truth.numel()
    if squared_error == 0:
        return float("inf")
    return float(10 * np.log10(4.0 / (squared_error / count)))


def _flicker(clips: np.ndarray) -> dict[str, float]:
    return {
        "frame_difference": float(np.mean([temporal.frame_difference(c) for c in clips])),
        "warping_error": float(np.mean([temporal.warping_error(c) for c in clips])),
        "motion": float(np.mean([temporal.motion_magnitude(c) for c in clips])),
    }


def preview_base_model(
    model,
    seeds_per_caption: int,
    steps: int,
    guidance_scale: float,
    shared_noise: float,
    frames: int,
    render_kwargs: dict,
) -> tuple[dict, dict[str, np.ndarray], dict[str, list[str]]]:
    """Sample every train and held-out caption; return (metrics, clips by split, captions by split)."""
    metrics: dict = {}
    clips_by_split, texts_by_split = {}, {}
    for split, captions in (("train", toyworld.train_captions()), ("held_out", toyworld.held_out_captions())):
        texts = [c.text for c in captions for _ in range(seeds_per_caption)]
        clip_seeds = seeds.preview_seeds(len(texts))
        clips = model.generate(
            texts, clip_seeds, frames, steps, guidance_scale, shared_noise, batch_size=12, desc=f"preview: {split} captions"
        )
        truth, _ = toyworld.render_dataset(captions, seeds_per_caption, seed=seeds.PREVIEW_OFFSET, **render_kwargs)
        metrics[split] = {
            "n_samples": len(texts),
            "oracle": toyworld.adherence(clips, texts),
            "samples": _flicker(clips),
            "ground_truth": _flicker(truth),
            "vae_psnr_db": reconstruction_psnr(model, truth),
        }
        clips_by_split[split], texts_by_split[split] = clips, texts
    return metrics, clips_by_split, texts_by_split
