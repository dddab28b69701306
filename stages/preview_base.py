"""DVC stage `preview_base@<family>`: how well the family's toy base model follows its captions, and
how much it flickers.

Samples every train and held-out caption, scores them with the toy-world oracle, compares frame
difference, warping error and motion with ground truth, and draws a contact sheet: metrics/<family>/base.json
and plots/<family>/base/contact_sheet.png. A hub model has no oracle: it gets the contact sheet of
the held-out captions and their flicker and motion only.
"""

import sys

import numpy as np

from videodpo import families, toyworld
from videodpo.config import load_config
from videodpo.core import distributed, integrity, layout, model_card, outputs, precision, seeds
from videodpo.evaluation import visuals
from videodpo.evaluation.base_report import preview_base_model
from videodpo.evaluation.comparison import clip_metrics


def main(family: str) -> None:
    config = load_config(family=family)
    tree = layout.Family(family)
    card = model_card.ModelCard.load(tree.base)
    world, preview = config.toyworld, config.model.preview
    if card.source != "toy":
        preview_hub_model(tree, card, preview, config.training.mixed_precision)
        return
    model = families.load_base(tree.base)
    render_kwargs = dict(size=world.frame_size, frames=world.frames, radius=world.radius, speed=world.speed)
    metrics, clips, texts = preview_base_model(
        model, preview.seeds_per_caption, preview.steps, preview.guidance_scale, card.shared_noise, world.frames, render_kwargs
    )
    outputs.write_json(tree.metrics / "base.json", metrics)
    # one clip per (shape, colour) from training, directions rotating, then every held-out caption
    every = preview.seeds_per_caption
    train_rows = [(3 * i + i % 3) * every for i in range(len(texts["train"]) // (3 * every))]
    sheet = np.concatenate([clips["train"][train_rows], clips["held_out"][::every]])
    labels = [f"{texts['train'][i]} (train)" for i in train_rows] + [
        f"{t} (held out)" for t in texts["held_out"][::every]
    ]
    visuals.contact_sheet(sheet, labels, tree.plots("base") / "contact_sheet.png", title=f"{family} base model samples, frames left to right")


def preview_hub_model(tree: layout.Family, card: model_card.ModelCard, preview, mixed_precision: str) -> None:
    model = families.load_base(tree.base, precision.weight_dtype(mixed_precision)).to(distributed.processes().device)
    captions = [c.text for c in toyworld.held_out_captions()]
    clips = model.generate(
        captions, seeds.preview_seeds(len(captions)), card.frames, preview.steps, preview.guidance_scale, card.shared_noise,
        desc="preview_base (hub)", resolution=card.frame_size,
    )
    scores = [clip_metrics(clip, caption, oracle=False) for clip, caption in zip(clips, captions)]
    outputs.write_json(tree.metrics / "base.json", {
        "source": card.source,
        "commits": card.commits,
        "held_out": {
            "n_samples": len(clips),
            "warping_error": float(np.mean([s["warping_error"] for s in scores])),
            "motion": float(np.mean([s["motion"] for s in scores])),
        },
    })
    visuals.contact_sheet(clips, captions, tree.plots("base") / "contact_sheet.png", title=f"{tree.name} base model (hub) samples, frames left to right")


if __name__ == "__main__":
    precision.flush_denormals()
    family = sys.argv[1] if len(sys.argv) > 1 else ""
    with integrity.stage_errors(f"preview_base@{family}"):
        main(family)
