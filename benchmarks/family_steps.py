"""Benchmark: one DPO step and one VADER step (K = 1) on the toy Wan against the toy AnimateDiff.

    PYTHONPATH=src python benchmarks/family_steps.py [--steps 10] [--out benchmarks/results/family_steps.json]

Each family's toy model is built at the committed sizes (params `animatediff.toy`, `wan.toy`, the
toy world's frames: 8 for AnimateDiff, 9 for Wan) with random weights (a step's cost does not depend
on them), a LoRA added as training adds it. DPO: videodpo.training.dpo.dpo_step on a batch of `training.batch_size`
pairs (the reference is the policy with its LoRA off), backward and an optimiser step. VADER:
vader.vader_step with `vader.clips_per_step` clips, `vader.num_inference_steps` sampling steps and
the gradient through the last one (K = 1), every frame decoded, the temporal and brightness rewards
and the appearance guard, backward and an optimiser step. The two families alternate step by step,
so drift in machine load hits both alike. Prints a table and writes JSON with the device info.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from bench_setup import device_info

from videodpo.config import load_config
from videodpo.core.noise import correlated_noise
from videodpo.core.params import built_from
from videodpo.families import animatediff, wan
from videodpo.families.animatediff import toy as animatediff_toy
from videodpo.families.wan import toy as wan_toy
from videodpo.toyworld.tokenizer import build_toy_tokenizer
from videodpo.training import vader
from videodpo.training.dpo import DPOBatch, dpo_step

PROMPT = "a red square moving left"


def toy_models() -> dict:
    """Each family's toy model at the committed sizes, random weights, and the frames of its clips."""
    tokenizer = build_toy_tokenizer()
    built = {}
    ad = load_config(family="animatediff")
    arch = animatediff_toy.ToyArchitecture(frame_size=ad.toyworld.frame_size, frames=ad.toyworld.frames, **ad.family_section().toy.model_dump())
    unet = animatediff_toy.build_toy_unet2d(arch)
    from diffusers import UNetMotionModel

    pipe = animatediff_toy.assemble_pipeline(
        animatediff_toy.build_toy_vae(arch), animatediff_toy.build_toy_text_encoder(tokenizer, arch), tokenizer,
        UNetMotionModel.from_unet2d(unet, animatediff_toy.build_toy_motion_adapter(arch)), animatediff_toy.build_toy_scheduler(),
    )
    built["animatediff"] = (animatediff.AnimateDiff(pipe), ad)
    wc = load_config(family="wan")
    warch = wan_toy.ToyWanArchitecture(frame_size=wc.toyworld.frame_size, frames=wc.toyworld.frames, **wc.family_section().toy.model_dump())
    built["wan"] = (wan.Wan(wan_toy.build_toy_pipeline(tokenizer, warch), resolution=warch.frame_size), wc)
    return built


def dpo_runner(model, config):
    torch.manual_seed(0)
    model.add_lora(config.model.lora_rank, config.model.lora_alpha)
    optimiser = torch.optim.AdamW([p for p in model.denoiser.parameters() if p.requires_grad], lr=1e-4)
    frames, size = config.toyworld.frames, config.toyworld.frame_size
    clips = torch.randint(0, 256, (2 * config.training.batch_size, frames, size, size, 3), dtype=torch.uint8).numpy()
    latents = model.encode_clips(clips)
    batch_size = config.training.batch_size
    text = model.encode_prompts([PROMPT] * batch_size)
    generator = torch.Generator().manual_seed(0)
    batch = DPOBatch(
        winners=latents[:batch_size], losers=latents[batch_size:], text=text,
        noise=correlated_noise(tuple(latents[:batch_size].shape), 0.0, generator),
        timesteps=torch.randint(0, 1000, (batch_size,), generator=generator), labels=None, rows=torch.arange(batch_size),
    )

    def step() -> None:
        result = dpo_step(model, model.denoiser, None, batch, config.training.beta, config.training.sft_weight)
        result.terms.loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)

    return step


K1_GRADIENT = {"backprop": "last", "backprop_steps": 1, "decode_frames": 0}  # this benchmark's VADER step: the gradient through the last step


def vader_runner(model, config, as_configured: bool = False):
    """One VADER step: K = 1 with the temporal and brightness rewards, or (`as_configured`) the `vader` section's own gradient and rewards."""
    torch.manual_seed(0)
    settings = config.method_section("vader")
    model.add_lora(config.model.lora_rank, config.model.lora_alpha, targets=settings.lora_targets)
    optimiser = torch.optim.AdamW([p for p in model.denoiser.parameters() if p.requires_grad], lr=1e-4)
    sampling = built_from(
        vader.VaderSampling, settings, frames=config.toyworld.frames, guidance_scale=config.sample.guidance_scale, shared_noise=0.0,
        **({} if as_configured else K1_GRADIENT),
    )
    count = settings.clips_per_step
    unconditional, conditional = model.guidance_embeddings([PROMPT] * count)
    references = torch.zeros(count, config.toyworld.frames, 3, config.toyworld.frame_size, config.toyworld.frame_size)
    batch = vader.VaderBatch(list(range(count)), [PROMPT] * count, unconditional, conditional, references)
    rewards = dict(settings.rewards) if as_configured else {"temporal": 1.0, "brightness": 1.0}
    objective = vader.VaderObjective(rewards, dict(settings.guard))
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        result = vader.vader_step(model.denoiser, model, batch, sampling, objective, generator)
        result.loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per family and method (after 2 warm-up steps)")
    parser.add_argument("--out", default="benchmarks/results/family_steps.json")
    args = parser.parse_args()
    results = {}
    for method, make in (("dpo", dpo_runner), ("vader", vader_runner)):
        runners = {family: make(model, config) for family, (model, config) in toy_models().items()}
        for run in runners.values():
            for _ in range(2):
                run()
        seconds = {family: [] for family in runners}
        for _ in range(args.steps):
            for family, run in runners.items():
                started = time.perf_counter()
                run()
                seconds[family].append(time.perf_counter() - started)
        results[method] = {family: round(sorted(times)[len(times) // 2], 4) for family, times in seconds.items()}
    configs = {family: load_config(family=family) for family in ("animatediff", "wan")}
    shapes = {family: {"frames": c.toyworld.frames, "frame_size": c.toyworld.frame_size} for family, c in configs.items()}
    config = configs["animatediff"]
    report = {
        **device_info(torch.device("cpu")), "steps": args.steps, "statistic": "median seconds per step", "clips": shapes,
        "dpo_pairs_per_step": config.training.batch_size, "vader_clips_per_step": config.method_section("vader").clips_per_step,
        "vader_sampling_steps": config.method_section("vader").num_inference_steps, "seconds": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'step':8s} {'animatediff':>12s} {'wan':>8s}   (median s, {args.steps} steps)")
    for method, values in results.items():
        print(f"{method:8s} {values['animatediff']:12.3f} {values['wan']:8.3f}")


if __name__ == "__main__":
    main()
