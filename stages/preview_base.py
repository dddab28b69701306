"""DVC stage `preview_base`: how well the toy base model follows its captions, and how much it flickers.

Samples every train and held-out caption, scores them with the toy-world oracle, compares frame
difference, warping error and motion with ground truth, and draws a contact sheet.
"""

import numpy as np

from videodpo import models, outputs, visuals
from videodpo.base_report import preview_base_model
from videodpo.config import load_config

MODEL_DIR = "models/base"
METRICS = "metrics/base.json"
CONTACT_SHEET = "plots/base/contact_sheet.png"


def main() -> None:
    config = load_config()
    card = models.ModelCard.load(MODEL_DIR)
    if card.source != "toy":
        raise SystemExit("preview_base scores toy-world captions: it applies to model.source toy only")
    world, preview = config.toyworld, config.model.preview
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


if __name__ == "__main__":
    main()
