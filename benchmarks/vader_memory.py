"""Benchmark: peak memory of one VADER training step (sample with DDIM, decode, reward, backward)
by what the gradient keeps: K = 1 (`backprop: last`, backprop_steps 1) vs K = all, every frame
decoded vs a window of consecutive frames (`decode_frames`), the UNet's gradient checkpointing on vs
off (as train@vader sets it from the tier). Everything else is fixed: model, precision, clips per step, sampling steps,
the reward (temporal + brightness) and the appearance guard.

    PYTHONPATH=src python benchmarks/vader_memory.py                         # toy size, ~1 min
    PYTHONPATH=src python benchmarks/vader_memory.py --size sd15 --tier t4   # GPU: minutes; CPU: long

--size sd15 builds SD1.5's UNet + the v1-5-2 motion adapter and SD1.5's VAE from their published
configurations with random weights (bench_setup.py), at the tier's clip size and precision. Each
setting runs in its own fresh process that loads the models from one saved copy. The figure is the
process's peak: torch.cuda.max_memory_allocated on a GPU; on a CPU the peak resident memory
(ru_maxrss, which also counts the interpreter and allocator slack: read it as approximate), in fp32.
A setting that runs out of memory is recorded as such.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from bench_setup import SHAPES, build_unet, build_vae, device_here, device_info, peak_bytes
from diffusers import AutoencoderKL, UNetMotionModel

from videodpo.core import precision
from videodpo.families.animatediff import AnimateDiff, add_lora, toy
from videodpo.training import vader

# (backprop, decode window, checkpointing) settings, named for the table
SETTINGS = {
    f"K={k} {window} ckpt={'on' if ckpt else 'off'}": (k, window, ckpt)
    for k, window, ckpt in itertools.product(("1", "all"), ("all frames", "window"), (False, True))
}



def measure(name: str, saved: Path, tier: str, clips: int, steps: int, window_frames: int) -> dict:
    backprop, window, checkpointing = SETTINGS[name]
    device = device_here()
    shape = SHAPES[tier]
    dtype = precision.weight_dtype(shape.precision) if device.type == "cuda" else torch.float32
    baseline = peak_bytes(device)
    unet = UNetMotionModel.from_pretrained(saved / "unet", torch_dtype=dtype, use_safetensors=True, local_files_only=True).to(device)
    unet.register_to_config(sample_size=shape.latent_size)
    vae = AutoencoderKL.from_pretrained(saved / "vae", torch_dtype=dtype, use_safetensors=True, local_files_only=True).to(device).requires_grad_(False)
    add_lora(unet, rank=4, alpha=4, targets="motion_and_spatial")
    precision.trainable_in_fp32(unet)
    if checkpointing:
        unet.enable_gradient_checkpointing()
    model = AnimateDiff(SimpleNamespace(unet=unet, vae=vae, scheduler=toy.build_toy_scheduler(), vae_scale_factor=2 ** (len(vae.config.block_out_channels) - 1)))
    sampling = vader.VaderSampling(
        shape.frames, steps, guidance_scale=4.0, shared_noise=0.5, backprop="all" if backprop == "all" else "last",
        backprop_steps=1, decode_frames=window_frames if window == "window" else 0,
    )
    objective = vader.VaderObjective({"temporal": 1.0, "brightness": 1.0}, {"contrast": 20.0, "colour": 1.0, "layout": 1.0})
    generator = torch.Generator().manual_seed(0)
    text = (clips, toy.TEXT_LENGTH if tier == "toy" else 77, shape.text_width)
    pixels = shape.latent_size * 2 ** (len(vae.config.block_out_channels) - 1)
    batch = vader.VaderBatch(
        list(range(clips)), ["a probe"] * clips, torch.randn(text, generator=generator), torch.randn(text, generator=generator),
        torch.rand(clips, shape.frames, 3, pixels, pixels, generator=generator) * 2 - 1,
    )
    optimiser = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=1e-4)
    started = time.perf_counter()
    try:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            result = vader.vader_step(unet, model, batch, sampling, objective, generator)
        result.loss.backward()
        optimiser.step()
        outcome = "ok"
    except torch.OutOfMemoryError:
        outcome = "out of memory"
    return {"setting": name, "outcome": outcome, "device": str(device), "precision": str(dtype).removeprefix("torch."),
            "peak_bytes": peak_bytes(device), "baseline_bytes": baseline, "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("toy", "sd15"), default="toy")
    parser.add_argument("--tier", choices=("t4", "a100"), default="t4", help="clip size and precision for --size sd15")
    parser.add_argument("--clips", type=int, default=2, help="clips per step (params vader.clips_per_step)")
    parser.add_argument("--steps", type=int, default=10, help="DDIM sampling steps (params vader.num_inference_steps)")
    parser.add_argument("--window", type=int, default=4, help="frames in the decoded window")
    parser.add_argument("--settings", nargs="*", choices=list(SETTINGS), help="default: all eight")
    parser.add_argument("--out", help="default: benchmarks/results/vader_memory_<size>[_<tier>].json")
    parser.add_argument("--setting", choices=list(SETTINGS), help=argparse.SUPPRESS)  # one measurement, in a child process
    parser.add_argument("--saved", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tier = "toy" if args.size == "toy" else args.tier
    if args.setting:
        print(json.dumps(measure(args.setting, Path(args.saved), tier, args.clips, args.steps, args.window)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        build_unet(args.size).save_pretrained(Path(folder) / "unet")  # once; each child loads it
        build_vae(args.size).save_pretrained(Path(folder) / "vae")
        for name in args.settings or SETTINGS:
            done = subprocess.run(
                [sys.executable, __file__, "--setting", name, "--saved", folder, "--size", args.size, "--tier", args.tier,
                 "--clips", str(args.clips), "--steps", str(args.steps), "--window", str(args.window)],
                capture_output=True, text=True,
            )
            if done.returncode != 0:
                # a CPU process killed for memory ends here rather than with an OutOfMemoryError
                results[name] = {"setting": name, "outcome": f"failed (exit {done.returncode})", "peak_bytes": None, "stderr": done.stderr[-500:]}
            else:
                results[name] = json.loads(done.stdout.strip().splitlines()[-1])
            peak = results[name]["peak_bytes"]
            print(f"{name:28s} {results[name]['outcome']:14s} {'' if peak is None else f'{peak / 2**20:9.1f} MiB'}", flush=True)
    device = device_here()
    shape = SHAPES[tier]
    summary = {
        **device_info(device),
        "measure": "torch.cuda.max_memory_allocated" if device.type == "cuda" else "peak resident memory, ru_maxrss (approximate)",
        "model": "toy UNetMotionModel and VAE (embedded default)" if args.size == "toy"
        else "SD1.5 UNet + AnimateDiff v1-5-2 motion adapter, SD1.5 VAE (published configs, random weights)",
        "tier_shape": tier,
        "frames": shape.frames,
        "latent_size": shape.latent_size,
        "precision": next((r["precision"] for r in results.values() if "precision" in r), None),
        "clips_per_step": args.clips,
        "sampling_steps": args.steps,
        "window_frames": args.window,
        "lora": "rank 4, motion_and_spatial",
        "settings": {name: {k: r.get(k) for k in ("outcome", "peak_bytes", "seconds")} | {
            "peak_mib": None if r["peak_bytes"] is None else round(r["peak_bytes"] / 2**20, 1),
            # above the process after its imports, before any model: what the setting itself costs
            "over_baseline_mib": None if r["peak_bytes"] is None else round((r["peak_bytes"] - r["baseline_bytes"]) / 2**20, 1),
        } for name, r in results.items()},
    }
    out = Path(args.out or f"benchmarks/results/vader_memory_{args.size}{'' if args.size == 'toy' else '_' + tier}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"→ {out}")


if __name__ == "__main__":
    main()
