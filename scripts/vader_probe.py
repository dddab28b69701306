"""Try one VADER setting quickly: train a LoRA on models/animatediff/base with train_vader_lora, then compare the
policy with the base on held-out samples (same prompts, seeds and noise). What docs/vader.md's
tables were measured with; each run prints one RESULT line of relative changes in %.

    PYTHONPATH=src python scripts/vader_probe.py steps=40 lr=2e-2 schedule=cosine \\
        rewards='{"brightness":1,"temporal":1}' guard='{"contrast":20,"colour":1,"layout":1,"motion":1}'

Settings (key=value): steps, batch (clips per step), lr, schedule (constant|cosine), rank, queries,
nsteps (training DDIM steps), backprop (last|random|all), k, window (decoded frames, 0 = all),
targets (motion|motion_and_spatial), rewards and guard (JSON), seed (LoRA init and the loop's draws),
n (evaluation samples), base (folder), vjepa_dir (the vjepa reward's scorer, models/vjepa) and clip
(the clip_text reward's model).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from videodpo import families, toyworld
from videodpo.evaluation.comparison import clip_metrics
from videodpo.rewards import registry as rewards
from videodpo.training import vader

DEFAULT_GUARD = {"contrast": 20.0, "colour": 1.0, "layout": 1.0}


def main(args: list[str]) -> None:
    given = dict(a.split("=", 1) for a in args)

    def get(key, default):
        if key not in given:
            return default
        return json.loads(given[key]) if isinstance(default, dict) else type(default)(given[key])

    sampling = vader.VaderSampling(
        frames=8, num_inference_steps=get("nsteps", 10), guidance_scale=4.0, shared_noise=0.5,
        backprop=get("backprop", "all"), backprop_steps=get("k", 1), decode_frames=get("window", 0),
    )
    model = families.load_base(get("base", "models/animatediff/base"))
    captions = [c.text for c in toyworld.train_captions()]
    count = get("queries", 64)
    prompts = [captions[i % len(captions)] for i in range(count)]
    seeds = [900_000 + i for i in range(count)]  # disjoint from the evaluation seeds below
    references = torch.cat([vader.reference_clips(model, prompts[i : i + 16], seeds[i : i + 16], sampling) for i in range(0, count, 16)])
    unconditional, conditional = model.guidance_embeddings(prompts)
    queries = vader.VaderQueries(seeds, prompts, unconditional, conditional, references)
    torch.manual_seed(get("seed", 0))  # the LoRA's initial weights
    rank = get("rank", 4)
    model.add_lora(rank, rank, targets=get("targets", "motion_and_spatial"))
    objective = vader.VaderObjective(get("rewards", {"brightness": 1.0, "temporal": 1.0}), get("guard", DEFAULT_GUARD))
    loop = vader.VaderLoop(
        get("steps", 40), get("batch", 2), get("lr", 2e-2), mixed_precision="fp32", seed=get("seed", 0), checkpoint_every=get("steps", 40),
        val_every=0, lr_schedule=get("schedule", "cosine"),
    )
    log = lambda values, step: print("STEP", step, " ".join(f"{k}={v:.3g}" for k, v in values.items()), flush=True)
    scorers = rewards.load_scorers(objective.rewards, Path(get("vjepa_dir", "models/vjepa")), get("clip", "openai/clip-vit-base-patch32"), "main")
    run = vader.train_vader_lora(model, queries, sampling, objective, loop, log=log, scorers=scorers)

    held_out = [c.text for c in toyworld.held_out_captions()]
    prompts = (held_out * 8)[: get("n", 48)]
    seeds = [700_000 + i for i in range(len(prompts))]
    with torch.no_grad():
        after = model.generate(prompts, seeds, 8, 20, 4.0, 0.5, batch_size=12, desc="policy")
        with model.adapters_disabled(model.denoiser):
            before = model.generate(prompts, seeds, 8, 20, 4.0, 0.5, batch_size=12, desc="base")

    keys = ("warping_error", "frame_difference", "warping_error_seed", "motion", "travel", "contrast", "saturation")

    def measures(clips):
        rows = [clip_metrics(clip, prompt, oracle=True) for clip, prompt in zip(clips, prompts)]
        return {key: [row[key] for row in rows] for key in keys}

    policy, base = measures(after), measures(before)
    change = {k: round(100 * (np.mean(policy[k]) / np.mean(base[k]) - 1), 1) for k in keys}
    adherence = {"base": toyworld.adherence(before, prompts), "policy": toyworld.adherence(after, prompts)}
    print("RESULT", json.dumps({"settings": given, "train_minutes": round(run.train_seconds / 60, 2), "change_percent": change,
                                "adherence": adherence}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
