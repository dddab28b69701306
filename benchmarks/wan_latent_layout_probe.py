"""Probe: how the toy Wan splits its compression between the VAE and the transformer's patch. Trains a VAE of the
given layout as base@wan trains its VAE (params' recipe), reads its reconstructions, then trains a fresh transformer
and text encoder on its latents and reads held-out samples (preview seeds, never dev or test) at chosen steps.

    python benchmarks/wan_latent_layout_probe.py '{"spatial": 2, "temporal": 2, "patch": 2, "vae_clip_steps": 1000, "steps": 4000}'

Layouts: "spatial" (the VAE's 2× or 4× in space), "temporal" (2× or 4× in time, at most spatial), "patch" (the
transformer's spatial patch). spatial 4, temporal 4, patch 1 is base@wan's. "vae": a folder to load a VAE of that
layout from or, when absent, save the trained one to. "seed", "threads", "evals", "samples_per_caption" as named.
Other keys override params.yaml's wan.pretrain; "arch" overrides wan.toy.
"""
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, "src")
from diffusers import AutoencoderKLWan, WanTransformer3DModel  # noqa: E402

from videodpo import toyworld  # noqa: E402
from videodpo.core import seeds  # noqa: E402
from videodpo.evaluation import temporal  # noqa: E402
from videodpo.families.wan import Wan, frames, pretraining, toy  # noqa: E402
from videodpo.toyworld.tokenizer import build_toy_tokenizer  # noqa: E402

over = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
spatial, time_factor, patch = over.pop("spatial", 4), over.pop("temporal", 4), over.pop("patch", 1)
threads, evals = over.pop("threads", 2), set(over.pop("evals", []))
vae_folder = over.pop("vae", None)
dim_mult = over.pop("dim_mult", None)  # the VAE's widths per level (base@wan's rule by default)
per_caption = over.pop("samples_per_caption", 4)
params = yaml.safe_load(Path("params.yaml").read_text())["wan"]
arch = toy.ToyWanArchitecture(**{**params["toy"], **over.pop("arch", {})})
schedule = pretraining.WanPretrainSettings(**{**params["pretrain"], **over})
torch.set_num_threads(threads)
torch.manual_seed(schedule.seed)
generator = torch.Generator().manual_seed(schedule.seed)
frames.TEMPORAL_COMPRESSION = time_factor  # the clip's latent frames: 1 + (F − 1) / temporal
levels = round(math.log2(spatial)) + 1
time_levels = round(math.log2(time_factor))
print(f"layout: VAE {spatial}× space, {time_factor}× time, patch {patch}: latents {arch.latent_channels}×"
      f"{frames.latent_frames(arch.frames)}×{32 // spatial}×{32 // spatial}, tokens per clip "
      f"{frames.latent_frames(arch.frames) * (32 // spatial // patch) ** 2}", flush=True)


def build_vae() -> AutoencoderKLWan:
    # a residual VAE's last level may not widen (its pass-through folds no pixels there)
    widths = dim_mult or [2 ** min(i, 1 if arch.vae_residual else 2, levels - 2) for i in range(levels)]
    return AutoencoderKLWan(
        base_dim=arch.vae_base, z_dim=arch.latent_channels, dim_mult=widths, num_res_blocks=1, is_residual=arch.vae_residual,
        temperal_downsample=[i >= levels - 1 - time_levels for i in range(levels - 1)],
        latents_mean=[0.0] * arch.latent_channels, latents_std=[1.0] * arch.latent_channels,
        scale_factor_spatial=spatial, scale_factor_temporal=time_factor,
    )


pixels, texts = pretraining.training_pixels(arch, schedule)
pipe = toy.build_toy_pipeline(build_toy_tokenizer(), arch)
pipe.transformer = WanTransformer3DModel(
    patch_size=(1, patch, patch), num_attention_heads=arch.heads, attention_head_dim=arch.head_width,
    in_channels=arch.latent_channels, out_channels=arch.latent_channels, text_dim=arch.text_width, freq_dim=64,
    ffn_dim=arch.heads * arch.head_width * 2, num_layers=arch.layers, rope_max_seq_len=64,
).eval()
loaded = bool(vae_folder) and Path(vae_folder).is_dir()
pipe.vae = AutoencoderKLWan.from_pretrained(vae_folder, local_files_only=True).eval().requires_grad_(False) if loaded else build_vae()
model = Wan(pipe, resolution=arch.frame_size)  # the family's own model, VAE norms included
started = time.time()
if loaded:
    print("VAE loaded from", vae_folder, flush=True)
    vae_minutes = 0.0
else:
    pretraining.train_vae(model.pipe.vae, pixels, schedule, generator)
    vae_minutes = (time.time() - started) / 60
    if vae_folder:
        model.pipe.vae.save_pretrained(vae_folder)
model.pipe.vae_scale_factor_temporal, model.pipe.vae_scale_factor_spatial = time_factor, spatial
vae = model.pipe.vae
truth, truth_texts = toyworld.render_dataset(toyworld.held_out_captions(), 2, seed=seeds.PREVIEW_OFFSET, size=arch.frame_size, frames=arch.frames)
with torch.no_grad():
    truth_pixels = torch.from_numpy(truth).float().div(127.5).sub(1).permute(0, 4, 1, 2, 3)
    decoded = vae.decode(vae.encode(truth_pixels).latent_dist.mode()).sample
psnr = float(10 * torch.log10(4.0 / torch.mean((decoded - truth_pixels) ** 2)))
reconstructions = ((decoded.permute(0, 2, 3, 4, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
print(f"VAE: {vae_minutes:.1f} min, held-out PSNR {psnr:.2f} dB, reconstructions read "
      f"{ {k: round(v, 3) for k, v in toyworld.adherence(reconstructions, truth_texts).items()} }", flush=True)

latents = pretraining.fit_latent_normalisation(vae, pixels)
tokenizer = model.pipe.tokenizer
tokens = tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt")
empty = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt")
transformer_started = time.time()


def evaluate(tag: str) -> None:
    model.pipe.transformer.eval()
    model.pipe.text_encoder.eval()
    for split, captions, count in (("held_out", toyworld.held_out_captions(), per_caption), ("train", toyworld.train_captions()[::3], 2)):
        prompts = [c.text for c in captions for _ in range(count)]
        clips = model.generate(prompts, seeds.preview_seeds(len(prompts)), arch.frames, 20, 4.0, 0.0, batch_size=12, resolution=arch.frame_size)
        reading = {k: round(v, 3) for k, v in toyworld.adherence(clips, prompts).items()}
        warping = np.mean([temporal.warping_error(c) for c in clips])
        print(f"{tag} {split} ({len(prompts)} samples): {reading} warping {warping:.2f} "
              f"frame difference {np.mean([temporal.frame_difference(c) for c in clips]):.2f}", flush=True)
    model.pipe.transformer.train()
    model.pipe.text_encoder.train()


def log(name: str, value: float, step: int) -> None:
    if step % 500 == 0:
        print(f"{name} {step} {value:.4f} {(time.time() - transformer_started) / 60:.1f} min", flush=True)
    if step + 1 in evals:
        evaluate(f"step {step + 1} ({(time.time() - transformer_started) / 60:.1f} min)")


pretraining.train_transformer(model, latents, tokens.input_ids, tokens.attention_mask, empty.input_ids[0], empty.attention_mask[0],
                              schedule, generator, log)
print(f"transformer: {(time.time() - transformer_started) / 60:.2f} min", flush=True)
evaluate(f"final, step {schedule.steps}")
