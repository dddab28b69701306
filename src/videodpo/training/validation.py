"""Validation while training: the first training prompts, each with a seed no pair and no evaluation
sample uses, sampled by the evaluation's sampler and scored for flicker and motion. Training prompts
(not evaluation ones) so that editing the evaluation set reruns sampling alone, never training.

Logged against training time and data consumed, it shows how fast each method gets where it gets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videodpo.core import outputs, seeds
from videodpo.core.checkpoints import checkpoint_extra
from videodpo.evaluation import temporal, visuals


def validation_prompts(prompt_texts: list[str], count: int) -> list[str]:
    """The first `count` prompts, taken in turn when there are fewer."""
    if not prompt_texts:
        raise ValueError("validation needs at least one prompt")
    return [prompt_texts[i % len(prompt_texts)] for i in range(count)]


def clip_scores(clips: np.ndarray) -> dict[str, float]:
    """Mean warping error and motion of the clips (the evaluation's measures)."""
    flows = [temporal.forward_flows(clip) for clip in clips]
    return {
        "warping_error": float(np.mean([temporal.warping_error(c, f) for c, f in zip(clips, flows)])),
        "motion": float(np.mean([temporal.motion_magnitude(c, f) for c, f in zip(clips, flows)])),
    }


VALIDATION_CLIPS = 8  # clips a validation samples and scores


def scorer(
    model, prompt_texts: list[str], frames: int, steps: int, guidance_scale: float, shared_noise: float, count: int = VALIDATION_CLIPS
) -> Callable[[], dict[str, float]]:
    """A function that samples the validation set with the model as it is now and scores it."""
    prompts, validation_seeds = validation_prompts(prompt_texts, count), seeds.validation_seeds(count)

    def score() -> dict[str, float]:
        clips = model.generate(prompts, validation_seeds, frames, steps, guidance_scale, shared_noise, batch_size=count, desc="validation")
        return clip_scores(clips)

    return score


@dataclass
class TrainingClock:
    """A training loop's seconds (validation excluded, carried over a resume in the checkpoint) and
    its validation schedule: scores at step 0, every `every` steps and at the last, logged with the
    seconds and the data consumed so far. `validate` is None off the main process."""

    every: int
    max_steps: int
    validate: Callable[[], dict[str, float]] | None
    log: Callable[[dict[str, float], int], None] | None
    consumed: str  # what a step consumes, named for the log: pairs_drawn, clips_sampled
    consumed_per_step: int
    seconds: float = 0.0
    _began: float = 0.0

    @classmethod
    def resumed(cls, checkpoint_dir: Path | None, start: int, *args) -> "TrainingClock":
        clock = cls(*args)
        if start:
            clock.seconds = float(checkpoint_extra(checkpoint_dir).get("train_seconds", 0.0))
        return clock

    def extra(self) -> dict:
        """What a checkpoint keeps of the clock."""
        return {"train_seconds": self.seconds}

    def start_step(self) -> None:
        self._began = time.perf_counter()

    def end_step(self) -> None:
        self.seconds += time.perf_counter() - self._began

    def validate_at_start(self, model, start: int) -> None:
        if start == 0 and self.every:
            self._score(model, 0)

    def validate_after(self, model, done: int) -> None:
        if self.every and (done % self.every == 0 or done == self.max_steps):
            self._score(model, done)

    def _score(self, model, step: int) -> None:
        if not (self.validate and self.log):
            return
        model.eval()
        scores = self.validate()
        model.train()
        self.log({**{f"val_{k}": v for k, v in scores.items()}, "val_train_seconds": self.seconds, f"val_{self.consumed}": step * self.consumed_per_step}, step)


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
        steps, values = visuals.logged_series(tsv_dir, name)
        series[name] = {int(step): value for step, value in zip(steps, values)}
    for step in sorted(series["val_warping_error"]):
        values = (series["val_train_seconds"][step], series[f"val_{consumed}"][step], series["val_warping_error"][step], series["val_motion"][step])
        lines.append(f"{step},{values[0]:.2f},{values[1]:.0f},{values[2]:.4f},{values[3]:.4f}")
    outputs.write_text(path, "\n".join(lines) + "\n")
