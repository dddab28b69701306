"""DVC stage `preview_base`: how well the toy base model follows its captions, and how much it flickers.

Samples every train and held-out caption, scores them with the toy-world oracle, compares frame
difference, warping error and motion with ground truth, and draws a contact sheet. A hub model has
no oracle: it gets the contact sheet of the held-out captions and their flicker and motion only.
"""

import numpy as np

from videodpo import distributed, families, integrity, models, outputs, precision, seeds, toyworld, visuals
from videodpo.base_report import preview_base_model
from videodpo.config import load_config
from videodpo.evaluation import clip_metrics

MODEL_DIR = "models/base"
METRICS = "metrics/base.json"
CONTACT_SHEET = "plots/base/contact_sheet.png"


def main() -> None:
    config = load_config()
    card = models.ModelCard.load(MODEL_DIR)
    world, preview = config.toyworld, config.model.preview
    if card.source != "toy":
        preview_hub_model(card, preview, config.training.mixed_precision)
        return
    model = families.load_base(MODEL_DIR)
    render_kwargs = dict(size=world.frame_size, frames=world.frames, radius=world.radius, speed=world.speed)
    metrics, clips, texts = preview_base_model(
        model, preview.seeds_per_caption, preview.steps, preview.guidance_scale, card.shared_noise, world.frames, render_kwargs
    )
    outputs.write_json(METRICS, metrics)
    # one clip per (shape, colour) from training, directions rotating, then every held-out caption
    every = preview.seeds_per_caption
    train_rows = [(3 * i + i % 3) * every for i in range(len(texts["train"]) // (3 * every))]
    sheet = np.concatenate([clips["train"][train_rows], clips["held_out"][::every]])
    labels = [f"{texts['train'][i]} (train)" for i in train_rows] + [
        f"{t} (held out)" for t in texts["held_out"][::every]
    ]
    visuals.contact_sheet(sheet, labels, CONTACT_SHEET, title="base model samples, frames left to right")


def preview_hub_model(card: models.ModelCard, preview, mixed_precision: str) -> None:
    model = families.load_base(MODEL_DIR, precision.weight_dtype(mixed_precision)).to(distributed.processes().device)
    captions = [c.text for c in toyworld.held_out_captions()]
    clips = model.generate(
        captions, seeds.preview_seeds(len(captions)), card.frames, preview.steps, preview.guidance_scale, card.shared_noise,
        desc="preview_base (hub)", resolution=card.frame_size,
    )
    scores = [clip_metrics(clip, caption, oracle=False) for clip, caption in zip(clips, captions)]
    outputs.write_json(METRICS, {
        "source": card.source,
        "commits": card.commits,
        "held_out": {
            "n_samples": len(clips),
            "warping_error": float(np.mean([s["warping_error"] for s in scores])),
            "motion": float(np.mean([s["motion"] for s in scores])),
        },
    })
    visuals.contact_sheet(clips, captions, CONTACT_SHEET, title="base model (hub) samples, frames left to right")


if __name__ == "__main__":
    with integrity.stage_errors("preview_base"):
        main()
