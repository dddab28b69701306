"""Probe: the toy Wan's VAE alone, trained as base@wan trains it with overrides of its sizes and schedule, and the
oracle's reading of its reconstructions of ground truth at chosen steps, per shape: by default the held-out captions
at preview seeds; with "split": "dev", every caption at two dev seeds (where a VAE recipe is chosen; never test).

    python benchmarks/wan_vae_probe.py '{"arch": {"vae_base": 16}, "vae_clip_steps": 4000, "evals": [2000, 3000]}'
    python benchmarks/wan_vae_probe.py '{"load": "models/wan/base/vae", "split": "dev"}'   # a trained VAE, read alone

"save": a folder to save the trained VAE in (for benchmarks/wan_transformer_probe.py's "vae").
"load": a saved VAE to read instead of training one.
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
load = overrides.pop("load", None)
split = overrides.pop("split", "preview")
schedule = pretraining.WanPretrainSettings(**overrides)
torch.manual_seed(schedule.seed)
generator = torch.Generator().manual_seed(schedule.seed)
captions, first_seed = {"preview": (toyworld.held_out_captions(), seeds.PREVIEW_OFFSET),
                        "dev": (toyworld.all_captions(), seeds.SPLIT_OFFSETS["dev"])}[split]
truth, texts = toyworld.render_dataset(captions, 2, seed=first_seed, size=arch.frame_size, frames=arch.frames)
truth_pixels = torch.from_numpy(truth).float().div(127.5).sub(1).permute(0, 4, 1, 2, 3)
if load:
    from diffusers import AutoencoderKLWan

    vae = AutoencoderKLWan.from_pretrained(load, local_files_only=True).eval()
else:
    vae = toy.build_toy_vae(arch)
start = time.time()


@torch.no_grad()
def read(step: int) -> None:
    decoded = vae.decode(vae.encode(truth_pixels).latent_dist.mode()).sample
    psnr = float(10 * torch.log10(4.0 / torch.mean((decoded - truth_pixels) ** 2)))
    clips = ((decoded.permute(0, 2, 3, 4, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    reading = {k: round(v, 3) for k, v in toyworld.adherence(clips, texts).items()}
    shapes = [toyworld.Caption.parse(text).shape for text in texts]
    per_shape = {}
    for shape in sorted(set(shapes)):
        mine = [i for i, s in enumerate(shapes) if s == shape]
        per_shape[shape] = round(toyworld.adherence(clips[mine], [texts[i] for i in mine])["shape"], 3)
    print(f"step {step}: {split} PSNR {psnr:.2f} dB, reading {reading}, shape read right {per_shape}, {time.time() - start:.0f} s", flush=True)


def log(name: str, value: float, step: int) -> None:
    if step + 1 in evals:
        read(step + 1)


if load:
    read(0)
    raise SystemExit
pixels, _ = pretraining.training_pixels(arch, schedule)
pretraining.train_vae(vae, pixels, schedule, generator, log)
read(schedule.vae_frame_steps + schedule.vae_clip_steps)
if save:
    vae.save_pretrained(save)
