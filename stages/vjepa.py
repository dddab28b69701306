"""DVC stage `vjepa@<family>`: the V-JEPA 2 scorer of vader's `vjepa` reward on the family's clips,
and the check that it can be used.

Embedded default: a tiny V-JEPA 2 trained self-supervised on ground-truth toy clips of the training
captions (as many frames as the family's clips, in whole tubelets), saved to models/<family>/vjepa.
Hub tiers: the published weights at their revision, named in models/<family>/vjepa/source.json
(nothing is copied). Either way it scores the family base's dev-split samples and the same samples
made jittery (jitter.amplified_flicker), and on the embedded default held-out ground truth too, into
metrics/<family>/vjepa.json: a scorer a reward can lean on ranks ground truth above base samples
above jittered ones (lower masked-prediction loss = steadier).
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from videodpo import toyworld
from videodpo.config import load_config
from videodpo.core import integrity, layout, outputs
from videodpo.core.clips import clips_to_tensor
from videodpo.pairs import jitter
from videodpo.rewards import vjepa

JITTER_STRENGTH = 1.0  # amplified_flicker at 1 doubles each frame's brightness deviations
SCORED_SPLIT = "dev"  # this report chooses nothing, but test stays unread


def main(family: str) -> None:
    started = time.perf_counter()
    config = load_config(family=family)
    tree = layout.Family(family)
    settings, world = config.reward_models.vjepa, config.toyworld
    samples = integrity.read_tensors(
        tree.samples(SCORED_SPLIT, "base") / "clips.safetensors", tree.stage("sample_base", SCORED_SPLIT), ("clips",), numpy=True
    )
    base = samples["clips"]
    jittered = np.stack([jitter.amplified_flicker(clip, JITTER_STRENGTH, np.random.default_rng(i)) for i, clip in enumerate(base)])
    report: dict = {}
    if config.model.source == "toy":
        render = dict(size=world.frame_size, frames=world.frames, radius=world.radius, speed=world.speed)
        training_clips, _ = toyworld.render_dataset(toyworld.train_captions(), settings.clips_per_caption, settings.seed, **render)
        per_caption = max(len(base) // len(toyworld.held_out_captions()), 1)
        ground_truth, _ = toyworld.render_dataset(toyworld.held_out_captions(), per_caption, settings.seed + 1, **render)
        torch.manual_seed(settings.seed)  # the initial weights
        model = vjepa.build_tiny_vjepa(world.frames - world.frames % vjepa.TinyVjepa().tubelet_size, world.frame_size)
        training = vjepa.VjepaTraining(settings.steps, settings.batch_clips, settings.learning_rate, settings.ema, settings.seed)
        losses = vjepa.train_vjepa(model, clips_to_tensor(training_clips[:, : model.config.frames_per_clip]), training)
        with outputs.atomic_directory(tree.vjepa) as staging:
            model.save_pretrained(staging, safe_serialization=True)
        report["scorer"] = "tiny V-JEPA 2 trained here"
        report["training"] = {"clips": len(training_clips), "steps": settings.steps, "first_loss": losses[0], "last_loss": float(np.mean(losses[-10:]))}
    else:
        model = vjepa.load_vjepa(settings.hub, settings.revision)
        with outputs.atomic_directory(tree.vjepa) as staging:
            (Path(staging) / vjepa.HUB_SOURCE).write_text(json.dumps({"hub": settings.hub, "revision": settings.revision}) + "\n")
        ground_truth = None
        report["scorer"] = f"{settings.hub}@{settings.revision}"
    scores = {"base": vjepa.clip_scores(model, base), "jittered": vjepa.clip_scores(model, jittered)}
    if ground_truth is not None:
        scores["ground_truth"] = vjepa.clip_scores(model, ground_truth)
    report["loss"] = {name: float(values.mean()) for name, values in scores.items()}
    report["n"] = {name: len(values) for name, values in scores.items()}
    # the same clip before and after jitter: the share the scorer ranks the right way round
    report["jittered_scored_worse_than_its_clip"] = float((scores["jittered"] > scores["base"]).mean())
    ranking = [name for name in ("ground_truth", "base", "jittered") if name in scores]
    report["ranks_in_order"] = bool(all(scores[a].mean() < scores[b].mean() for a, b in zip(ranking, ranking[1:])))
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    outputs.write_json(tree.metrics / "vjepa.json", report)
    print(f"{tree.stage('vjepa')}: loss {', '.join(f'{k} {v:.4f}' for k, v in report['loss'].items())}; in order: {report['ranks_in_order']}")


if __name__ == "__main__":
    family = sys.argv[1] if len(sys.argv) > 1 else ""
    with integrity.stage_errors(f"vjepa@{family}"):
        main(family)
