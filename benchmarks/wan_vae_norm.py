"""Benchmark: the toy Wan's VAE with diffusers' RMS norms against the written-out ones
(videodpo.families.wan.vae_norm) that every Wan model uses.

    PYTHONPATH=src python benchmarks/wan_vae_norm.py [--repeats 15] [--out benchmarks/results/wan_vae_norm.json]

The VAE is built at the committed sizes (params `wan.toy`) with random weights, the same for both. Timed: a
training step as base@wan takes it (`wan.pretrain.vae_batch_clips` clips, its loss, backward, an AdamW step) and
an encode and decode of 8 clips without gradients; median of `repeats` after 3 warm-up calls, the two kinds
alternating. Also reported: the largest difference between the two VAEs' reconstructions.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch
from bench_setup import device_info

from videodpo.config import load_config
from videodpo.families.wan import pretraining, toy
from videodpo.families.wan.vae_norm import write_out_rms_norms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default="benchmarks/results/wan_vae_norm.json")
    args = parser.parse_args()
    config = load_config(family="wan")
    section = config.family_section()
    arch = toy.ToyWanArchitecture(frame_size=config.toyworld.frame_size, frames=config.toyworld.frames, **section.toy.model_dump())
    schedule = section.pretrain
    torch.manual_seed(0)
    theirs = toy.build_toy_vae(arch)
    vaes = {"diffusers": theirs, "written_out": write_out_rms_norms(copy.deepcopy(theirs))}
    clips = torch.rand(schedule.vae_batch_clips, 3, arch.frames, arch.frame_size, arch.frame_size) * 2 - 1
    eight = torch.rand(8, 3, arch.frames, arch.frame_size, arch.frame_size) * 2 - 1
    optimisers = {name: torch.optim.AdamW(vae.parameters(), lr=1e-4) for name, vae in vaes.items()}
    generator = torch.Generator().manual_seed(0)

    def training_step(name: str) -> None:
        vaes[name].train()
        loss, _ = pretraining._vae_loss(vaes[name], clips, schedule, generator)
        loss.backward()
        optimisers[name].step()
        optimisers[name].zero_grad(set_to_none=True)

    @torch.no_grad()
    def encode_decode(name: str) -> torch.Tensor:
        vae = vaes[name].eval()
        return vae.decode(vae.encode(eight).latent_dist.mode()).sample

    difference = float((encode_decode("diffusers") - encode_decode("written_out")).abs().max())
    seconds = {work: {name: [] for name in vaes} for work in ("training_step", "encode_decode_8_clips")}
    for index in range(3 + args.repeats):
        for name in vaes:
            for work, call in (("training_step", training_step), ("encode_decode_8_clips", encode_decode)):
                began = time.perf_counter()
                call(name)
                if index >= 3:
                    seconds[work][name].append(time.perf_counter() - began)
    medians = {work: {name: round(statistics.median(times) * 1000, 1) for name, times in kinds.items()} for work, kinds in seconds.items()}
    for work, kinds in medians.items():
        print(f"{work}: diffusers {kinds['diffusers']} ms, written out {kinds['written_out']} ms ({kinds['written_out'] / kinds['diffusers']:.2f}×)")
    print(f"largest reconstruction difference before training: {difference:.2e}")
    report = {**device_info(torch.device("cpu")), "threads": torch.get_num_threads(), "repeats": args.repeats, "vae_batch_clips": schedule.vae_batch_clips,
              "median_ms": medians, "reconstruction_max_difference": difference}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
