"""Benchmark: the peak memory of one DPO step at Wan2.1-T2V-1.3B size, at the smallest hub tier's clip.

    PYTHONPATH=src python benchmarks/wan_dpo_memory.py [--pairs 1] [--out benchmarks/results/wan_dpo_memory.json]

The transformer is built from Wan2.1-T2V-1.3B's published configuration (30 blocks of width 1536,
12 heads, feed-forward 8960, 1×2×2 patches, 16 latent channels, text width 4096) with random
weights: a step's memory and time do not depend on them. Gradient checkpointing on, the tier's LoRA
(rank, on the self-attention) trained in fp32 over frozen weights in the tier's precision (bf16 on a
GPU; fp32 on a CPU, which has no fast bf16), the reference the same transformer with its LoRA off.
The clip is tier l4's for wan (`wan.overrides.tiers.l4.data`: 17 frames of 480×480 → latents
16×5×60×60, 4500 tokens) and 512 text tokens, as WanPipeline encodes a prompt. One DPO step:
the reference's errors on winners and losers, the policy's, the loss, backward, an optimiser step.
The figure is the process's peak: torch.cuda.max_memory_allocated on a GPU; on a CPU the peak
resident memory (ru_maxrss, which also counts the interpreter: read it as approximate).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch
import yaml
from bench_setup import device_info

from videodpo.config import config_from_params
from videodpo.core import precision
from videodpo.core.noise import correlated_noise
from videodpo.families.wan import Wan, latent_frames
from videodpo.training.dpo import DPOBatch, dpo_step

WAN_1_3B = dict(  # Wan2.1-T2V-1.3B-Diffusers' transformer/config.json
    patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16, text_dim=4096,
    freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6,
)
TEXT_TOKENS = 512
LATENT_CHANNELS, SPATIAL = 16, 8  # the 1.3B's VAE: 16 channels, 8× in space


class TransformerOnly:
    """What a DPO step reads of a Wan pipeline: its transformer (its VAE and text encoder are not loaded)."""

    def __init__(self, transformer) -> None:
        self.transformer = transformer


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux


def main() -> None:
    from diffusers import WanTransformer3DModel

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1, help="pairs in the step (the tier trains training.batch_size)")
    parser.add_argument("--tier", default="l4")
    parser.add_argument("--out", default="benchmarks/results/wan_dpo_memory.json")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    params = yaml.safe_load(Path("params.yaml").read_text())
    tier = config_from_params({**params, "tier": args.tier, "families": ["wan"]}, family="wan")  # the tier as wan's stages read it
    frames, resolution = tier.data.frames, tier.data.resolution
    dtype = precision.weight_dtype(tier.training.mixed_precision) if device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(**WAN_1_3B).to(device, dtype)
    model = Wan(TransformerOnly(transformer))
    lora = model.add_lora(tier.model.lora_rank, tier.model.lora_alpha)
    precision.trainable_in_fp32(transformer)
    model.enable_gradient_checkpointing()
    optimiser = torch.optim.AdamW([p for p in transformer.parameters() if p.requires_grad], lr=1e-5)
    size = resolution // SPATIAL
    shape = (args.pairs, LATENT_CHANNELS, latent_frames(frames), size, size)
    generator = torch.Generator().manual_seed(0)
    batch = DPOBatch(
        winners=torch.randn(shape, generator=generator), losers=torch.randn(shape, generator=generator),
        text=torch.randn(args.pairs, TEXT_TOKENS, WAN_1_3B["text_dim"], generator=generator),
        noise=correlated_noise(shape, 0.0, generator), timesteps=torch.randint(0, 1000, (args.pairs,), generator=generator),
        labels=None, rows=torch.arange(args.pairs),
    ).to(device)
    batch = DPOBatch(**{k: (v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in vars(batch).items()})
    before = peak_mib(device)
    started = time.perf_counter()
    with torch.autocast(device.type, dtype=dtype, enabled=device.type == "cuda"):
        result = dpo_step(model, transformer, None, batch, tier.training.beta)
    result.terms.loss.backward()
    optimiser.step()
    seconds = time.perf_counter() - started
    report = {
        **device_info(device), "model": "Wan2.1-T2V-1.3B transformer (published configuration, random weights)",
        "tier": args.tier, "frames": frames, "resolution": resolution, "latents": list(shape[1:]), "tokens": latent_frames(frames) * (size // 2) ** 2,
        "text_tokens": TEXT_TOKENS, "pairs": args.pairs, "precision": str(dtype).removeprefix("torch."), "lora_rank": lora.r,
        "gradient_checkpointing": True, "peak_mib": round(peak_mib(device), 1), "before_step_mib": round(before, 1),
        "step_seconds": round(seconds, 1), "measure": "torch.cuda.max_memory_allocated" if device.type == "cuda" else "peak resident memory (ru_maxrss)",
        "fits_24_gib": peak_mib(device) < 24 * 1024,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
