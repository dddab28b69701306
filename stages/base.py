"""DVC stage `base`: the base text-to-video model every alignment method starts from.

toy: pretrain the embedded AnimateDiff-architecture model on the toy world (cached by DVC, so
users pay for it once); hub: fetch SD1.5 + motion adapter at pinned revisions. Either way the
result is a diffusers pipeline folder, models/base, with a model card saying how to sample it
(and, for the hub, the commit each repository was loaded at).
"""

import time
import warnings
from pathlib import Path

from dvclive import Live

from videodpo import models, outputs
from videodpo.families.animatediff import hub as animatediff_hub
from videodpo.families.animatediff import pretraining, toy
from videodpo.config import load_config

MODEL_DIR = "models/base"
CURVES_DIR = "plots/base/training"


def main() -> None:
    config = load_config()
    started = time.time()
    if config.model.source == "hub":
        hub = animatediff_hub.HubModel(**config.model.hub.model_dump())
        model = animatediff_hub.load_hub_model(hub)
        commits = animatediff_hub.hub_commits(hub)
        for repo, revision in ((hub.base, hub.revision), (hub.motion_adapter, hub.motion_adapter_revision)):
            if not animatediff_hub.is_commit(revision) and not Path(repo).is_dir():
                warnings.warn(
                    f"model.hub: {repo} at {revision!r} is a branch or tag, so a later run may load other weights "
                    f"(loaded now: commit {commits[repo]}); pin commits with `python scripts/pin_hub_revisions.py`",
                    stacklevel=1,
                )
        card = models.ModelCard("hub", config.data.frames, config.data.resolution, shared_noise=0.0, commits=commits)
        with Live(dir=CURVES_DIR, dvcyaml=None, save_dvc_exp=False, report=None) as live:  # the stage's declared metrics: nothing trained
            live.summary["source"] = "hub"
            live.summary["load_minutes"] = round((time.time() - started) / 60, 1)
        (Path(CURVES_DIR) / "plots/metrics").mkdir(parents=True, exist_ok=True)  # no curves: an empty folder
    else:
        world = config.toyworld
        arch = toy.ToyArchitecture(frame_size=world.frame_size, frames=world.frames, **config.model.toy.model_dump())
        schedule = pretraining.PretrainSchedule(**config.model.pretrain.model_dump())
        with Live(dir=CURVES_DIR, dvcyaml=None, save_dvc_exp=False, report=None) as live:

            def log(name: str, value: float, step: int) -> None:
                if step % 10 == 0:
                    live.step = step
                    live.log_metric(name, value)

            clock = pretraining.PhaseClock()
            model = pretraining.pretrain_toy_model(arch, schedule, log, clock)
            live.summary["pretrain_minutes"] = round((time.time() - started) / 60, 1)
            live.summary["phase_minutes"] = clock.minutes_per_phase()
        card = models.ModelCard("toy", world.frames, world.frame_size, schedule.shared_noise)
    with outputs.atomic_directory(MODEL_DIR) as staging:
        model.save(staging)
        card.save(staging)


if __name__ == "__main__":
    main()
