"""What every family's toy pretraining shares: the clock of its phases, AdamW with warm-up and a
cosine schedule, the clipped step, and caption dropout (which classifier-free guidance needs)."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

StepLogger = Callable[[str, float, int], None]


@dataclass
class PhaseClock:
    """Wall seconds spent per (phase, part of a step); the profile of a pretraining run."""

    seconds: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    steps: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @contextmanager
    def part(self, phase: str, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[phase, name] += time.perf_counter() - started

    def minutes_per_phase(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for (phase, _), seconds in self.seconds.items():
            totals[phase] += seconds / 60
        return {phase: round(minutes, 2) for phase, minutes in totals.items()}


def _lr_lambda(total: int, warmup: int = 50) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))  # cosine to 0

    return factor


def optimise(params_groups, total_steps: int):
    optimiser = torch.optim.AdamW(params_groups, weight_decay=0.0)
    return optimiser, torch.optim.lr_scheduler.LambdaLR(optimiser, _lr_lambda(total_steps))


def optimiser_step(optimiser, lr_schedule, clip_params: list | None = None) -> None:
    """One optimiser step on the gradients there; clipped to norm 1 over clip_params when given."""
    if clip_params is not None:
        torch.nn.utils.clip_grad_norm_(clip_params, 1.0)
    optimiser.step()
    lr_schedule.step()
    optimiser.zero_grad(set_to_none=True)




def drop_captions(ids: torch.Tensor, empty_ids: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    drop = torch.rand(len(ids), generator=generator) < rate
    return torch.where(drop[:, None], empty_ids[None], ids)
