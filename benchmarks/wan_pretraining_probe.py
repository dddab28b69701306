"""How fast the toy Wan learns the toy world on this machine: its VAE on 9-frame clips (reconstruction
PSNR), then its transformer by flow matching (velocity loss), each for a few hundred steps. Prints the
seconds a step and the curves' ends; a probe for sizing the base stage's Wan recipe.

    PYTHONPATH=src python benchmarks/wan_pretraining_probe.py [--vae-steps 300] [--steps 300]
"""

import argparse
import time

import numpy as np
import torch

from videodpo import toyworld
from videodpo.core.clips import clips_to_tensor
from videodpo.families import wan
from videodpo.families.animatediff.toy import build_toy_tokenizer
from videodpo.families.wan import toy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vae-steps", type=int, default=300)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    clips, texts = toyworld.render_dataset(toyworld.train_captions(), 4, seed=0, frames=9, size=32)
    pixels = clips_to_tensor(clips).transpose(1, 2)  # (N, 3, 9, 32, 32) in [-1, 1]
    pipe = toy.build_toy_pipeline(build_toy_tokenizer())
    vae = pipe.vae.train()
    optimiser = torch.optim.AdamW(vae.parameters(), lr=1.5e-3)
    started = time.perf_counter()
    for step in range(args.vae_steps):
        batch = pixels[torch.randint(len(pixels), (args.batch,))]
        posterior = vae.encode(batch).latent_dist
        loss = torch.nn.functional.mse_loss(vae.decode(posterior.sample()).sample, batch) + 1e-6 * posterior.kl().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    vae_seconds = (time.perf_counter() - started) / max(args.vae_steps, 1)
    vae.eval()
    with torch.no_grad():
        check = pixels[:16]
        error = torch.nn.functional.mse_loss(vae.decode(vae.encode(check).latent_dist.mode()).sample, check).item()
    psnr = 10 * np.log10(4 / error)  # pixel range 2
    print(f"VAE: {vae_seconds:.3f} s a step ({args.batch} clips of 9 frames), PSNR {psnr:.1f} dB after {args.vae_steps} steps")

    model = wan.Wan(pipe)
    with torch.no_grad():
        latents = torch.cat([vae.encode(pixels[i : i + 32]).latent_dist.mode() for i in range(0, len(pixels), 32)])
    mean, std = latents.mean(dim=(0, 2, 3, 4)), latents.std(dim=(0, 2, 3, 4))
    latents = (latents - mean.view(1, -1, 1, 1, 1)) / std.view(1, -1, 1, 1, 1)
    text = model.encode_prompts(sorted(set(texts)))
    index = {caption: i for i, caption in enumerate(sorted(set(texts)))}
    rows = torch.tensor([index[t] for t in texts])
    transformer = pipe.transformer.train()
    optimiser = torch.optim.AdamW(transformer.parameters(), lr=1e-3)
    losses = []
    started = time.perf_counter()
    for step in range(args.steps):
        pick = torch.randint(len(latents), (args.batch * 2,))
        noise = torch.randn_like(latents[pick])
        timesteps = torch.rand(len(pick)) * 1000
        noisy, target = model.training_draw(latents[pick], noise, timesteps)
        loss = torch.nn.functional.mse_loss(model.predict(transformer, noisy, timesteps, text[rows[pick]]), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    seconds = (time.perf_counter() - started) / max(args.steps, 1)
    print(f"transformer: {seconds:.3f} s a step ({args.batch * 2} clips), velocity loss {np.mean(losses[:20]):.3f} → {np.mean(losses[-20:]):.3f}")


if __name__ == "__main__":
    main()
