"""Probe: the oracle's reading of base@wan's VAE reconstructions of held-out ground truth (preview seeds):
the ceiling the transformer's samples can reach.

    python benchmarks/wan_vae_reading.py
"""
import sys

import torch

sys.path.insert(0, "src")
from videodpo import families, toyworld  # noqa: E402
from videodpo.core import seeds

model = families.load_base("models/wan/base")
truth, texts = toyworld.render_dataset(toyworld.held_out_captions(), 2, seed=seeds.PREVIEW_OFFSET, size=32, frames=9)
with torch.no_grad():
    decoded = model.decode(model.encode_clips(truth))
decoded = ((decoded.permute(0, 1, 3, 4, 2) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
print("ground truth", toyworld.adherence(truth, texts))
print("VAE reconstruction", toyworld.adherence(decoded, texts))
