"""DVC stage `evaluate`: flicker, motion, appearance and adherence of base vs aligned samples.

Writes metrics/eval.json (means and relative change with paired 95 % bootstrap intervals), a
per-sample CSV and side-by-side base | aligned GIFs under plots/eval.
"""

import csv
import json
from pathlib import Path

from safetensors.numpy import load_file
from tqdm.auto import tqdm

from videodpo import models, outputs, visuals
from videodpo.config import load_config
from videodpo.evaluation import METRICS, clip_metrics, compare

PLOTS = Path("plots/eval")
SIDE_BY_SIDE = 4


def load_samples(variant: str):
    folder = Path("results/samples") / variant
    return load_file(str(folder / "clips.safetensors"))["clips"], json.loads((folder / "samples.json").read_text())


def main() -> None:
    config = load_config()
    toy = models.ModelCard.load("models/base").source == "toy"
    (base_clips, samples), (aligned_clips, aligned_samples) = load_samples("base"), load_samples("aligned")
    if samples != aligned_samples:
        raise SystemExit("base and aligned samples differ in prompts or seeds: rerun `dvc repro sample`")
    rows = {"base": [], "aligned": []}
    for variant, clips in (("base", base_clips), ("aligned", aligned_clips)):
        for clip, sample in tqdm(list(zip(clips, samples)), desc=f"evaluate: {variant}", unit="clip"):
            rows[variant].append(clip_metrics(clip, sample["prompt"], toy))
    outputs.write_json("metrics/eval.json", compare(rows["base"], rows["aligned"], config.evaluate.bootstrap_samples))

    PLOTS.mkdir(parents=True, exist_ok=True)
    with open(PLOTS / "per_sample.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sample", "prompt", "seed", *(f"{v}_{m}" for m in METRICS for v in ("base", "aligned"))])
        for i, sample in enumerate(samples):
            values = [f"{rows[v][i][m]:.4f}" for m in METRICS for v in ("base", "aligned")]
            writer.writerow([i, sample["prompt"], sample["seed"], *values])
    step = max(1, len(samples) // SIDE_BY_SIDE)
    for k in range(SIDE_BY_SIDE):
        i = k * step
        visuals.write_gif(visuals.side_by_side(base_clips[i], aligned_clips[i]), PLOTS / f"base_vs_aligned_{k}.gif")


if __name__ == "__main__":
    main()
