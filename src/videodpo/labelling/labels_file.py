"""The labels file: one JSON object a line, one line per segment an annotator labelled.

    {"pair": 3, "segment": 1, "label": "a", "annotator": "ana", "at": "2026-12-07T05:12:44Z"}

`pair` is the pair's number in the branch's manifest (its `pair` field), `segment` the index of one of
its segments, `label` "a" or "b" (that clip is better there) or "tie". An annotator's later answer for
the same segment replaces the earlier one. The whole file is rewritten atomically on every answer, so
a page closed or a server killed at any moment leaves every answer it acknowledged.

Several annotators may share a file (merge_files): where they disagree on a segment it counts as a tie,
which trains on nothing (videodpo.training's segment DPO skips ties).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from videodpo.core.integrity import InputError

LABELS = {"a": 1, "b": -1, "tie": 0}  # as the pairs' segment labels count them: +1 where clip a is better


class LabelsFileError(InputError, ValueError):
    """A labels file that cannot be read, or a label that cannot be given: names the file and line, or
    the pair and segment."""


@dataclass(frozen=True)
class Label:
    pair: int
    segment: int
    label: str
    annotator: str
    at: str

    @property
    def key(self) -> tuple[int, int, str]:
        return self.pair, self.segment, self.annotator

    @property
    def value(self) -> int:
        return LABELS[self.label]


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_line(text: str, where: str) -> Label:
    """One line of a labels file, or LabelsFileError naming `where` (file:line) and what is wrong."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise LabelsFileError(f"{where}: not JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise LabelsFileError(f"{where}: a label is a JSON object, not {type(record).__name__}")
    missing = [key for key in ("pair", "segment", "label", "annotator", "at") if key not in record]
    if missing:
        raise LabelsFileError(f"{where}: missing {', '.join(missing)}")
    for key in ("pair", "segment"):
        if not isinstance(record[key], int) or isinstance(record[key], bool) or record[key] < 0:
            raise LabelsFileError(f"{where}: {key} must be a whole number ≥ 0, not {record[key]!r}")
    if record["label"] not in LABELS:
        raise LabelsFileError(f"{where}: label {record['label']!r} is not one of {', '.join(LABELS)}")
    if not isinstance(record["annotator"], str) or not record["annotator"].strip():
        raise LabelsFileError(f"{where}: annotator must be a name")
    return Label(record["pair"], record["segment"], record["label"], record["annotator"], str(record["at"]))


def read_labels(path: str | Path) -> dict[tuple[int, int, str], Label]:
    """A labels file's labels by (pair, segment, annotator); an absent file has none. A malformed line
    raises LabelsFileError naming its file and line number."""
    path = Path(path)
    if not path.is_file():
        return {}
    labels: dict[tuple[int, int, str], Label] = {}
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if text.strip():
            label = parse_line(text, f"{path}:{number}")
            labels[label.key] = label  # a later line for the same segment and annotator replaces an earlier one
    return labels


def write_labels(path: str | Path, labels: Iterable[Label]) -> None:
    """Rewrite the file with these labels, sorted, atomically (a temporary file beside it, synced, then
    renamed over it): a reader sees the old file or the new one, never part of either."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(asdict(label)) + "\n" for label in sorted(labels, key=lambda label: label.key)]
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w") as handle:
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def consensus(labels: Iterable[Label]) -> dict[tuple[int, int], int]:
    """One value per labelled (pair, segment): +1, −1 or 0, the annotators' common answer, or 0 (a tie)
    where they disagree."""
    answers: dict[tuple[int, int], set[int]] = {}
    for label in labels:
        answers.setdefault((label.pair, label.segment), set()).add(label.value)
    return {key: values.pop() if len(values) == 1 else 0 for key, values in answers.items()}


def agreement(first: Mapping[tuple[int, int], int], second: Mapping[tuple[int, int], int]) -> dict:
    """How two annotators' answers ((pair, segment) → +1/0/−1) agree on the segments both labelled:
    the share of equal answers, Cohen's kappa (agreement beyond what their label rates give by chance),
    and how often one preferred a clip the other preferred the other (opposite)."""
    both = sorted(set(first) & set(second))
    if not both:
        return {"segments_both": 0, "agreement": None, "kappa": None, "opposite": 0}
    pairs = [(first[key], second[key]) for key in both]
    observed = sum(a == b for a, b in pairs) / len(pairs)
    chance = sum(
        (sum(a == value for a, _ in pairs) / len(pairs)) * (sum(b == value for _, b in pairs) / len(pairs))
        for value in LABELS.values()
    )
    kappa = 1.0 if chance == 1 else (observed - chance) / (1 - chance)
    return {
        "segments_both": len(both),
        "agreement": round(observed, 4),
        "kappa": round(kappa, 4),
        "opposite": sum(a * b < 0 for a, b in pairs),
    }


def by_annotator(labels: Iterable[Label]) -> dict[str, dict[tuple[int, int], int]]:
    answers: dict[str, dict[tuple[int, int], int]] = {}
    for label in labels:
        answers.setdefault(label.annotator, {})[(label.pair, label.segment)] = label.value
    return answers


def merge_files(paths: Iterable[str | Path], out: str | Path) -> dict:
    """Merge labels files into `out` (one line per pair, segment and annotator; a later file's answer
    replaces an earlier one's for the same annotator) and report each pair of annotators' agreement."""
    merged: dict[tuple[int, int, str], Label] = {}
    for path in paths:
        if not Path(path).is_file():
            raise LabelsFileError(f"{path}: no such labels file")
        merged.update(read_labels(path))
    write_labels(out, merged.values())
    answers = by_annotator(merged.values())
    names = sorted(answers)
    together = consensus(merged.values())
    return {
        "annotators": {name: len(answers[name]) for name in names},
        "segments": len(together),
        "disagreements_as_ties": sum(
            1 for key, value in together.items() if value == 0 and any(answers[name].get(key, 0) for name in names)
        ),
        "agreement": [
            {"annotators": [a, b], **agreement(answers[a], answers[b])}
            for i, a in enumerate(names) for b in names[i + 1:]
        ],
    }
