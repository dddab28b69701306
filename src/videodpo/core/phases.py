"""Where a stage's time goes: start-up (the interpreter and the stage's imports, up to its first line of
work, plus the model code a family imports on first use, timed where it happens by `importing`), loading
(models and the outputs of other stages it reads), writing (its own outputs) and computing (the rest).
Every stage keeps the tally; it is written only when the environment variable VIDEODPO_PHASES names a
folder, one `<stage>.json` a stage run, which benchmarks/stage_profile.py reads. Nothing a stage
outputs depends on it.
"""

from __future__ import annotations

import functools
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

PHASES_ENV = "VIDEODPO_PHASES"
TIMED = ("load", "write")  # timed where they happen; compute is what is left
IMPORT = "import"  # start-up that happens late: counted as start-up wherever it happens

_seconds = dict.fromkeys((*TIMED, IMPORT), 0.0)
_open: list[str] = []  # phases under way: the outermost gets the time, so a load inside a load counts once


def process_age() -> float | None:
    """Seconds since this process started (Linux /proc, to 10 ms), or None where there is no /proc."""
    try:
        stat = Path("/proc/self/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return None
    started_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22 of proc(5): start time after boot, in clock ticks
    return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))


@contextmanager
def phase(name: str):
    """Count the time inside the block as `name` ("load" or "write"), unless an outer phase already counts it."""
    if name not in TIMED:
        raise ValueError(f"phase {name!r}: give one of {', '.join(TIMED)}")
    if _open:
        yield
        return
    _open.append(name)
    began = time.perf_counter()
    try:
        yield
    finally:
        _seconds[name] += time.perf_counter() - began
        _open.pop()


@contextmanager
def importing():
    """Count the time inside the block as start-up (code imported on first use), taken out of any phase around it."""
    began = time.perf_counter()
    try:
        yield
    finally:
        spent = time.perf_counter() - began
        _seconds[IMPORT] += spent
        if _open:
            _seconds[_open[0]] -= spent


def timed(name: str):
    """Decorator: every call of the function counts as phase `name`."""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with phase(name):
                return function(*args, **kwargs)

        return wrapper

    return decorate


@contextmanager
def stage_run(stage: str):
    """Tally the block (a stage's work) by phase; on success, write the tally when VIDEODPO_PHASES names a folder."""
    startup = process_age()
    for name in _seconds:
        _seconds[name] = 0.0
    began = time.perf_counter()
    yield
    folder = os.environ.get(PHASES_ENV)
    if not folder:
        return
    work = time.perf_counter() - began
    record = {
        "stage": stage, "startup": None if startup is None else round(startup + _seconds[IMPORT], 3),
        **{name: round(_seconds[name], 3) for name in TIMED},
        "compute": round(work - sum(_seconds.values()), 3), "work": round(work - _seconds[IMPORT], 3),
    }
    rank = os.environ.get("RANK", "0")  # under accelerate every process keeps its own tally
    path = Path(folder) / (f"{stage}.json" if rank == "0" else f"{stage}.rank{rank}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
