"""How long the embedded base takes to pretrain, per phase and per part of a step, under the
recipe before the speed-up (`--recipe before`) and the one in params.yaml (`--recipe params`).

Default: each recipe runs its real pipeline (render, VAE, encode, image UNet, motion adapter)
with every phase cut to --steps steps, and each phase's per-step cost is multiplied by the
recipe's own step count; rendering and encoding are timed whole. Steps have fixed shapes, so
the per-step cost is steady (the first --warmup steps of each phase are left out). The recipes
take turns for --rounds rounds and each phase keeps its fastest round, so a slow spell of a
shared machine does not land on one recipe only. --full trains both recipes to the end instead
and reports their measured wall times.

    PYTHONPATH=src python benchmarks/base_pretraining.py           # ~8 min on 2 cores
    PYTHONPATH=src python benchmarks/base_pretraining.py --full    # ~50 min on 2 cores
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from bench_setup import device_here, device_info
from dvclive import Live

from videodpo.config import load_config
from videodpo.families.animatediff import pretraining, toy

RESULT = Path(__file__).parent / "results" / "base_pretraining.json"
PHASES = ("vae", "image", "motion")
PARTS = ("data", "forward", "backward", "optimiser", "logging")

# params.yaml model.toy.vae_channels and model.pretrain as they were before the speed-up (commit d1ef7b2)
BEFORE_VAE_CHANNELS = (32, 64, 64)
BEFORE = pretraining.PretrainSettings(
    seed=0, clips_per_caption=60, vae_steps=600, vae_batch_frames=64, vae_lr=1e-3, image_steps=1500,
    image_batch_frames=64, image_lr=1e-3, image_timestep_power=1.0, motion_steps=1500, motion_batch_clips=8, motion_lr=5e-4,
    spatial_lr_scale=1.0, motion_trains="motion_and_spatial", image_trains_text_encoder=False,
    caption_dropout=0.1, shared_noise=0.5, layout_share=0.0, layout_timesteps_from=900,
)


def recipe(name: str) -> tuple[toy.ToyArchitecture, pretraining.PretrainSettings]:
    config = load_config(family="animatediff")
    world, section = config.toyworld, config.family_section("animatediff")
    arch = toy.ToyArchitecture(frame_size=world.frame_size, frames=world.frames, **section.toy.model_dump())
    if name == "before":
        return dataclasses.replace(arch, vae_channels=BEFORE_VAE_CHANNELS), BEFORE
    return arch, section.pretrain


def run(arch, schedule, clock) -> float:
    """Pretrain with the base stage's own logging (dvclive every 10 steps); wall seconds."""
    with tempfile.TemporaryDirectory() as folder, Live(dir=folder, dvcyaml=None, save_dvc_exp=False, report=None) as live:

        def log(name: str, value: float, step: int) -> None:
            if step % 10 == 0:
                live.step = step
                live.log_metric(name, value)

        started = time.perf_counter()
        pretraining.pretrain_toy_model(arch, schedule, log, clock)
        return time.perf_counter() - started


def profile_round(name: str, steps: int, warmup: int) -> dict:
    """Per-part seconds of one step of each phase, and the whole-run data seconds, at `steps` steps."""
    arch, schedule = recipe(name)
    run(arch, schedule.model_copy(update={"vae_steps": warmup, "image_steps": warmup, "motion_steps": warmup}), pretraining.PhaseClock())
    clock = pretraining.PhaseClock()
    run(arch, schedule.model_copy(update={"vae_steps": steps, "image_steps": steps, "motion_steps": steps}), clock)
    per_step = {phase: {part: clock.seconds[phase, part] / steps for part in PARTS} for phase in PHASES}
    return {"per_step": per_step, "data": {part: clock.seconds["data", part] for part in ("render", "encode")}}


def summarise(name: str, rounds: list[dict]) -> dict:
    """Each phase from its fastest round, scaled to the recipe's step counts."""
    _, schedule = recipe(name)
    full_steps = {"vae": schedule.vae_steps, "image": schedule.image_steps, "motion": schedule.motion_steps}
    phases = {}
    for phase in PHASES:
        fastest = min((r["per_step"][phase] for r in rounds), key=lambda parts: sum(parts.values()))
        phases[phase] = {
            "steps": full_steps[phase],
            "per_step_ms": {part: round(1000 * s, 1) for part, s in fastest.items()},
            "minutes": round(sum(fastest.values()) * full_steps[phase] / 60, 2),
        }
    data = {part: round(min(r["data"][part] for r in rounds), 1) for part in ("render", "encode")}
    total = sum(p["minutes"] for p in phases.values()) + sum(data.values()) / 60
    return {"schedule": schedule.model_dump(), "data_seconds": data, "phases": phases, "minutes": round(total, 2)}


def full(name: str) -> dict:
    arch, schedule = recipe(name)
    clock = pretraining.PhaseClock()
    seconds = run(arch, schedule, clock)
    phases = {phase: round(sum(clock.seconds[phase, part] for part in PARTS) / 60, 2) for phase in PHASES}
    return {"schedule": schedule.model_dump(), "phase_minutes": phases, "minutes": round(seconds / 60, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="train both recipes to the end")
    parser.add_argument("--steps", type=int, default=40, help="steps timed per phase (profile mode)")
    parser.add_argument("--warmup", type=int, default=5, help="steps per phase run first and not timed")
    parser.add_argument("--rounds", type=int, default=2, help="turns each recipe takes (profile mode)")
    args = parser.parse_args()
    device = device_here()
    if device.type != "cpu":
        raise SystemExit("the embedded base pretrains on the CPU; run this on the machine whose time you want")
    names = ("before", "params")
    if args.full:
        results = {name: full(name) for name in names}
    else:
        rounds: dict[str, list[dict]] = {name: [] for name in names}
        for _ in range(args.rounds):
            for name in names:
                rounds[name].append(profile_round(name, args.steps, args.warmup))
        results = {name: summarise(name, rounds[name]) for name in names}
    ratio = results["params"]["minutes"] / results["before"]["minutes"]
    report = {
        "benchmark": "base_pretraining",
        **device_info(device),
        "mode": "full" if args.full else f"profile: {args.steps} steps a phase, best of {args.rounds} rounds, scaled",
        "recipes": results,
        "params_over_before": round(ratio, 3),
    }
    for name, result in results.items():
        print(f"{name:>7}: {result['minutes']:6.2f} min")
        for phase, figures in result.get("phases", {}).items():
            print(f"         {phase:>6}: {figures['minutes']:6.2f} min = {figures['steps']} steps × {figures['per_step_ms']} ms")
    print(f"  ratio: {ratio:.3f} (params / before)")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
