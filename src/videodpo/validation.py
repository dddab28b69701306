"""Validation while training: a small fixed set of held-out captions, each with a seed of its own
disjoint from the evaluation's, sampled by the evaluation's sampler and scored for flicker and motion.

Logged against training time and data consumed, it shows how fast each method gets where it gets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from videodpo import outputs, seeds, temporal, toyworld
from videodpo.sampling import generate_clips


def validation_prompts(count: int) -> list[str]:
    held_out = [caption.text for caption in toyworld.held_out_captions()]
    return [held_out[i % len(held_out)] for i in range(count)]


def clip_scores(clips: np.ndarray) -> dict[str, float]:
    """Mean warping error and motion of the clips (the evaluation's measures)."""
    flows = [temporal.forward_flows(clip) for clip in clips]
    return {
        "warping_error": float(np.mean([temporal.warping_error(c, f) for c, f in zip(clips, flows)])),
        "motion": float(np.mean([temporal.motion_magnitude(c, f) for c, f in zip(clips, flows)])),
    }


def scorer(pipe, frames: int, steps: int, guidance_scale: float, shared_noise: float, count: int = 8) -> Callable[[], dict[str, float]]:
    """A function that samples the validation set with the pipeline as it is now and scores it."""
    prompts, validation_seeds = validation_prompts(count), seeds.validation_seeds(count)

    def score() -> dict[str, float]:
        clips = generate_clips(pipe, prompts, validation_seeds, frames, steps, guidance_scale, shared_noise, batch_size=count, desc="validation")
        return clip_scores(clips)

    return score


def write_table(tsv_dir: Path, consumed: str, path: Path) -> None:
    """validation.csv from the run's logged validation series (dvclive TSVs, so a resumed run keeps
    its earlier rows): step, training seconds, data consumed, warping error, motion — the columns
    the DVC plots of every method share. Only the header when the run validated nothing."""
    lines = ["step,train_seconds,consumed,warping_error,motion"]
    if not (tsv_dir / "val_warping_error.tsv").is_file():
        outputs.write_text(path, lines[0] + "\n")
        return
    series = {}
    for name in ("val_train_seconds", f"val_{consumed}", "val_warping_error", "val_motion"):
        rows = [line.split("\t") for line in (tsv_dir / f"{name}.tsv").read_text().splitlines()[1:]]
        series[name] = {int(float(r[0])): float(r[1]) for r in rows}
    for step in sorted(series["val_warping_error"]):
        values = (series["val_train_seconds"][step], series[f"val_{consumed}"][step], series["val_warping_error"][step], series["val_motion"][step])
        lines.append(f"{step},{values[0]:.2f},{values[1]:.0f},{values[2]:.4f},{values[3]:.4f}")
    outputs.write_text(path, "\n".join(lines) + "\n")
