"""Do the test figures hold on samples nobody has seen? The committed base and every method's LoRA
sampled anew with seeds of a third range (videodpo.core.seeds: `replication`, neither dev nor test), on
the test split's prompts and sample count, scored as evaluate@test scores, and set beside the test
split's changes (metrics/<family>/eval_test.json).

    PYTHONPATH=src python scripts/replicate.py                 # animatediff
    PYTHONPATH=src python scripts/replicate.py --family wan

Needs the pipeline's outputs (`dvc repro` or `dvc pull`); changes none of them. Writes
docs/measured/<family>/replication.json, which the README's replication table is generated from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from experiments import locked_base  # scripts/, beside this script
from tqdm.auto import tqdm

from videodpo import families, toyworld
from videodpo.config import load_config
from videodpo.core import layout, model_card, precision, prompts, seeds
from videodpo.evaluation.comparison import clip_metrics, compare

ROOT = Path(__file__).parents[1]
MEASURES = ("warping_error", "frame_difference", "motion", "travel", "contrast", "adherence")


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="animatediff", help="the model family whose models are sampled (default: animatediff)")
    family = parser.parse_args().family
    config = load_config(ROOT / "params.yaml", family=family)
    tree = layout.Family(family)
    base = ROOT / tree.base
    card = model_card.ModelCard.load(base)
    prompt_texts = prompts.split_prompts(config.prompts, "test", card.source, families.load_base_tokenizer(base))
    samples = seeds.evaluation_samples(prompt_texts, config.sample.seeds_per_prompt.test, "replication")
    texts, sample_seeds = [p for p, _ in samples], [s for _, s in samples]
    oracle = card.source == "toy" and all(toyworld.is_caption(p) for p in texts)
    rows = {}
    for variant in ("base", *config.methods):
        model = families.load_base(base, precision.weight_dtype(config.training.mixed_precision))
        if variant != "base":
            model.load_lora(ROOT / tree.branch(variant).lora)
        clips = model.generate(
            texts, sample_seeds, card.frames, config.sample.num_inference_steps, config.sample.guidance_scale,
            card.shared_noise, desc=f"replicate: {variant}", resolution=card.frame_size,
        )
        rows[variant] = [clip_metrics(clip, text, oracle) for clip, text in tqdm(list(zip(clips, texts)), desc=f"score: {variant}", unit="clip")]
    report = compare(rows["base"], {m: rows[m] for m in config.methods}, config.evaluate.bootstrap_samples, strata=texts)
    test = json.loads((ROOT / tree.metrics / "eval_test.json").read_text())
    measures = [key for key in MEASURES if key in report["base"] and key in test["base"]]
    result = {
        "family": family, "n_samples": len(samples), "first_seed": sample_seeds[0], "measures": measures,
        "base": report["base"],
        "base_model": locked_base((ROOT / "dvc.lock").read_text(), family),  # the committed base the clips came from
        "methods": {
            m: {"test": {k: test["methods"][m]["change"][k] for k in measures}, "replication": {k: report["methods"][m]["change"][k] for k in measures}}
            for m in config.methods
        },
    }
    path = ROOT / "docs/measured" / family / "replication.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    for method, changes in result["methods"].items():
        cells = []
        for key in measures:
            low, high = changes["test"][key]["ci95"]
            again = changes["replication"][key]["relative"]
            cells.append(f"{key} {100 * changes['test'][key]['relative']:+.1f} → {100 * again:+.1f} %{'' if low <= again <= high else ' (outside)'}")
        print(f"{method}: " + ", ".join(cells))
    print(f"wrote {path.relative_to(ROOT)}; base warping error {np.round(report['base']['warping_error'], 3)}")


if __name__ == "__main__":
    main()
