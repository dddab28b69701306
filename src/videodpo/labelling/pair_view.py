"""A branch's pairs as the labelling page shows them: each pair's caption, its two clips (a and b, as
make_pairs wrote them), its segments of frames, and which of them are asked for a label.

Segments follow the branch's settings (data/<family>/settings/<method>/pairs.json): a dense pair has its
family's segments of `dense_dpo.segment_frames`, a vanilla pair one segment, the whole clip. A manifest
record's `asked` (segment indices) narrows what is asked, as a label budget does; without it every
segment is.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np

from videodpo import families
from videodpo.core import layout
from videodpo.core.integrity import DamagedFileError, read_tensors, remake_hint
from videodpo.labelling.labels_file import LabelsFileError


@dataclass(frozen=True)
class PairView:
    pair: int  # the manifest's pair number, what the labels file names
    caption: str
    segments: list[tuple[int, int]]  # frames [start, stop) of each segment
    asked: list[int]  # the segments to label
    shard: str = field(repr=False)
    row: int = field(repr=False)

    def page_record(self) -> dict:
        return {"pair": self.pair, "caption": self.caption, "segments": [list(part) for part in self.segments], "asked": self.asked}


def branch_segments(branch: layout.Branch, frames: int) -> list[tuple[int, int]]:
    """The frame ranges a pair of this branch is labelled by, from its pair settings."""
    settings_file = branch.settings / "pairs.json"
    made_by = branch.stage("settings")
    if not settings_file.is_file():
        raise DamagedFileError(f"{settings_file} is missing; {remake_hint(made_by)}")
    settings = json.loads(settings_file.read_text())["settings"]
    if settings.get("kind") not in ("dense", "vanilla"):
        raise LabelsFileError(
            f"{branch.method} does not train on labelled pairs (its pairs are {settings.get('kind', 'made')!r}): "
            "label the pairs of vanilla_dpo, dense_dpo or dense_dpo_third"
        )
    if settings["kind"] == "vanilla":
        return [(0, frames)]
    return [(part.start, part.stop) for part in families.frame_segments(branch.family.name, frames, settings["dense"]["segment_frames"])]


class BranchPairs:
    """The pairs of one branch, read once; clips are read from their shard when first shown."""

    def __init__(self, branch: layout.Branch):
        from videodpo.pairs import store

        self.branch = branch
        made_by = branch.stage("make_pairs")
        if not branch.pairs.is_dir():
            raise DamagedFileError(f"{branch.pairs} is missing; {remake_hint(made_by)}")
        manifest = store.read_manifest(branch.pairs, made_by)
        if not manifest:
            raise DamagedFileError(f"{branch.pairs} holds no pairs; {remake_hint(made_by)}")
        self._arrays: dict[str, dict[str, np.ndarray]] = {}
        self._filmstrips: dict[tuple[int, str], bytes] = {}
        first = self.arrays(manifest[0]["shard"])
        self.frames, self.frame_size = int(first["winners"].shape[1]), int(first["winners"].shape[2])
        segments = branch_segments(branch, self.frames)
        self.pairs = [
            PairView(
                pair=int(record["pair"]), caption=str(record["caption"]), segments=segments,
                asked=sorted(int(s) for s in record.get("asked", range(len(segments)))), shard=record["shard"], row=int(record["row"]),
            )
            for record in sorted(manifest, key=lambda record: record["pair"])
        ]
        self.by_number = {view.pair: view for view in self.pairs}

    def arrays(self, shard: str) -> dict[str, np.ndarray]:
        if shard not in self._arrays:
            self._arrays[shard] = read_tensors(self.branch.pairs / shard, self.branch.stage("make_pairs"), ("winners", "losers"), numpy=True)
        return self._arrays[shard]

    def clip(self, pair: int, which: str) -> np.ndarray:
        """Clip a or b of a pair, uint8 (F, H, W, 3)."""
        view = self.by_number[pair]
        return self.arrays(view.shard)["winners" if which == "a" else "losers"][view.row]

    def filmstrip(self, pair: int, which: str) -> bytes:
        """Clip a or b of a pair as the page draws it (filmstrip_png), encoded once: the page asks again on every reload."""
        if (pair, which) not in self._filmstrips:
            self._filmstrips[(pair, which)] = filmstrip_png(self.clip(pair, which))
        return self._filmstrips[(pair, which)]

    def asked_total(self) -> int:
        return sum(len(view.asked) for view in self.pairs)

    def check(self, pair: int, segment: int) -> None:
        """LabelsFileError unless `segment` of `pair` is one the page asks for."""
        view = self.by_number.get(pair)
        if view is None:
            raise LabelsFileError(f"no pair {pair} in {self.branch.pairs} (its pairs: {self.pairs[0].pair}–{self.pairs[-1].pair})")
        if segment not in view.asked:
            raise LabelsFileError(f"pair {pair} has no segment {segment} to label (asked: {', '.join(map(str, view.asked))})")


def filmstrip_png(clip: np.ndarray) -> bytes:
    """A clip's frames side by side in one PNG, (H, F·W): the page draws frame f from its f-th tile."""
    from PIL import Image

    strip = np.concatenate(list(np.asarray(clip, np.uint8)), axis=1)
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG")
    return buffer.getvalue()


def page_state(pairs: BranchPairs) -> dict:
    return {
        "family": pairs.branch.family.name, "method": pairs.branch.method, "frames": pairs.frames, "frame_size": pairs.frame_size,
        "pairs": [view.page_record() for view in pairs.pairs],
    }
