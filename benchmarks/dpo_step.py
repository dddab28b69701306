"""Benchmark: one Diffusion-DPO training step, batched vs the naive four-pass form.

    PYTHONPATH=src python benchmarks/dpo_step.py [--steps 30] [--batch 4] [--out benchmarks/results/dpo_step.json]

batched: winner and loser in ONE policy forward (and one reference forward with the LoRA off),
         as videodpo.training.dpo.dpo_step does;
naive:   four forwards, policy(winner), policy(loser), reference(winner), reference(loser).
Both run the same model, inputs and loss in the same process, interleaved step by step so that
drift in machine load hits both alike. Prints a table and writes JSON with the device info.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from bench_setup import device_info, toy_unet_and_batch

from videodpo.families.animatediff import AnimateDiff, add_lora
from videodpo.training.dpo import DPOBatch, dpo_step
from videodpo.training.objectives import clip_dpo_loss, per_sample_mse


def naive_step(model, unet, batch: DPOBatch, beta: float):
    """The same loss from four separate forwards."""

    def error(latents):
        noisy, target = model.training_draw(latents, batch.noise, batch.timesteps)
        return per_sample_mse(model.predict(unet, noisy, batch.timesteps, batch.text), target)

    with torch.no_grad(), model.adapters_disabled(unet):
        reference_winner, reference_loser = error(batch.winners), error(batch.losers)
    return clip_dpo_loss(error(batch.winners), error(batch.losers), reference_winner, reference_loser, beta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per form (after 3 warm-up steps)")
    parser.add_argument("--batch", type=int, default=4, help="pairs per step")
    parser.add_argument("--out", default="benchmarks/results/dpo_step.json")
    args = parser.parse_args()
    device, unet, scheduler, batch = toy_unet_and_batch(args.batch)
    add_lora(unet, rank=4, alpha=4)
    model = AnimateDiff(SimpleNamespace(unet=unet, scheduler=scheduler))  # what a DPO step reads of the model: its UNet and schedule
    optimiser = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=1e-4)

    forms = {
        "batched": lambda: dpo_step(model, unet, None, batch, 2500.0).terms.loss,
        "naive": lambda: naive_step(model, unet, batch, 2500.0).loss,
    }
    with torch.no_grad():
        losses = {name: form().item() for name, form in forms.items()}
    seconds = {name: [] for name in forms}
    for step in range(args.steps + 3):
        for name, form in forms.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            optimiser.zero_grad(set_to_none=True)
            form().backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if step >= 3:
                seconds[name].append(time.perf_counter() - start)
    result = {
        **device_info(device),
        "model": "toy UNetMotionModel (embedded default), LoRA rank 4 on motion attention",
        "pairs_per_step": args.batch,
        "timed_steps": args.steps,
        "same_loss": abs(losses["batched"] - losses["naive"]) < 1e-4 * max(1.0, abs(losses["naive"])),
        "steps_per_second": {name: len(s) / sum(s) for name, s in seconds.items()},
    }
    result["batched_over_naive"] = result["steps_per_second"]["batched"] / result["steps_per_second"]["naive"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"device: {result['device']} ({result.get('gpu', result['cpu'])}), {result['threads']} threads")
    print(f"same loss from both forms: {result['same_loss']}")
    for name, rate in result["steps_per_second"].items():
        print(f"{name:8s} {rate:7.2f} steps/s")
    print(f"batched / naive: {result['batched_over_naive']:.2f}×  → {out}")


if __name__ == "__main__":
    main()
