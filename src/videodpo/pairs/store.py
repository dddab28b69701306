"""Preference pairs on disk, and their latents: what make_pairs writes and encode_latents turns into training data.

data/pairs:   pairs-NNNNN.safetensors (uint8 winners/losers, (N, F, H, W, 3)) + manifest.jsonl
data/latents: latents-NNNNN.safetensors (float winners/losers (N, C, F, h, w), text (N, seq, dim))
Training then needs neither the VAE nor the text encoder (the base model's family encodes them). Segment-labelled pairs (DenseDPO) hold
clips a and b in winners/losers and `labels` (N, S) int8 in both: +1 where a is better, −1 where b
is, 0 unlabelled; without `labels` a winner is better than its loser over the whole clip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file

from videodpo.core import phases
from videodpo.core.integrity import DamagedFileError, read_tensors, remake_hint, require_keys

MANIFEST = "manifest.jsonl"


@phases.timed("write")
def write_pair_shard(folder: Path, index: int, winners: np.ndarray, losers: np.ndarray, labels: np.ndarray | None = None) -> str:
    """Save one shard of clips (uint8 (N, F, H, W, 3) each), and segment labels (N, S) if given;
    return its file name."""
    if winners.shape != losers.shape or winners.dtype != np.uint8:
        raise ValueError(f"winners {winners.shape} {winners.dtype} and losers {losers.shape} must match, as uint8")
    arrays = {"winners": np.ascontiguousarray(winners), "losers": np.ascontiguousarray(losers)}
    if labels is not None:
        if labels.ndim != 2 or labels.shape[0] != winners.shape[0] or not 1 <= labels.shape[1] <= winners.shape[1]:
            raise ValueError(f"labels {labels.shape}: one row per pair, at most one segment per frame of {winners.shape[1]}")
        arrays["labels"] = np.ascontiguousarray(labels, dtype=np.int8)
    name = f"pairs-{index:05d}.safetensors"
    save_numpy(arrays, str(folder / name))
    return name


@phases.timed("write")
def write_manifest(folder: Path, records: list[dict]) -> None:
    """One JSON object per pair: caption, seed, method, strength, shard and row within it."""
    with open(folder / MANIFEST, "w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def read_manifest(folder: Path, made_by: str = "make_pairs") -> list[dict]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise DamagedFileError(f"{path} is missing; {remake_hint(made_by)}")
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise DamagedFileError(f"{path} is damaged ({error}); {remake_hint(made_by)}") from error


def shard_records(manifest: list[dict], shard: str, count: int, folder: Path, made_by: str = "make_pairs") -> list[dict]:
    """The manifest's records of one shard in row order, or DamagedFileError when they are not
    exactly its rows 0..count-1 (a manifest from another run, or a shard replaced under it)."""
    records = sorted((r for r in manifest if r.get("shard") == shard), key=lambda r: r.get("row", -1))
    if [r.get("row") for r in records] != list(range(count)):
        raise DamagedFileError(
            f"{Path(folder) / MANIFEST} does not match {shard}: {len(records)} records for its {count} pairs; {remake_hint(made_by)}"
        )
    return records


def iter_pair_shards(folder: Path, made_by: str = "make_pairs") -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(shard name, winners, losers) for each shard, in order."""
    for name, arrays in iter_pair_arrays(folder, made_by):
        yield name, arrays["winners"], arrays["losers"]


def iter_pair_arrays(folder: Path, made_by: str = "make_pairs") -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """(shard name, its arrays: winners, losers and labels if segment-labelled) for each shard, in
    order; DamagedFileError naming the shard and `made_by` for one that cannot be read whole."""
    shards = sorted(Path(folder).glob("pairs-*.safetensors"))
    if not shards:
        raise DamagedFileError(f"no pair shards in {folder}; {remake_hint(made_by)}")
    for path in shards:
        arrays = read_tensors(path, made_by, ("winners", "losers"), numpy=True)
        yield path.name, arrays


@phases.timed("write")
def write_latent_shard(
    folder: Path, name: str, winners: torch.Tensor, losers: torch.Tensor, text: torch.Tensor, labels: torch.Tensor | None = None
) -> None:
    tensors = {"winners": winners, "losers": losers, "text": text}
    if labels is not None:
        tensors["labels"] = labels.to(torch.int8).contiguous()
    save_file(tensors, str(Path(folder) / name))


def encode_latent_shard(
    model, folder: Path, name: str, winners: np.ndarray, losers: np.ndarray, captions: list[str], labels: np.ndarray | None = None
) -> None:
    """One latent shard of uint8 clips (N, F, H, W, 3): both clips of every pair through the family model's VAE,
    its caption through its text encoder, and the pairs' segment labels if they have them."""
    write_latent_shard(
        Path(folder), name, model.encode_clips(winners), model.encode_clips(losers), model.encode_prompts(captions),
        None if labels is None else torch.from_numpy(labels),
    )


def load_latents(folder: Path, made_by: str = "encode_latents") -> dict[str, torch.Tensor]:
    """All latent shards of a folder, concatenated: winners, losers (N, C, F, h, w), text (N, seq, dim)
    and, for segment-labelled pairs, labels (N, S). DamagedFileError naming the shard and `made_by`
    for one that cannot be read whole or whose tensors disagree on the number of pairs."""
    shards = sorted(Path(folder).glob("latents-*.safetensors"))
    if not shards:
        raise DamagedFileError(f"no latent shards in {folder}; {remake_hint(made_by)}")
    loaded = [read_tensors(path, made_by) for path in shards]
    keys = ("winners", "losers", "text") + (("labels",) if "labels" in loaded[0] else ())
    for path, shard in zip(shards, loaded):
        require_keys(shard, keys, path, made_by)
        if len({len(shard[key]) for key in keys}) != 1:
            counts = ", ".join(f"{key} {len(shard[key])}" for key in keys)
            raise DamagedFileError(f"{path}: its tensors disagree on the number of pairs ({counts}); {remake_hint(made_by)}")
    return {key: torch.cat([shard[key] for shard in loaded]) for key in keys}
