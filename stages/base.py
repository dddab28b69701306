"""DVC stage `base`: the base text-to-video model every alignment method starts from.

toy: pretrain the embedded AnimateDiff-architecture model on the toy world (cached by DVC, so
users pay for it once); hub: fetch SD1.5 + motion adapter at pinned revisions. Either way the
result is a diffusers pipeline folder, models/base, plus the toy preview's metrics and contact sheet.
"""

import time

import numpy as np
from dvclive import Live

from videodpo import models, outputs, pretraining, visuals
from videodpo.base_report import preview_base_model
from videodpo.config import load_config

MODEL_DIR = "models/base"
METRICS = "metrics/base.json"
CONTACT_SHEET = "plots/base/contact_sheet.png"
CURVES_DIR = "plots/base/training"


def main() -> None:
    config = load_config()
    started = time.time()
    world = config.toyworld
    if config.model.source == "hub":
        pipe = models.resolve_hub_pipeline(models.HubModel(**config.model.hub.model_dump()))
        card = models.ModelCard("hub", config.data.frames, config.data.resolution, shared_noise=0.0)
    else:
        arch = models.ToyArchitecture(
            frame_size=world.frame_size, frames=world.frames, **config.model.toy.model_dump()
        )
        schedule = pretraining.PretrainSchedule(**config.model.pretrain.model_dump())
        with Live(dir=CURVES_DIR, dvcyaml=None, save_dvc_exp=False, report=None) as live:

            def log(name: str, value: float, step: int) -> None:
                if step % 10 == 0:
                    live.step = step
                    live.log_metric(name, value)

            pipe = pretraining.pretrain_toy_pipeline(arch, schedule, log)
        card = models.ModelCard("toy", world.frames, world.frame_size, schedule.shared_noise)
    pipe.set_progress_bar_config(disable=True)
    with outputs.atomic_directory(MODEL_DIR) as staging:
        models.save_pipeline(pipe, staging)
        card.save(staging)
    train_seconds = time.time() - started
    if config.model.source == "hub":
        return

    preview = config.model.preview
    render_kwargs = dict(size=world.frame_size, frames=world.frames, radius=world.radius, speed=world.speed)
    metrics, clips, texts = preview_base_model(
        pipe, preview.seeds_per_caption, preview.steps, preview.guidance_scale, card.shared_noise, world.frames, render_kwargs
    )
    outputs.write_json(METRICS, {**metrics, "train_seconds": round(train_seconds, 1)})
    step = preview.seeds_per_caption  # one clip per caption on the sheet
    sheet = np.concatenate([clips["train"][::step][::3], clips["held_out"][::step]])
    labels = [f"{t} (train)" for t in texts["train"][::step][::3]] + [f"{t} (held out)" for t in texts["held_out"][::step]]
    visuals.contact_sheet(sheet, labels, CONTACT_SHEET, title="base model samples, frames left to right")


if __name__ == "__main__":
    main()
