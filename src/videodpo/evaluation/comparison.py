"""Scoring sampled clips and comparing two models on the same (prompt, seed) samples."""

from __future__ import annotations

import numpy as np

from videodpo import toyworld
from videodpo.evaluation import appearance, temporal
from videodpo.evaluation.statistics import relative_change_ci

METRICS = (
    "warping_error", "warping_error_seed", "frame_difference", "temporal_flickering", "motion", "dynamic_degree", "travel", "contrast", "saturation",
    "adherence",
)


def clip_metrics(clip: np.ndarray, prompt: str, oracle: bool) -> dict[str, float]:
    """Every metric of one clip (uint8 (F, H, W, 3)). With `oracle` (a toy-world model on toy-world
    prompts): adherence (colour and shape read back by the toy-world oracle) and travel (how far the
    shape's centroid moves per frame, in px: motion that flow noise on flat backgrounds cannot
    inflate); NaN otherwise."""
    forward = temporal.forward_flows(clip)
    scores = {
        "warping_error": temporal.warping_error(clip, forward),
        "warping_error_seed": temporal.warping_error_seed(clip),
        "frame_difference": temporal.frame_difference(clip),
        "temporal_flickering": temporal.temporal_flickering(clip),
        "motion": temporal.motion_magnitude(clip, forward),
        "dynamic_degree": temporal.is_dynamic(clip, forward=forward),
        "contrast": appearance.contrast(clip),
        "saturation": appearance.saturation(clip),
        "travel": float("nan"),
        "adherence": float("nan"),
    }
    if oracle:
        reading = toyworld.read_clip(clip)
        match = reading.matches(toyworld.Caption.parse(prompt))
        scores["adherence"] = float(match["colour"] and match["shape"])
        scores["travel"] = float(np.hypot(*reading.displacement)) / (len(clip) - 1)
    return scores


def compare(
    base: list[dict], methods: dict[str, list[dict]], resamples: int, strata: list | None = None, reasons: dict[str, str] | None = None,
) -> dict:
    """metrics/eval.json: the base's means, and per method its means and the relative change from
    the base with a paired 95 % bootstrap interval. Rows are per sample, in the same (prompt, seed)
    order for every model; `strata` (the prompts) keeps each prompt's share fixed when resampling.
    A metric not defined for these prompts is listed under `not_available` with why (`reasons`)."""
    result = {"n_samples": len(base), "base": {}, "methods": {}}
    for method, rows in methods.items():
        if len(rows) != len(base):
            raise ValueError(f"{len(base)} base samples but {len(rows)} of {method}: every model must use the same prompts and seeds")
        result["methods"][method] = {"means": {}, "change": {}}
    for metric in METRICS:
        b = np.array([row[metric] for row in base], float)
        if np.isnan(b).any():  # not defined for these prompts (e.g. the oracle's, off the toy world)
            result.setdefault("not_available", {})[metric] = (reasons or {}).get(metric, "not defined for these prompts")
            continue
        result["base"][metric] = float(b.mean())
        for method, rows in methods.items():
            a = np.array([row[metric] for row in rows], float)
            result["methods"][method]["means"][metric] = float(a.mean())
            result["methods"][method]["change"][metric] = relative_change_ci(b, a, resamples, strata=strata)
    return result
