"""DVC stage `evaluate@<family>-<split>`: flicker, motion, appearance and adherence of every method
of a model family against that family's base, on one evaluation split: `dev` (settings are chosen on
it) or `test` (the README reports it).

Adherence and travel come from the toy-world oracle on toy-world prompts; on other prompts adherence
is CLIP text-frame similarity when the CLIP weights of params `reward_models.clip` are in the local
cache, and metrics/<family>/eval_<split>.json lists what is not available and why.

Every method in params `methods` is scored on the same held-out prompts, seeds and starting noise
as the base. Writes metrics/<family>/eval_<split>.json (the base's means; per method its means and the
relative change with a paired 95 % bootstrap interval), and under plots/<family>/eval/<split>/: per_sample.csv
(one row per sample and method), a per-sample scatter of warping error against the base's, and per
method a GIF strip of base | method on the same seeds in side_by_side/.
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from videodpo import toyworld
from videodpo.config import load_config
from videodpo.core import integrity, layout, model_card, outputs, seeds
from videodpo.evaluation import visuals
from videodpo.evaluation.comparison import METRICS, clip_metrics, compare
from videodpo.rewards.settings import ClipSettings

STRIP_ROWS = 4


def load_samples(family: str, variant: str, split: str):
    folder = layout.Family(family).samples(split, variant)
    clips = integrity.read_tensors(folder / "clips.safetensors", layout.Family(family).sample_stage(variant, split), ("clips",), numpy=True)
    return clips["clips"], json.loads((folder / "samples.json").read_text())


def clip_scorer_or_reason(settings: ClipSettings):
    """(CLIP scorer, None) when its weights are in the local cache (or a local folder), else (None, why not)."""
    from videodpo.rewards import clip_text  # here, not above: torch and transformers load only off the toy world

    try:
        return clip_text.load_clip_scorer(settings.hub, settings.revision, local_files_only=True), None
    except OSError:
        return None, (
            f"off the toy world adherence is CLIP text-frame similarity, and {settings.hub}@{settings.revision} is not in the "
            f"local cache: huggingface-cli download {settings.hub} --revision {settings.revision} (params reward_models.clip)"
        )


def main(family: str, split: str) -> None:
    if split not in seeds.SPLITS:
        raise SystemExit(f"evaluate: {split!r} is not an evaluation split; give one of {', '.join(seeds.SPLITS)}")
    config = load_config(family=family)
    tree = layout.Family(family)
    stage = tree.stage("evaluate", split)
    plots = tree.plots("eval") / split
    toy = model_card.ModelCard.load(tree.base).source == "toy"
    clips, samples = {}, None
    for variant in ("base", *config.methods):
        clips[variant], variant_samples = load_samples(family, variant, split)
        if samples is not None and variant_samples != samples:
            raise SystemExit(f"{stage}: {variant} was sampled on other prompts or seeds than the base: rerun `dvc repro`")
        samples = variant_samples
    prompts = [s["prompt"] for s in samples]
    oracle = toy and all(toyworld.is_caption(p) for p in prompts)  # the toy-world oracle reads toy-world captions only
    rows = {
        variant: [clip_metrics(clip, s["prompt"], oracle) for clip, s in tqdm(list(zip(variant_clips, samples)), desc=f"{stage}: {variant}", unit="clip")]
        for variant, variant_clips in clips.items()
    }
    reasons = {"travel": "travel is read by the toy-world oracle, on a toy-world model with toy-world prompts only"}
    scorer = None
    if not oracle:
        scorer, reasons["adherence"] = clip_scorer_or_reason(config.reward_models.clip)
        if scorer is not None:
            from videodpo.rewards import clip_text

            for variant in tqdm(rows, desc="evaluate: CLIP adherence", unit="model"):
                for row, score in zip(rows[variant], clip_text.clip_adherence(scorer, clips[variant], prompts)):
                    row["adherence"] = float(score)
    methods = {m: rows[m] for m in config.methods}
    report = {"family": family, "split": split, **compare(rows["base"], methods, config.evaluate.bootstrap_samples, strata=prompts, reasons=reasons)}
    if scorer is not None:  # loaded only off the oracle
        report["adherence_scorer"] = f"CLIP text-frame cosine similarity, {config.reward_models.clip.hub}@{config.reward_models.clip.revision}"
    outputs.write_json(tree.metrics / f"eval_{split}.json", report)
    write_per_sample_csv(plots / "per_sample.csv", samples, rows["base"], methods)
    visuals.scatter_against_base(
        np.array([r["warping_error"] for r in rows["base"]]),
        {m: np.array([r["warping_error"] for r in method_rows]) for m, method_rows in methods.items()},
        plots / "warping_error_per_sample.png", "warping error",
    )
    picks = [k * max(1, len(samples) // STRIP_ROWS) for k in range(min(STRIP_ROWS, len(samples)))]
    with outputs.atomic_directory(plots / "side_by_side") as staging:
        for method in config.methods:
            strip = visuals.stack_rows([visuals.side_by_side(clips["base"][i], clips[method][i]) for i in picks])
            visuals.write_gif(strip, staging / f"{method}.gif")


def write_per_sample_csv(path: Path, samples: list[dict], base: list[dict], methods: dict[str, list[dict]]) -> None:
    """One row per (sample, method): the method's value of every metric beside the base's on the same sample."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sample", "prompt", "seed", "method", *(f"base_{m}" for m in METRICS), *METRICS])
        for method, rows in methods.items():
            for i, sample in enumerate(samples):
                values = [f"{base[i][m]:.4f}" for m in METRICS] + [f"{rows[i][m]:.4f}" for m in METRICS]
                writer.writerow([i, sample["prompt"], sample["seed"], method, *values])


if __name__ == "__main__":
    family, split = (sys.argv[1:] + ["", ""])[:2]
    with integrity.stage_errors(f"evaluate@{family}-{split}"):
        main(family, split)
