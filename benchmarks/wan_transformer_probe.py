"""Probe: the toy Wan transformer alone on base@wan's VAE (models/wan/base/vae), fresh transformer and text
encoder, oracle readings of held-out and train captions at chosen steps (preview seeds, never dev or test).

    python benchmarks/wan_transformer_probe.py '{"arch": {"heads": 2, "head_width": 32}, "text_dropout": 0.0, "steps": 3000, "evals": [1500]}'

"seed" (default 0) seeds the fresh transformer and text encoder and the batches; "threads" (default 2) sets torch's threads;
"samples_per_caption" (default 2) the held-out samples of each caption.
"""
import json
import sys
import time

import numpy as np
import torch

sys.path.insert(0, "src")
from diffusers import AutoencoderKLWan

from videodpo import toyworld
from videodpo.core import seeds
from videodpo.evaluation import temporal
from videodpo.families.wan import Wan, pretraining, toy
from videodpo.toyworld.tokenizer import build_toy_tokenizer

over = json.loads(sys.argv[1])
arch_over = over.pop("arch", {}); dropout = over.pop("text_dropout", 0.1); evals = set(over.pop("evals", [])); vae_path = over.pop("vae", "models/wan/base/vae")
arch = toy.ToyWanArchitecture(**arch_over)
threads = over.pop("threads", 2)  # two probes side by side: 1 each
per_caption = over.pop("samples_per_caption", 2)
sched = pretraining.WanPretrainSettings(**over)
torch.set_num_threads(threads); torch.manual_seed(sched.seed)  # "seed": the transformer's and text encoder's start and the batches' draws
orig = toy.UMT5Config
def cfg(**kw):
    kw["dropout_rate"] = dropout; return orig(**kw)
toy.UMT5Config = cfg
g = torch.Generator().manual_seed(sched.seed)
pixels, texts = pretraining.training_pixels(arch, sched)
pipe = toy.build_toy_pipeline(build_toy_tokenizer(), arch)
pipe.vae = AutoencoderKLWan.from_pretrained(vae_path, local_files_only=True).eval().requires_grad_(False)
model = Wan(pipe, resolution=32)  # the family's own model, VAE norms included
print("text dropout", model.pipe.text_encoder.config.dropout_rate)
latents = pretraining.fit_latent_normalisation(model.pipe.vae, pixels)
tok = model.pipe.tokenizer
tokens = tok(texts, padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt")
empty = tok([""], padding="max_length", max_length=tok.model_max_length, return_tensors="pt")
def evaluate(tag):
    tr, te = model.pipe.transformer, model.pipe.text_encoder
    tr.eval(); te.eval()
    for split, caps, count in (("held_out", toyworld.held_out_captions(), per_caption), ("train", toyworld.train_captions()[::3], 2)):
        t = [c.text for c in caps for _ in range(count)]
        clips = model.generate(t, seeds.preview_seeds(len(t)), arch.frames, 20, 4.0, 0.0, batch_size=12, resolution=32)
        ad = toyworld.adherence(clips, t)
        we = np.mean([temporal.warping_error(c) for c in clips]); fd = np.mean([temporal.frame_difference(c) for c in clips])
        print(tag, split, {k: round(v, 3) for k, v in ad.items()}, "we", round(we, 2), "fd", round(fd, 2), flush=True)
    tr.train(); te.train()
t0 = time.time()
def log(name, value, step):
    if step % 250 == 0: print(name, step, round(value, 4), round((time.time()-t0)/60, 1), "min", flush=True)
    if step + 1 in evals: evaluate(f"step{step+1}")
pretraining.train_transformer(model, latents, tokens.input_ids, tokens.attention_mask, empty.input_ids[0], empty.attention_mask[0], sched, g, log)
print("minutes", round((time.time()-t0)/60, 2))
evaluate("final")
