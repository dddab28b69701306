"""DVC stage `preview_base`: how well the toy base model follows its captions, and how much it flickers.

Samples every train and held-out caption, scores them with the toy-world oracle, compares frame
difference, warping error and motion with ground truth, and draws a contact sheet. A hub model has
no oracle: it gets the contact sheet of the held-out captions and their flicker and motion only.
"""

import numpy as np

from videodpo import models, outputs, temporal, toyworld, visuals
from videodpo.base_report import preview_base_model
from videodpo.config import load_config
from videodpo.sampling import generate_clips

MODEL_DIR = "models/base"
METRICS = "metrics/base.json"
CONTACT_SHEET = "plots/base/contact_sheet.png"


def main() -> None:
    config = load_config()
    card = models.ModelCard.load(MODEL_DIR)
    world, preview = config.toyworld, config.model.preview
    if card.source != "toy":
        preview_hub_model(card, preview)
        return
    pipe = models.load_pipeline(MODEL_DIR)
    render_kwargs = dict(size=world.frame_size, frames=world.frames, radius=world.radius, speed=world.speed)
    metrics, clips, texts = preview_base_model(
        pipe, preview.seeds_per_caption, preview.steps, preview.guidance_scale, card.shared_noise, world.frames, render_kwargs
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


def preview_hub_model(card: models.ModelCard, preview) -> None:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    pipe = models.load_pipeline(MODEL_DIR, torch.float16 if device == "cuda" else torch.float32).to(device)
    captions = [c.text for c in toyworld.held_out_captions()]
    clips = generate_clips(
        pipe, captions, list(range(len(captions))), card.frames, preview.steps, preview.guidance_scale, card.shared_noise,
        desc="preview_base (hub)", resolution=card.frame_size,
    )
    outputs.write_json(METRICS, {
        "source": card.source,
        "commits": card.commits,
        "held_out": {
            "n_samples": len(clips),
            "warping_error": float(np.mean([temporal.warping_error(c) for c in clips])),
            "motion": float(np.mean([temporal.motion_magnitude(c) for c in clips])),
        },
    })
    visuals.contact_sheet(clips, captions, CONTACT_SHEET, title="base model (hub) samples, frames left to right")


if __name__ == "__main__":
    main()
