"""Benchmark: peak memory of DPO training with the reference as the LoRA switched off (toggle)
vs a frozen copy of the UNet, everything else fixed (same model, precision, batch, checkpointing).

    PYTHONPATH=src python benchmarks/reference_memory.py                      # toy size
    PYTHONPATH=src python benchmarks/reference_memory.py --size sd15 --tier t4 --pairs 1
    PYTHONPATH=src python benchmarks/reference_memory.py --size sd15 --tier a100 --pairs 1

--size sd15 builds SD1.5's UNet + the v1-5-2 motion adapter from their published configurations
with random weights (see bench_setup.py), at the tier's clip size and precision, with gradient
checkpointing as the tiers use it. Each form runs in its own fresh process, which loads the UNet
from one saved copy (so building it leaves no transient in the peak). The figure is the process's
whole peak: torch.cuda.max_memory_allocated on a GPU; on a CPU the peak resident memory
(ru_maxrss, which also counts the interpreter and allocator slack, so read it as approximate). On a
CPU, half precision is slow or missing for many kernels, so the CPU runs keep fp32 and say so.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import torch
from bench_setup import SHAPES, build_unet, device_here, fixed_batch, peak_bytes
from diffusers import UNetMotionModel

from videodpo.core import precision
from videodpo.families.animatediff import AnimateDiff, add_lora, toy
from videodpo.training.dpo import dpo_step

FORMS = ("toggle", "frozen_copy")



def measure(form: str, saved_unet: Path, tier: str, pairs: int, steps: int, checkpointing: bool) -> dict:
    device = device_here()
    shape = SHAPES[tier]
    dtype = precision.weight_dtype(shape.precision) if device.type == "cuda" else torch.float32
    baseline = peak_bytes(device)
    unet = UNetMotionModel.from_pretrained(saved_unet, torch_dtype=dtype, use_safetensors=True, local_files_only=True).to(device)
    reference = copy.deepcopy(unet).requires_grad_(False) if form == "frozen_copy" else None
    add_lora(unet, rank=4, alpha=4)
    precision.trainable_in_fp32(unet)
    if checkpointing:
        unet.enable_gradient_checkpointing()
    optimiser = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=1e-4)
    batch = fixed_batch(shape, pairs, device, dtype)
    model = AnimateDiff(SimpleNamespace(unet=unet, scheduler=toy.build_toy_scheduler()))  # what a DPO step reads of the model
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = dpo_step(model, unet, reference, batch, 2500.0).terms.loss
        loss.backward()
        optimiser.step()
    return {"form": form, "device": str(device), "precision": str(dtype).removeprefix("torch."), "peak_bytes": peak_bytes(device),
            "baseline_bytes": baseline, "unet_parameters": sum(p.numel() for p in unet.parameters() if not p.requires_grad)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("toy", "sd15"), default="toy")
    parser.add_argument("--tier", choices=("t4", "a100"), default="t4", help="clip size and precision for --size sd15")
    parser.add_argument("--pairs", type=int, default=4, help="preference pairs per step")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--no-checkpointing", action="store_true")
    parser.add_argument("--out", help="default: benchmarks/results/reference_memory_<size>[_<tier>].json")
    parser.add_argument("--form", choices=FORMS, help=argparse.SUPPRESS)  # one measurement, in a child process
    parser.add_argument("--saved", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tier = "toy" if args.size == "toy" else args.tier
    checkpointing = args.size == "sd15" and not args.no_checkpointing
    if args.form:
        print(json.dumps(measure(args.form, Path(args.saved), tier, args.pairs, args.steps, checkpointing)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        build_unet(args.size).save_pretrained(folder)  # once; each child loads it without a second copy
        for form in FORMS:
            done = subprocess.run(
                [sys.executable, __file__, "--form", form, "--saved", folder, "--size", args.size, "--tier", args.tier,
                 "--pairs", str(args.pairs), "--steps", str(args.steps)] + (["--no-checkpointing"] if args.no_checkpointing else []),
                capture_output=True, text=True,
            )
            if done.returncode != 0:
                raise SystemExit(f"{form} failed:\n{done.stderr[-3000:]}")
            results[form] = json.loads(done.stdout.strip().splitlines()[-1])
    device = results["toggle"]["device"]
    shape = SHAPES[tier]
    summary = {
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "measure": "torch.cuda.max_memory_allocated" if device.startswith("cuda") else "peak resident memory, ru_maxrss (approximate)",
        "model": "toy UNetMotionModel (embedded default)" if args.size == "toy" else "SD1.5 UNet + AnimateDiff v1-5-2 motion adapter (published configs, random weights)",
        "frozen_parameters": results["toggle"]["unet_parameters"],
        "tier_shape": tier,
        "frames": shape.frames,
        "latent_size": shape.latent_size,
        "precision": results["toggle"]["precision"],
        "gradient_checkpointing": checkpointing,
        "pairs_per_step": args.pairs,
        "lora_rank": 4,
        "peak_mib": {form: results[form]["peak_bytes"] / 2**20 for form in FORMS},
        "process_baseline_mib": results["toggle"]["baseline_bytes"] / 2**20,
    }
    summary["toggle_over_frozen_copy"] = results["toggle"]["peak_bytes"] / results["frozen_copy"]["peak_bytes"]
    out = Path(args.out or f"benchmarks/results/reference_memory_{args.size}{'' if args.size == 'toy' else '_' + tier}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"device: {device}; {summary['measure']}; {summary['model']}, {shape.frames} frames of {shape.latent_size}² latents, "
          f"{summary['precision']}, checkpointing {checkpointing}, {args.pairs} pair(s) per step")
    for form in FORMS:
        print(f"{form:12s} {summary['peak_mib'][form]:9.1f} MiB")
    print(f"toggle / frozen copy: {summary['toggle_over_frozen_copy']:.2f}×  → {out}")


if __name__ == "__main__":
    main()
