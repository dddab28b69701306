"""Probe: the toy Wan's VAE alone, trained as base@wan trains it with overrides of its sizes and schedule, and the
oracle's reading of its reconstructions of held-out ground truth (preview seeds, never dev or test) at chosen steps.

    python benchmarks/wan_vae_probe.py '{"arch": {"vae_base": 16}, "vae_clip_steps": 4000, "evals": [2000, 3000]}'

"save": a folder to save the trained VAE in (for benchmarks/wan_transformer_probe.py's "vae").
"""
import json
import sys
import time

import torch

sys.path.insert(0, "src")
from videodpo import toyworld  # noqa: E402
from videodpo.core import seeds
from videodpo.families.wan import pretraining, toy  # noqa: E402

overrides = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
arch = toy.ToyWanArchitecture(**overrides.pop("arch", {}))
evals = set(overrides.pop("evals", []))
save = overrides.pop("save", None)
schedule = pretraining.WanPretrainSchedule(**overrides)
torch.manual_seed(schedule.seed)
generator = torch.Generator().manual_seed(schedule.seed)
pixels, _ = pretraining.training_pixels(arch, schedule)
truth, texts = toyworld.render_dataset(toyworld.held_out_captions(), 2, seed=seeds.PREVIEW_OFFSET, size=arch.frame_size,
                                       frames=arch.frames)
truth_pixels = torch.from_numpy(truth).float().div(127.5).sub(1).permute(0, 4, 1, 2, 3)
vae = toy.build_toy_vae(arch)
start = time.time()


@torch.no_grad()
def read(step: int) -> None:
    decoded = vae.decode(vae.encode(truth_pixels).latent_dist.mode()).sample
    psnr = float(10 * torch.log10(4.0 / torch.mean((decoded - truth_pixels) ** 2)))
    clips = ((decoded.permute(0, 2, 3, 4, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    reading = {k: round(v, 3) for k, v in toyworld.adherence(clips, texts).items()}
    print(f"step {step}: held-out PSNR {psnr:.2f} dB, reading {reading}, {time.time() - start:.0f} s", flush=True)


def log(name: str, value: float, step: int) -> None:
    if step + 1 in evals:
        read(step + 1)


pretraining.train_vae(vae, pixels, schedule, generator, log)
read(schedule.vae_frame_steps + schedule.vae_clip_steps)
if save:
    vae.save_pretrained(save)
