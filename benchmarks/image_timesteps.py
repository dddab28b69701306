"""How the image phase's timestep draw decides whether the base can draw a square.

The base draws circles and triangles right and reads squares as circles: their corners come out
rounded. This trains the image phase alone (params.yaml's recipe, on the VAE and text encoder
setup of the `base@animatediff` stage, starting from models/animatediff/base's VAE) once per timestep power, samples every
square caption frame by frame (a fresh motion adapter is the identity), and reads the shapes with
the toy-world oracle. Timesteps are drawn as 1000·u^power: power 1 is uniform, power < 1 draws
more of the noisiest ones.

    PYTHONPATH=src python benchmarks/image_timesteps.py                      # powers 2, 1, 0.6, 0.4: ~12 min on 2 cores
    PYTHONPATH=src python benchmarks/image_timesteps.py --powers 1 0.6
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections import Counter
from pathlib import Path

import torch
from bench_setup import device_here, device_info
from diffusers import UNetMotionModel

from videodpo import families, toyworld
from videodpo.config import load_config
from videodpo.core import seeds
from videodpo.families.animatediff import AnimateDiff, encode_frames, pretraining, toy

RESULT = Path(__file__).parent / "results" / "image_timesteps.json"
BASE = "models/animatediff/base"


@dataclasses.dataclass(frozen=True)
class ImagePhaseData:
    """What every power's run starts from, made once: the recipe, the committed VAE, the encoded clips."""

    config: object
    arch: toy.ToyArchitecture
    schedule: pretraining.PretrainSettings
    vae: object
    latents: torch.Tensor
    texts: list[str]


def image_phase_data() -> ImagePhaseData:
    config = load_config(family="animatediff")
    world, section = config.toyworld, config.family_section("animatediff")
    arch = toy.ToyArchitecture(frame_size=world.frame_size, frames=world.frames, **section.toy.model_dump())
    schedule = section.pretrain
    vae = families.load_base(BASE).vae
    pixels, texts = pretraining.training_pixels(arch, schedule)
    latents = (encode_frames(vae, pixels.flatten(0, 1)) * vae.config.scaling_factor).unflatten(0, pixels.shape[:2])
    return ImagePhaseData(config, arch, schedule, vae, latents, texts)


def square_readings(data: ImagePhaseData, power: float, seeds_per_caption: int) -> dict:
    config, arch, vae, latents, texts = data.config, data.arch, data.vae, data.latents, data.texts
    world = config.toyworld
    schedule = data.schedule.model_copy(update={"image_timestep_power": power})
    torch.manual_seed(schedule.seed)
    generator = torch.Generator().manual_seed(schedule.seed)
    tokenizer, text_encoder, ids, empty_ids = pretraining.fresh_text_side(arch, texts)
    scheduler = toy.build_toy_scheduler()
    unet2d = toy.build_toy_unet2d(arch)
    started = time.perf_counter()
    pretraining.train_image_unet(unet2d, text_encoder, scheduler, latents, ids, empty_ids, schedule, generator)
    minutes = (time.perf_counter() - started) / 60
    unet = UNetMotionModel.from_unet2d(unet2d, toy.build_toy_motion_adapter(arch))
    text_encoder.eval().requires_grad_(False)
    unet.eval().requires_grad_(False)
    model = AnimateDiff(toy.assemble_pipeline(vae, text_encoder, tokenizer, unet, scheduler))
    squares = [c.text for c in toyworld.all_captions() if c.shape == "square" for _ in range(seeds_per_caption)]
    preview = config.model.preview
    samples = model.generate(
        squares, seeds.preview_seeds(len(squares)), world.frames, preview.steps, preview.guidance_scale,
        schedule.shared_noise, batch_size=12, desc=f"power {power}: squares",
    )
    readings = Counter(toyworld.read_clip(clip).shape for clip in samples)
    return {
        "power": power,
        "share_above_t900": round(1 - 0.9 ** (1 / power), 3),
        "samples": len(squares),
        "square_right": round(readings["square"] / len(squares), 3),
        "read_as": dict(readings),
        "image_phase_minutes": round(minutes, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--powers", type=float, nargs="+", default=[2.0, 1.0, 0.6, 0.4])
    parser.add_argument("--seeds-per-caption", type=int, default=4)
    args = parser.parse_args()
    if not Path(BASE).is_dir():
        raise SystemExit(f"{BASE} is missing: run `dvc repro base@animatediff` first (this reuses its VAE)")
    device = device_here()
    data = image_phase_data()
    rows = []
    for power in args.powers:
        rows.append(square_readings(data, power, args.seeds_per_caption))
        print(f"power {power}: squares right {rows[-1]['square_right']:.0%} of {rows[-1]['samples']} ({rows[-1]['read_as']})", flush=True)
    report = {"benchmark": "image_timesteps", **device_info(device), "rows": rows}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
