"""Benchmark: peak memory of DPO training with the reference as the LoRA switched off (toggle)
vs a frozen copy of the UNet, everything else fixed (same model, precision, batch, checkpointing).

    PYTHONPATH=src python benchmarks/reference_memory.py [--steps 3] [--batch 4] [--out benchmarks/results/reference_memory.json]

Each form runs in its own fresh process, so one cannot inherit the other's peak. On a GPU the
figure is torch.cuda.max_memory_allocated; on a CPU it is the growth of the process's peak
resident memory from just before the reference is made (ru_maxrss), which also counts allocator
slack, so read CPU figures as approximate. At the toy size the UNet is small next to its
activations, so the two forms differ little there; the frozen copy matters at SD1.5 size.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
from pathlib import Path

import torch
from toy_setup import toy_unet_and_batch

from videodpo import models
from videodpo.training import dpo_step

FORMS = ("toggle", "frozen_copy")


def peak_bytes_now(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def measure(form: str, steps: int, batch_size: int) -> dict:
    device, unet, scheduler, batch = toy_unet_and_batch(batch_size)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    before = peak_bytes_now(device)
    reference = copy.deepcopy(unet).requires_grad_(False) if form == "frozen_copy" else None
    models.add_motion_lora(unet, rank=4, alpha=4)
    optimiser = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=1e-4)
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        dpo_step(unet, reference, scheduler, batch, 2500.0).terms.loss.backward()
        optimiser.step()
    return {"form": form, "device": str(device), "peak_bytes": peak_bytes_now(device) - before,
            "unet_parameters": sum(p.numel() for p in unet.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--out", default="benchmarks/results/reference_memory.json")
    parser.add_argument("--form", choices=FORMS, help=argparse.SUPPRESS)  # one measurement, in a child process
    args = parser.parse_args()
    if args.form:
        print(json.dumps(measure(args.form, args.steps, args.batch)))
        return
    results = {}
    for form in FORMS:
        done = subprocess.run(
            [sys.executable, __file__, "--form", form, "--steps", str(args.steps), "--batch", str(args.batch)],
            capture_output=True, text=True, check=True,
        )
        results[form] = json.loads(done.stdout.strip().splitlines()[-1])
    device = results["toggle"]["device"]
    summary = {
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "measure": "torch.cuda.max_memory_allocated" if device.startswith("cuda") else "growth of ru_maxrss (approximate)",
        "model": "toy UNetMotionModel (embedded default), LoRA rank 4 on motion attention, fp32",
        "pairs_per_step": args.batch,
        "peak_mib": {form: results[form]["peak_bytes"] / 2**20 for form in FORMS},
    }
    summary["toggle_over_frozen_copy"] = results["toggle"]["peak_bytes"] / max(results["frozen_copy"]["peak_bytes"], 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"device: {device}; {summary['measure']}")
    for form in FORMS:
        print(f"{form:12s} {summary['peak_mib'][form]:8.1f} MiB")
    print(f"toggle / frozen copy: {summary['toggle_over_frozen_copy']:.2f}×  → {out}")


if __name__ == "__main__":
    main()
