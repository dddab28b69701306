"""Preference labels per segment of frames: which of two clips of one pair is better, where.

A labeller is a function `labeller(clip_a, clip_b, segments) -> labels`: clips uint8 (F, H, W, 3),
segments a list of frame ranges covering the clip, labels one int per segment, +1 where a is better,
−1 where b is, 0 for a tie (not trained on). Params name it (`dense_dpo.labeller`): a built-in name,
or `module:function` for one of the user's own (a vision-language model, say) importable from the
stage's PYTHONPATH, so a new labeller needs no change to the pipeline.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from videodpo import toyworld
from videodpo.evaluation import temporal

Labeller = Callable[[np.ndarray, np.ndarray, Sequence[range]], list[int]]


def segments(frames: int, segment_frames: int) -> list[range]:
    """Consecutive frame ranges of `segment_frames` each; the frames must divide evenly."""
    if segment_frames <= 0 or frames % segment_frames:
        raise ValueError(f"segment_frames {segment_frames} does not divide {frames} frames")
    return [range(start, start + segment_frames) for start in range(0, frames, segment_frames)]


def per_segment(transition_values, parts: Sequence[range]) -> np.ndarray:
    """Per segment, the mean of a per-transition measure over the transitions into its frames (each
    transition t−1 → t belongs to the segment of frame t, so every transition is counted once; a
    first segment of one frame has none and scores 0)."""
    values = np.asarray(transition_values, float)
    return np.asarray([values[[t - 1 for t in part if t > 0]].mean() if any(t > 0 for t in part) else 0.0 for part in parts])


def segment_warping_errors(clip: np.ndarray, parts: Sequence[range]) -> np.ndarray:
    """Per segment, the mean warping error of the transitions into its frames."""
    return per_segment([0.0 if e is None else e for e in temporal.transition_warping_errors(clip)], parts)


def compare_scores(score_a: np.ndarray, score_b: np.ndarray, margin: float) -> list[int]:
    """+1 where a's score (lower = better) beats b's by more than `margin` of their mean, −1 the
    reverse, 0 (a tie) within it."""
    scale = np.maximum((score_a + score_b) / 2, 1e-6)
    gap = (score_b - score_a) / scale
    return [int(np.sign(g)) if abs(g) > margin else 0 for g in gap]


def warping_error_labeller(clip_a: np.ndarray, clip_b: np.ndarray, parts: Sequence[range], margin: float = 0.05) -> list[int]:
    """The default: per segment, the clip with the lower occlusion-masked warping error, ties
    within a relative `margin`."""
    return compare_scores(segment_warping_errors(clip_a, parts), segment_warping_errors(clip_b, parts), margin)


def oracle_labeller(clip_a: np.ndarray, clip_b: np.ndarray, parts: Sequence[range], caption: str, margin: float = 0.05) -> list[int]:
    """The toy world's: a clip whose shape and colour the oracle reads wrong loses every segment to
    one read right; otherwise the warping-error labeller decides."""
    wanted = toyworld.Caption.parse(caption)
    right = [all(toyworld.read_clip(clip).matches(wanted)[key] for key in ("colour", "shape")) for clip in (clip_a, clip_b)]
    if right[0] != right[1]:
        return [1 if right[0] else -1] * len(parts)
    return warping_error_labeller(clip_a, clip_b, parts, margin)


BUILT_IN = ("warping_error", "oracle")  # oracle: toy-world prompts only
HUMAN = "human"  # no formula: make_pairs leaves the pairs for people to label on the labelling page (videodpo.labelling)


def label_command(branch) -> str:
    """The command that opens the labelling page for a branch's pairs (videodpo.label)."""
    return f"python -m videodpo.label {branch.family.name} {branch.method} --annotator NAME"


def resolve(name: str, margin: float, caption: str | None = None) -> Labeller:
    """The labeller params name, with its tie margin (built-ins) and the pair's caption (oracle).

    A `module:function` name is imported as is: it gets (clip_a, clip_b, segments)."""
    if name == "warping_error":
        return partial(warping_error_labeller, margin=margin)
    if name == "oracle":
        if caption is None:
            raise ValueError("the oracle labeller needs each pair's caption")
        return partial(oracle_labeller, caption=caption, margin=margin)
    module_name, _, function_name = name.partition(":")
    if not module_name or not function_name:
        raise ValueError(f"labeller {name!r}: name a built-in ({', '.join(BUILT_IN)}) or give module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"labeller {name!r}: cannot import {module_name!r} ({error}); put it on PYTHONPATH (src/ is)") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"labeller {name!r}: {module_name} has no function {function_name!r}")
    return function


def label_pair(labeller: Labeller, clip_a: np.ndarray, clip_b: np.ndarray, parts: Sequence[range]) -> list[int]:
    """Call a labeller and check what it returns: one of +1, 0, −1 per segment."""
    labels = [int(label) for label in labeller(clip_a, clip_b, parts)]
    if len(labels) != len(parts) or any(label not in (-1, 0, 1) for label in labels):
        raise ValueError(f"a labeller must return one of +1, 0, -1 per segment ({len(parts)}); got {labels}")
    return labels


def segment_motion(clip: np.ndarray, parts: Sequence[range]) -> np.ndarray:
    """Per segment, the mean optical-flow magnitude (px/frame) of the transitions into its frames."""
    return per_segment([np.linalg.norm(flow, axis=-1).mean() for flow in temporal.forward_flows(clip)], parts)


def budget_mask(pairs: int, segments_per_pair: int, budget: int | None, seed: int) -> np.ndarray:
    """Which (pair, segment) slots get a label, (pairs, segments): all, or `budget` of them drawn at random."""
    mask = np.ones((pairs, segments_per_pair), bool)
    if budget is None or budget >= mask.size:
        return mask
    chosen = np.random.default_rng(seed).choice(mask.size, size=budget, replace=False)
    mask[:] = False
    mask.flat[chosen] = True
    return mask


def labels_report(labels: np.ndarray, asked: np.ndarray, motion_a: np.ndarray, motion_b: np.ndarray) -> dict:
    """What a labeller said of a set of pairs, (pairs, segments) arrays: how many pairs were made
    (those with a segment to label), how many labels it was asked for and gave, the tie rate, and
    the motion bias — the mean motion of the preferred segment minus the rejected one (negative:
    the labeller prefers the clip that moves less)."""
    given = labels != 0
    preferred = np.where(labels > 0, motion_a, motion_b)
    rejected = np.where(labels > 0, motion_b, motion_a)
    kept = int(given.any(axis=1).sum())
    return {
        "pairs_made": int(asked.any(axis=1).sum()),  # a pair with no segment to label is not made
        "pairs_kept": kept,  # pairs with at least one label
        "labels_asked": int(asked.sum()),
        "labels": int(given.sum()),
        "labels_per_pair": float(given.sum() / kept) if kept else 0.0,
        "tie_rate": float(((labels == 0) & asked).sum() / max(1, asked.sum())),
        "motion_bias": float((preferred - rejected)[given].mean()) if given.any() else 0.0,
        "motion_preferred": float(preferred[given].mean()) if given.any() else 0.0,
        "motion_rejected": float(rejected[given].mean()) if given.any() else 0.0,
    }
