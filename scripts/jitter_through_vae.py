"""What a jittered loser keeps of its flicker once the family's VAE has encoded it, and how far apart winner
and loser sit in latents, per latent frame: prints figures and writes docs/measured/<family>/jitter_through_vae.json.

    PYTHONPATH=src python scripts/jitter_through_vae.py --family wan
    PYTHONPATH=src python scripts/jitter_through_vae.py --family animatediff

The winners are base generations for training captions at the pair seeds (dpo's pixel winners, as
make_pairs samples them); each loser maker of videodpo.pairs.jitter makes its loser at `--strength` (1.0,
AnimateDiff's committed `data.jitter_strength`, by default). DPO learns from the latents, so a loser
teaches only the flicker its latents hold. For each maker:
- excess warping error, loser minus winner, in pixels and after encode → decode of both;
- survival: the decoded excess as a share of the pixel one;
- the latent distance, RMS(z_loser − z_winner) / RMS(z_winner), per latent frame.
And the flicker the VAE adds: the warping error, per frame transition, of steady clips (ground-truth
toy-world clips, and the winners stabilised along their optical flow) before and after encode → decode.
A transformer that aligns latents cannot take a clip's flicker below what the decoder puts back.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from experiments import ROOT, write_report

from videodpo import families, toyworld
from videodpo.config import load_config
from videodpo.core import layout, model_card, seeds
from videodpo.core import prompts as prompt_sets
from videodpo.core.clips import to_uint8_clips
from videodpo.evaluation import temporal
from videodpo.pairs import jitter, latent_losers



def round_trip(model, clips: np.ndarray, batch: int = 8) -> tuple[torch.Tensor, np.ndarray]:
    """(latents, decoded uint8 clips) of uint8 clips."""
    latents, decoded = [], []
    for start in range(0, len(clips), batch):
        z = model.encode_clips(clips[start : start + batch])
        with torch.no_grad():
            decoded.append(to_uint8_clips(model.decode(z.to(model.device, model.dtype)).float().cpu()))
        latents.append(z)
    return torch.cat(latents), np.concatenate(decoded)


def mean_warping_error(clips: np.ndarray) -> float:
    return float(np.mean([temporal.warping_error(c) for c in clips]))


def latent_distance(winners: torch.Tensor, losers: torch.Tensor) -> list[float]:
    """RMS of the difference over RMS of the winner, per latent frame, averaged over pairs: (N, C, F', h, w)."""
    difference = (losers - winners).pow(2).mean(dim=(1, 3, 4)).sqrt()
    scale = winners.pow(2).mean(dim=(1, 3, 4)).sqrt()
    return [round(float(v), 4) for v in (difference / scale).mean(dim=0)]


def base_generations(model, config, base, count: int) -> np.ndarray:
    """The base's clips for the first `count` training captions at dpo's pair seeds, as make_pairs samples its winners."""
    card = model_card.ModelCard.load(base)
    captions = prompt_sets.training_prompts(config.train_prompts_file(), card.source, families.load_base_tokenizer(base)).prompts
    prompts = [captions[i % len(captions)] for i in range(count)]
    return model.generate(
        prompts, seeds.pair_seeds(config.data.seed, count), card.frames, config.sample.num_inference_steps,
        config.sample.guidance_scale, card.shared_noise, desc="base generations", resolution=card.frame_size,
    )


def per_transition(clips: np.ndarray) -> list[float]:
    """Mean warping error of each frame transition t → t + 1 (masked pixels skipped)."""
    errors = np.array([[np.nan if e is None else e for e in temporal.transition_warping_errors(c)] for c in clips], float)
    return [round(float(v), 3) for v in np.nanmean(errors, axis=0)]


def steady_clips_through(model, config, winners: np.ndarray) -> dict:
    """Warping error of steady clips before and after the VAE: ground truth, and the winners stabilised."""
    world = config.toyworld
    truth, _ = toyworld.render_dataset(
        toyworld.held_out_captions(), 2, seed=12345, size=world.frame_size, frames=world.frames, radius=world.radius, speed=world.speed
    )
    stabilised = latent_losers.steady_clips(winners)
    rows = {}
    for name, clips in (("ground_truth", truth), ("winners_stabilised", stabilised), ("winners", winners)):
        _, decoded = round_trip(model, clips)
        rows[name] = {
            "clips": len(clips),
            "pixels": round(mean_warping_error(clips), 4), "decoded": round(mean_warping_error(decoded), 4),
            "per_transition_pixels": per_transition(clips), "per_transition_decoded": per_transition(decoded),
        }
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="wan")
    parser.add_argument("--pairs", type=int, default=32, help="how many base generations to use")
    parser.add_argument("--strength", type=float, default=1.0, help="the makers' strength")
    args = parser.parse_args()
    config = load_config(ROOT / "params.yaml", family=args.family)
    base = ROOT / layout.branch(args.family, "dpo").family.base
    model = families.load_base(base)
    winners = base_generations(model, config, base, args.pairs)
    strength = args.strength
    winner_latents, winners_decoded = round_trip(model, winners)
    winner_pixels, winner_decoded = mean_warping_error(winners), mean_warping_error(winners_decoded)
    report = {
        "family": args.family, "pairs": len(winners), "strength": strength,
        "winner_warping_error": {"pixels": round(winner_pixels, 4), "decoded": round(winner_decoded, 4)},
        "makers": {},
    }
    print(f"{args.family}: {len(winners)} winners, strength {strength}; winner warping error {winner_pixels:.3f}, decoded {winner_decoded:.3f}")
    print(f"{'maker':14s} {'excess (pixels)':>16s} {'excess (decoded)':>17s} {'survives':>9s}  latent distance per latent frame")
    for maker in jitter.CLIP_MAKERS:
        losers = np.stack([jitter.make_jitter_pair(w, maker, strength, seed)[1] for seed, w in enumerate(winners)])
        loser_latents, losers_decoded = round_trip(model, losers)
        excess_pixels = mean_warping_error(losers) - winner_pixels
        excess_decoded = mean_warping_error(losers_decoded) - winner_decoded
        row = {
            "excess_pixels": round(excess_pixels, 4),
            "excess_decoded": round(excess_decoded, 4),
            "survival": round(excess_decoded / excess_pixels, 4) if excess_pixels else None,
            "latent_distance": latent_distance(winner_latents, loser_latents),
        }
        report["makers"][maker] = row
        survival = "—" if row["survival"] is None else f"{100 * row['survival']:.0f} %"
        print(f"{maker:14s} {excess_pixels:16.3f} {excess_decoded:17.3f} {survival:>9s}  {row['latent_distance']}")
    report["steady_clips"] = steady_clips_through(model, config, winners)
    print(f"{'steady clips':20s} {'pixels':>8s} {'decoded':>8s}  decoded, per transition")
    for name, row in report["steady_clips"].items():
        print(f"{name:20s} {row['pixels']:8.3f} {row['decoded']:8.3f}  {row['per_transition_decoded']}")
    path = write_report(args.family, "jitter_through_vae", report)
    print(f"written {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
