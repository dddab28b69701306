"""Where the base model's flicker comes from: prints figures, changes nothing.

    PYTHONPATH=src python scripts/flicker_sources.py

Measured on the dev split's base samples (held-out captions × dev seeds of params.yaml `sample`):
1. the base samples as they are;
2. the same clips with each frame's mean brightness set to the clip's mean (per channel), i.e.
   without frame-to-frame brightness flicker;
3. new samples from the same seeds whose starting noise has its per-frame spatial mean shared by
   all frames (each frame's own noise keeps its pattern, loses its offset).
If (2) and (3) cut the warping error by a similar share, the flicker is per-frame brightness set by
the starting noise's per-frame mean, at the very first sampling step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file

from videodpo import families
from videodpo.config import load_config
from videodpo.core import model_card
from videodpo.evaluation import temporal


def steady_brightness(clip: np.ndarray) -> np.ndarray:
    frames = clip.astype(np.float32)
    means = frames.mean(axis=(1, 2), keepdims=True)
    return np.clip(frames - means + means.mean(axis=0, keepdims=True), 0, 255).round().astype(np.uint8)


def summary(clips: np.ndarray) -> dict[str, float]:
    return {
        "warping_error": float(np.mean([temporal.warping_error(c) for c in clips])),
        "frame_difference": float(np.mean([temporal.frame_difference(c) for c in clips])),
        "motion": float(np.mean([temporal.motion_magnitude(c) for c in clips])),
    }


@torch.no_grad()
def main() -> None:
    config = load_config(family="animatediff")
    card = model_card.ModelCard.load("models/animatediff/base")
    folder = Path("results/animatediff/samples/dev/base")  # analysis reads dev, never test
    clips = load_file(str(folder / "clips.safetensors"))["clips"]
    samples = json.loads((folder / "samples.json").read_text())
    model = families.load_base("models/animatediff/base")
    pipe = model.pipe  # this analysis samples through the AnimateDiff pipeline with latents of its own
    latents = torch.cat([model.initial_latents(card.frames, s["seed"], card.shared_noise) for s in samples])
    offsets = latents.mean(dim=(3, 4), keepdim=True)
    shared_offsets = latents - offsets + offsets.mean(dim=2, keepdim=True)
    regenerated = []
    for start in range(0, len(samples), 8):
        out = pipe(
            prompt=[s["prompt"] for s in samples[start : start + 8]], num_frames=card.frames,
            num_inference_steps=config.sample.num_inference_steps, guidance_scale=config.sample.guidance_scale,
            latents=shared_offsets[start : start + 8], output_type="np",
        )
        regenerated.append((np.asarray(out.frames) * 255).round().clip(0, 255).astype(np.uint8))
    rows = {
        "base samples": summary(clips),
        "same clips, steady frame brightness": summary(np.stack([steady_brightness(c) for c in clips])),
        "resampled, per-frame noise mean shared": summary(np.concatenate(regenerated)),
    }
    reference = rows["base samples"]
    print(f"{len(clips)} samples")
    print(f"{'':42s} {'warping error':>16s} {'frame difference':>18s} {'motion':>14s}")
    for name, row in rows.items():
        cells = [f"{row[k]:7.3f} ({100 * (row[k] / reference[k] - 1):+5.1f} %)" for k in ("warping_error", "frame_difference", "motion")]
        print(f"{name:42s} {cells[0]:>16s} {cells[1]:>18s} {cells[2]:>14s}")


if __name__ == "__main__":
    main()
