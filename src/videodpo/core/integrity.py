"""Whole inputs and finite numbers: what a stage reads from another stage is checked as it is read,
and a failure names the file, the stage that makes it and how to remake it, instead of a library's
traceback or a model trained on NaN.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError

from videodpo.core import phases

if TYPE_CHECKING:
    import torch


class InputError(Exception):
    """An input a stage cannot use; the message names it and the fix."""


class DamagedFileError(InputError, RuntimeError):
    """A stage's input file is missing, truncated, corrupted or inconsistent with its neighbours."""


class NonFiniteError(InputError, FloatingPointError):
    """A batch, loss or reward holds NaN or inf: training stops at that step, before it is stepped on."""


def first_line(error: BaseException) -> str:
    """An error's class and the first line of its message: what a one-line failure quotes of a library's error."""
    text = str(error).strip()
    return f"{error.__class__.__name__}: {text.splitlines()[0] if text else ''}"


def remake_hint(made_by: str) -> str:
    return f"it is made by `{made_by}`: `dvc checkout` restores the cached copy, or `dvc repro --force {made_by}` remakes it"


@phases.timed("load")
def read_tensors(path: str | Path, made_by: str, keys: tuple[str, ...] = (), numpy: bool = False) -> dict:
    """All tensors of one safetensors file (numpy arrays if `numpy`), or DamagedFileError naming
    the file and the stage `made_by` when it cannot be read whole or lacks one of `keys`."""
    from safetensors.numpy import load_file as load_numpy
    from safetensors.torch import load_file as load_torch  # here, not above: the params checks and the settings stage import this module and need no torch

    path = Path(path)
    if not path.is_file():
        raise DamagedFileError(f"{path} is missing; {remake_hint(made_by)}")
    try:
        tensors = load_numpy(str(path)) if numpy else load_torch(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise DamagedFileError(f"{path} is damaged ({error}); {remake_hint(made_by)}") from error
    require_keys(tensors, keys, path, made_by)
    return tensors


def require_keys(tensors: dict, keys: tuple[str, ...], path: str | Path, made_by: str) -> None:
    missing = [key for key in keys if key not in tensors]
    if missing:
        raise DamagedFileError(f"{path} lacks {', '.join(missing)}; {remake_hint(made_by)}")


def require_finite(what: str, **tensors: torch.Tensor) -> None:
    """NonFiniteError naming `what` and each tensor that holds NaN or inf, with how many of its values do."""
    import torch

    non_finite = {name: int((~torch.isfinite(t)).sum()) for name, t in tensors.items() if t.is_floating_point()}
    bad = {name: count for name, count in non_finite.items() if count}
    if bad:
        counts = ", ".join(f"{name} ({count} values)" for name, count in bad.items())
        raise NonFiniteError(f"{what}: NaN or inf in {counts}")


@contextmanager
def stage_errors(stage: str):
    """A damaged input, an unusable prompt set, a non-finite value or a bad params value ends the stage with one line
    naming the stage and the cause (what DVC prints), not a traceback. The stage's time is tallied by phase
    (videodpo.core.phases)."""
    from videodpo.core.params import ConfigError

    try:
        with phases.stage_run(stage):
            yield
    except (InputError, ConfigError) as error:
        raise SystemExit(f"{stage}: {error}") from error
