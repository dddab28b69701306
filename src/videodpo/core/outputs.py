"""Writing stage outputs atomically: build under a temporary path, then rename into place.

An interrupted stage therefore never leaves a half-written output for DVC to cache.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

from videodpo.core import phases


@contextmanager
def atomic_directory(path: str | Path):
    """Yield a fresh temporary directory beside `path`; on success it replaces `path` whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*"):  # staging of a run killed before it could clean up
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield staging
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


@phases.timed("write")
def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_json(path: str | Path, data) -> None:
    """Write JSON atomically (pretty-printed, keys in the given order)."""
    write_text(path, json.dumps(data, indent=2) + "\n")


@phases.timed("write")
def canonical_safetensors(path: str | Path) -> None:
    """Rewrite a safetensors file with its metadata keys in sorted order. safetensors writes metadata
    in hash-map order, which changes from process to process: with two or more keys (a diffusers
    LoRA has two) the same tensors would give other bytes, another DVC hash, and reruns downstream."""
    path = Path(path)
    data = path.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + length])
    metadata = header.pop("__metadata__", None)
    ordered = ({"__metadata__": dict(sorted(metadata.items()))} if metadata else {}) | header  # tensors keep their order
    text = json.dumps(ordered, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data that follows starts 8-byte aligned, as the format asks
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + length :])
    os.replace(temporary, path)
