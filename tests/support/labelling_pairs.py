"""A branch's pairs as make_pairs writes them, small enough to label in a test: clips a and b of a few
toy captions in data/<family>/pairs/<method>, with the settings file that gives their segments."""

import json
from pathlib import Path

import numpy as np

from videodpo import toyworld
from videodpo.core import layout
from videodpo.pairs import store


def write_branch_pairs(root: Path, family: str = "wan", method: str = "dense_dpo", pairs: int = 3, frames: int = 9,
                       segment_frames: int = 4, kind: str = "dense", first_pair: int = 0) -> layout.Branch:
    """Pairs numbered first_pair, first_pair + 1, … under `root`: clip a a toy-world render (32 × 32) of its
    caption, clip b the same render with each frame shifted by up to 2 pixels (flicker)."""
    branch = layout.branch(family, method)
    rng = np.random.default_rng(first_pair)
    captions = [f"a {colour} {shape} moving {direction}" for colour, shape, direction in
                zip(["red", "blue", "green", "yellow"] * pairs, ["square", "circle", "triangle"] * pairs, ["left", "right", "up", "down"] * pairs)]
    clips_a = np.stack([toyworld.render_clip(toyworld.Caption.parse(caption), rng, size=32, frames=frames, radius=6.0, speed=2.0)
                        for caption in captions[:pairs]])
    clips_b = np.stack([np.stack([np.roll(frame, tuple(rng.integers(-2, 3, 2)), axis=(0, 1)) for frame in clip]) for clip in clips_a])
    folder = root / branch.pairs
    folder.mkdir(parents=True, exist_ok=True)
    shard = store.write_pair_shard(folder, 0, clips_a, clips_b)
    records = [{"row": row, "shard": shard, "pair": first_pair + row, "caption": captions[row], "method": kind} for row in range(pairs)]
    store.write_manifest(folder, records)
    settings = root / branch.settings / "pairs.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"code": "test", "settings": {"kind": kind, "dense": {"segment_frames": segment_frames}}}))
    return branch
