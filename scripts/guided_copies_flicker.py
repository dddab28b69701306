"""How much DenseDPO's guided copies flicker, and how they differ: prints figures, changes nothing.

    PYTHONPATH=src python scripts/guided_copies_flicker.py [--clips 24] [--settings 0.6:model 0.6:0 0.75:0 0.9:model]

Each setting is η:share, share being the copies' noise common to all frames (`model`: the base's
own, as `dense_dpo.copy_shared_noise: null`). For toy-world ground truths of the training captions,
two copies per clip as make_pairs@dense_dpo makes them (params `sample`: steps, guidance). Printed per
setting: warping error of each copy, brightness jitter (mean |Δ| of per-frame mean brightness, 0-255),
motion, and how far the two copies of one ground truth differ per transition in warping error and
in motion. The base's own samples of the evaluation captions are the yardstick
(the dev split's, `results/animatediff/samples/dev/base`).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from safetensors.numpy import load_file

from videodpo import families, toyworld
from videodpo.config import load_config
from videodpo.core import model_card
from videodpo.evaluation import temporal
from videodpo.pairs import guided


def brightness_jitter(clip: np.ndarray) -> float:
    means = clip.astype(np.float64).mean(axis=(1, 2, 3))
    return float(np.abs(np.diff(means)).mean())


def describe(clips: np.ndarray) -> str:
    we = np.mean([temporal.warping_error(c) for c in clips])
    jitter = np.mean([brightness_jitter(c) for c in clips])
    motion = np.mean([temporal.motion_magnitude(c) for c in clips])
    return f"warping error {we:.2f}, brightness jitter {jitter:.2f}, motion {motion:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--settings", nargs="+", default=["0.6:model", "0.6:0", "0.75:0", "0.9:model"])
    args = parser.parse_args()
    config = load_config(family="animatediff")
    card, world, sampler = model_card.ModelCard.load("models/animatediff/base"), config.toyworld, config.sample
    model = families.load_base("models/animatediff/base", torch.float32)
    captions = toyworld.train_captions()
    picked = captions[:: max(1, len(captions) // args.clips)][: args.clips]
    truth = guided.toy_ground_truth(
        picked, len(picked), list(range(1000, 1000 + len(picked))), card.frames, card.frame_size, world.radius, world.speed
    )
    print(f"ground truth ({len(picked)} clips): {describe(truth.clips)}")
    print(f"base samples (results/animatediff/samples/dev/base): {describe(load_file('results/animatediff/samples/dev/base/clips.safetensors')['clips'])}")
    for setting in args.settings:
        eta_text, share_text = setting.split(":")
        share = card.shared_noise if share_text == "model" else float(share_text)
        copies = [
            guided.corrupted_copies(
                model, truth.clips, truth.captions, [7 * i + which for i in range(len(picked))], float(eta_text),
                sampler.num_inference_steps, sampler.guidance_scale, share,
                desc=f"η {eta_text}, share {share}: copies {'ab'[which - 1]}",
            )
            for which in (1, 2)
        ]
        transition_gap = np.mean([
            np.nanmean(np.abs(np.array(temporal.transition_warping_errors(a), float) - np.array(temporal.transition_warping_errors(b), float)))
            for a, b in zip(*copies)
        ])
        motion_gap = np.mean([abs(temporal.motion_magnitude(a) - temporal.motion_magnitude(b)) for a, b in zip(*copies)])
        print(f"η {eta_text}, shared noise {share}:")
        for which, clips in zip("ab", copies):
            print(f"  copies {which}: {describe(clips)}")
        print(f"  a vs b: |Δ warping error| per transition {transition_gap:.2f}, |Δ motion| {motion_gap:.2f}")


if __name__ == "__main__":
    main()
