"""Splitting a stage's work across processes started by `accelerate launch`.

Each process takes a contiguous block of the items (its shard), and the blocks are gathered back in
order, so many processes write exactly what one would. Run as plain `python`, there is one process
and every helper here is a no-op.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from accelerate import PartialState
from accelerate.utils import parse_flag_from_env


def cpu_processes() -> bool:
    """Whether accelerate was asked for CPU processes (ACCELERATE_USE_CPU); without cpu=True they
    would each believe they run alone. Pass it to every PartialState and Accelerator."""
    return parse_flag_from_env("ACCELERATE_USE_CPU")


def processes() -> PartialState:
    """This process's place among those accelerate started (one, under plain python)."""
    return PartialState(cpu=cpu_processes())


def shard_bounds(count: int, rank: int, world: int) -> range:
    """The items of process `rank` of `world`: a contiguous block; the blocks differ in size by at most one."""
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in [0, {world})")
    base, extra = divmod(count, world)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (rank < extra))


def my_shard(count: int) -> range:
    """This process's block of `count` items."""
    state = processes()
    if count < state.num_processes:
        raise ValueError(f"{count} items cannot be split over {state.num_processes} processes: make more, or launch fewer processes")
    return shard_bounds(count, state.process_index, state.num_processes)


def gather_rows(local: np.ndarray, count: int) -> np.ndarray:
    """Every process's block of rows, concatenated in rank order: the whole (count, ...) array, on every process.

    Blocks are padded to one size for the collective and trimmed after, so uneven shards work.
    """
    state = processes()
    if state.num_processes == 1:
        return local
    import torch.distributed as dist

    sizes = [len(shard_bounds(count, rank, state.num_processes)) for rank in range(state.num_processes)]
    if len(local) != sizes[state.process_index]:
        raise ValueError(f"process {state.process_index} holds {len(local)} rows, its shard has {sizes[state.process_index]}")
    rows = torch.from_numpy(np.ascontiguousarray(local))
    tensor = rows.new_zeros((max(sizes), *local.shape[1:]))
    tensor[: len(local)] = rows
    tensor = tensor.to(state.device)
    pieces = [torch.empty_like(tensor) for _ in sizes]
    dist.all_gather(pieces, tensor)
    return torch.cat([piece[:size] for piece, size in zip(pieces, sizes)]).cpu().numpy()


@contextmanager
def process_group():
    """A stage's run among its processes; the group is closed at the end (a gloo group left open
    can abort the interpreter's exit)."""
    state = processes()
    yield state
    if state.num_processes > 1:
        state.wait_for_everyone()
        state.destroy_process_group()


@contextmanager
def main_process_writes():
    """Only the main process writes outputs; the others wait until it is done."""
    state = processes()
    try:
        yield state.is_main_process
    finally:
        state.wait_for_everyone()
