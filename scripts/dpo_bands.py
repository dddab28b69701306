"""Where along the noise a trained DPO branch learned, and what its training curves say: prints figures and
writes docs/measured/<family>/dpo_bands_<method>[_<tag>].json. Changes nothing.

    PYTHONPATH=src python scripts/dpo_bands.py --family wan --tag latent_losers
    PYTHONPATH=src python scripts/dpo_bands.py --family animatediff

Bands: the branch's training pairs (their cached latents) drawn at timesteps in each tenth of [0, 1000),
each pair with `--draws` noises; per band, the DPO loss at the committed β, the implicit accuracy (the
share of pairs whose logit is positive), the reward margin, and the four errors behind them: policy and
reference, winner and loser. `reference gap` is the reference's loser error minus its winner error: how far
the base already tells a pair apart at that noise; near zero, the pair's difference is drowned by the noise.
Curves: the logged training series (dvclive), averaged over the first and the last fifth of the steps.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from experiments import ROOT, write_report

from videodpo import families
from videodpo.config import load_config
from videodpo.core import layout, model_card
from videodpo.core.noise import correlated_noise
from videodpo.pairs import store
from videodpo.training.dpo import DPOBatch, dpo_step
from videodpo.training.objectives import dpo_margin

SERIES = ("loss", "implicit_accuracy", "reward_margin", "mse_winner", "mse_loser", "mse_winner_reference", "mse_loser_reference")


def band_figures(model, data: dict, beta: float, shared_noise: float, low: int, high: int, draws: int) -> dict:
    rows = {name: [] for name in ("loss", "accuracy", "margin", "policy_winner", "policy_loser", "reference_winner", "reference_loser")}
    generator = torch.Generator().manual_seed(low)
    count = len(data["winners"])
    for _ in range(draws):
        for start in range(0, count, 16):
            pick = slice(start, start + 16)
            winners = data["winners"][pick]
            batch = DPOBatch(
                winners=winners, losers=data["losers"][pick], text=data["text"][pick],
                noise=correlated_noise(tuple(winners.shape), shared_noise, generator),
                timesteps=torch.randint(low, high, (len(winners),), generator=generator),
                labels=data["labels"][pick] if "labels" in data else None,
            )
            with torch.no_grad():
                step = dpo_step(model, model.denoiser, None, batch, beta)
            logits = -beta * dpo_margin(step.policy_winner, step.policy_loser, step.reference_winner, step.reference_loser)
            rows["loss"].append(torch.nn.functional.softplus(-logits).flatten())
            rows["accuracy"].append((logits > 0).float().flatten())
            rows["margin"].append(logits.flatten())
            for name, value in (("policy_winner", step.policy_winner), ("policy_loser", step.policy_loser),
                                ("reference_winner", step.reference_winner), ("reference_loser", step.reference_loser)):
                rows[name].append(value.flatten())
    means = {name: float(torch.cat(values).mean()) for name, values in rows.items()}
    means["reference_gap"] = means["reference_loser"] - means["reference_winner"]
    return {name: round(value, 6) for name, value in means.items()}


def curve_summary(folder: Path) -> dict:
    """Each logged series' mean over the first and the last fifth of the steps."""
    summary = {}
    for name in SERIES:
        path = folder / f"{name}.tsv"
        if not path.is_file():
            continue
        values = np.loadtxt(path, delimiter="\t", skiprows=1, usecols=-1, ndmin=1)
        fifth = max(1, len(values) // 5)
        summary[name] = {"first_fifth": round(float(values[:fifth].mean()), 6), "last_fifth": round(float(values[-fifth:].mean()), 6)}
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="wan")
    parser.add_argument("--method", default="dpo")
    parser.add_argument("--draws", type=int, default=4, help="noises per pair and band")
    parser.add_argument("--tag", default="", help="a name for this run's report: dpo_bands_<method>_<tag>.json")
    args = parser.parse_args()
    config = load_config(ROOT / "params.yaml", family=args.family)
    branch = layout.branch(args.family, args.method)
    card = model_card.ModelCard.load(ROOT / branch.family.base)
    model = families.load_base(ROOT / branch.family.base)
    model.load_lora(ROOT / branch.lora)
    data = store.load_latents(ROOT / branch.latents)
    beta = config.training.beta
    bands = {}
    print(f"{args.family} {args.method}: {len(data['winners'])} pairs × {args.draws} noises per band, β {beta:g}")
    print(f"{'timesteps':>10s} {'loss':>7s} {'accuracy':>9s} {'margin':>8s} {'ref gap':>9s} {'policy w−ref':>13s} {'policy l−ref':>13s}")
    for low in range(0, 1000, 100):
        row = band_figures(model, data, beta, card.shared_noise, low, low + 100, args.draws)
        bands[f"{low}-{low + 100}"] = row
        print(
            f"{low:4d}–{low + 100:<5d} {row['loss']:7.4f} {row['accuracy']:9.2f} {row['margin']:8.3f} {row['reference_gap']:9.5f} "
            f"{row['policy_winner'] - row['reference_winner']:13.6f} {row['policy_loser'] - row['reference_loser']:13.6f}"
        )
    curves = curve_summary(ROOT / branch.train_plots / "plots" / "metrics")
    print("training curves (first fifth → last fifth):")
    for name, row in curves.items():
        print(f"  {name:22s} {row['first_fifth']:10.5f} → {row['last_fifth']:10.5f}")
    report = {"family": args.family, "method": args.method, "pairs": len(data["winners"]), "draws": args.draws, "beta": beta, "bands": bands, "curves": curves}
    path = write_report(args.family, f"dpo_bands_{args.method}{'_' + args.tag if args.tag else ''}", report)
    print(f"written {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
