"""Resumable training state in safetensors and JSON only (no pickle): trainable weights, optimiser
moments, the step reached, and a fingerprint of the settings that produced them; and a stop request
(SIGTERM, as a pre-empted machine sends) that a loop obeys by saving this state first."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

STATE = "state.json"


def save_checkpoint(
    folder: Path, model: torch.nn.Module, optimiser: torch.optim.Optimizer, step: int, fingerprint: dict, extra: dict | None = None
) -> None:
    """Crash-safe: the tensors go to a new file first, then state.json is swapped atomically to name
    it, so a stop at any moment leaves one whole checkpoint (the old or the new). `extra`: small
    JSON facts of the run that a resume continues from (checkpoint_extra)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"param/{n}": p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    optimiser_state = optimiser.state_dict()
    for index, state in optimiser_state["state"].items():
        for key, value in state.items():
            tensors[f"optim/{index}/{key}"] = torch.as_tensor(value).contiguous()
    tensor_file = f"tensors-{step:08d}.safetensors"
    save_file(tensors, str(folder / tensor_file))
    state = {"step": step, "tensors": tensor_file, "fingerprint": fingerprint, "param_groups": optimiser_state["param_groups"], "extra": extra or {}}
    temporary = folder / f".{STATE}.tmp"
    temporary.write_text(json.dumps(state, indent=2))
    os.replace(temporary, folder / STATE)
    for stale in folder.glob("tensors-*.safetensors"):
        if stale.name != tensor_file:
            stale.unlink()


def load_checkpoint(folder: Path, model: torch.nn.Module, optimiser: torch.optim.Optimizer, fingerprint: dict) -> int:
    """Restore and return the step reached; 0 (start over) when there is none or it was made with other settings."""
    folder = Path(folder)
    if not (folder / STATE).is_file():
        return 0
    state = json.loads((folder / STATE).read_text())
    if state["fingerprint"] != fingerprint:
        return 0
    tensors = load_file(str(folder / state["tensors"]))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.requires_grad:
                param.copy_(tensors[f"param/{name}"])
    optimiser_state = {"state": {}, "param_groups": state["param_groups"]}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, index, field = key.split("/", 2)
            optimiser_state["state"].setdefault(int(index), {})[field] = value
    optimiser.load_state_dict(optimiser_state)
    return int(state["step"])


def checkpoint_extra(folder: Path | None) -> dict:
    """The `extra` facts saved with the checkpoint in folder ({} when there is none)."""
    path = Path(folder) / STATE if folder else None
    if path is None or not path.is_file():
        return {}
    return json.loads(path.read_text()).get("extra", {})


class StopRequest:
    """Within `with StopRequest() as stop:`, SIGTERM sets `stop.requested` instead of killing the
    process, so a training loop can finish its step, save a checkpoint and exit (`stopped_message`).
    Outside the main thread (where signals cannot be caught) it only ever reads False."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._note)
        return self

    def _note(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def end_of_step(self, done: int, max_steps: int, every: int, folder: Path | None, save: Callable[[], None] | None) -> bool:
        """After step `done` of a training loop: call `save` (None where this process keeps no
        checkpoints) every `every` steps, at the last step and on SIGTERM, then exit if SIGTERM
        came. Whether it saved."""
        saved = save is not None and (done % every == 0 or done == max_steps or self.requested)
        if saved:
            save()
        if self.requested:
            raise SystemExit(stopped_message(done, folder))
        return saved


def stopped_message(step: int, folder: Path | None) -> str:
    where = f"the checkpoint in {folder}" if folder else "no checkpoint (none was asked for)"
    return f"stopped by SIGTERM after step {step}; saved {where}: `dvc repro` resumes from it"
