"""DVC stage `base@<family>`: the base text-to-video model of one model family, which every
alignment method of that family starts from.

toy: pretrain the family's embedded model on the toy world (cached by DVC, so users pay for it
once); hub: fetch the family's published weights at pinned revisions. Either way the result is a
diffusers pipeline folder, models/<family>/base, with a model card saying how to sample it (and,
for the hub, the commit each repository was loaded at); the pretraining curves go to
plots/<family>/base/training.
"""

import sys
import time

from dvclive import Live

from videodpo import families
from videodpo.config import load_config
from videodpo.core import integrity, layout, outputs, precision
from videodpo.families.pretraining import PhaseClock


def main(family: str) -> None:
    config = load_config(family=family)
    tree = layout.Family(family)
    curves = tree.plots("base") / "training"
    started = time.time()
    with Live(dir=str(curves), dvcyaml=None, save_dvc_exp=False, report=None) as live:

        def log(name: str, value: float, step: int) -> None:
            if step % 10 == 0:
                live.step = step
                live.log_metric(name, value)

        clock = PhaseClock()
        model, card, summary = families.make_base(family, config, log, clock)
        live.summary["source"] = card.source
        live.summary.update(summary)
        if card.source == "toy":
            live.summary["pretrain_minutes"] = round((time.time() - started) / 60, 1)
            live.summary["phase_minutes"] = clock.minutes_per_phase()
        else:
            live.summary["load_minutes"] = round((time.time() - started) / 60, 1)
    (curves / "plots/metrics").mkdir(parents=True, exist_ok=True)  # a hub model logs no curves: an empty folder
    with outputs.atomic_directory(tree.base) as staging:
        model.save(staging)
        card.save(staging)


if __name__ == "__main__":
    precision.flush_denormals()
    family = sys.argv[1] if len(sys.argv) > 1 else ""
    with integrity.stage_errors(f"base@{family}"):
        main(family)
