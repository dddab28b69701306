"""Choose a method's settings on the dev split: run each candidate setting as a DVC experiment up to
`evaluate@dev` (no test clip is sampled or scored), and pick by a rule fixed before the runs.

    python scripts/dev_sweep.py dense_dpo                # one sweep of SWEEPS on animatediff; writes docs/measured/animatediff/sweep_dense_dpo.json
    python scripts/dev_sweep.py dpo --family wan         # on the wan family: docs/measured/wan/sweep_dpo.json
    python scripts/dev_sweep.py --list

The rule (videodpo.evaluation.judgements: its guards and `choose`): among the candidates whose dev
changes keep the video, the lowest warping error. Each candidate changes the committed params.yaml as its name says; the sweep's method runs
alone in its family (`families=[<family>]`, `methods=[<method>]`), and its figures are its change from the base on dev with paired 95 %
intervals. Run from a committed workspace: every experiment branches from the commit, and an
interrupted sweep resumes (finished candidates are read from their experiment refs).
"""

from __future__ import annotations

import argparse
import sys

import yaml
from experiments import ROOT, base_at, change_cells, experiments_on_the_commit, read_json, run_experiment, write_report

sys.path.insert(0, str(ROOT / "src"))
from videodpo.evaluation import judgements  # noqa: E402

# sweep → the method it scores, and its candidates: name → params changes (-S syntax)
SWEEPS = {
    "dpo": ("dpo", {
        "committed": [],
        "data.jitter_strength=0.5": ["data.jitter_strength=0.5"],
        "data.jitter_strength=2.0": ["data.jitter_strength=2.0"],
    }),
    "vader": ("vader", {
        "committed": [],
        "vader.learning_rate=0.005": ["vader.learning_rate=0.005"],
        "vader.max_steps=20": ["vader.max_steps=20"],
        "vader.guard.layout=5": ["vader.guard.layout=5.0"],
    }),
    "grpo": ("grpo", {
        "committed": [],
        "grpo.learning_rate=0.01": ["grpo.learning_rate=0.01"],
        "grpo.updates_per_round=1": ["grpo.updates_per_round=1"],  # a round per step: twice the clips
        "grpo.train_steps=5": ["grpo.train_steps=5"],  # the high-noise half of the sampler steps, as Flow-GRPO prefers
        # VADER's appearance guard as a penalty; `++` because grpo.guard is an empty mapping, to which `-S` adds no key otherwise
        "grpo.guard=vader_guard": ["++grpo.guard={contrast:20.0,colour:1.0,layout:1.0}"],
    }),
    # the dense_dpo section is also vanilla_dpo's (labeller, tie margin) and dense_dpo_third's: they follow its choice
    "dense_dpo": ("dense_dpo", {
        "committed": [],
        "dense_dpo.tie_margin=0.3": ["dense_dpo.tie_margin=0.3"],
        "dense_dpo.tie_margin=0.7": ["dense_dpo.tie_margin=0.7"],
        "dense_dpo.copy_shared_noise=null": ["dense_dpo.copy_shared_noise=null"],
        "dense_dpo.segment_frames=4": ["dense_dpo.segment_frames=4"],
        "dense_dpo.eta=0.8": ["dense_dpo.eta=0.8"],
    }),
}
# a family's own candidates where the shared ones do not suit it (changes name the shared keys; they reach the family as below)
FAMILY_SWEEPS = {
    ("wan", "dense_dpo"): ("dense_dpo", {
        "committed": [],  # wan's tie margin 0.2: the toy Wan's copies differ less in warping error than AnimateDiff's
        "dense_dpo.tie_margin=0.1": ["dense_dpo.tie_margin=0.1"],
        "dense_dpo.tie_margin=0.3": ["dense_dpo.tie_margin=0.3"],
        "dense_dpo.copy_shared_noise=null": ["dense_dpo.copy_shared_noise=null"],
        "dense_dpo.eta=0.8": ["dense_dpo.eta=0.8"],
    }),
    # wan's pixel losers keep 12 % of their flicker through its causal VAE (scripts/jitter_through_vae.py, docs/wan.md):
    # losers made in the latents, Flow-DPO's β (500 in VideoAlign's convention, half of it in ours) and the low-noise band
    ("wan", "dpo"): ("dpo", {
        "committed": [],
        "dpo.loser_space=latents+data.jitter_strength=1": ["dpo.loser_space=latents", "data.jitter_strength=1.0"],
        "dpo.loser_space=latents+data.jitter_strength=2": ["dpo.loser_space=latents", "data.jitter_strength=2.0"],
        "dpo.loser_space=latents+data.jitter_strength=2+training.beta=250": ["dpo.loser_space=latents", "data.jitter_strength=2.0", "training.beta=250"],
        "training.beta=250": ["training.beta=250"],
        "training.max_timestep=500": ["training.max_timestep=500"],
        # after the six above: losers in the latents lower the warping error more the stronger they are
        "dpo.loser_space=latents+data.jitter_strength=3": ["dpo.loser_space=latents", "data.jitter_strength=3.0"],
        "dpo.loser_space=latents+data.jitter_strength=4": ["dpo.loser_space=latents", "data.jitter_strength=4.0"],
        "dpo.loser_space=latents+data.jitter_strength=2+training.sft_weight=5": ["dpo.loser_space=latents", "data.jitter_strength=2.0", "training.sft_weight=5"],
        "dpo.loser_space=latents+data.jitter_strength=2+training.beta=5000": ["dpo.loser_space=latents", "data.jitter_strength=2.0", "training.beta=5000"],
    }),
    # on wan's base the decoder puts most of the flicker back (docs/wan.md): what keeps the shapes moving while the reward is won
    ("wan", "vader"): ("vader", {
        "committed": [],
        "vader.learning_rate=0.005": ["vader.learning_rate=0.005"],
        "vader.max_steps=10": ["vader.max_steps=10"],
        "vader.guard.layout=5": ["vader.guard.layout=5.0"],
        "vader.backprop=random": ["vader.backprop=random"],  # the steps that carry gradient: a random cutoff, not all
        "vader.decode_frames=2": ["vader.decode_frames=2"],  # the reward on a random window of 2 of wan's 3 latent frames
        # after the six above: the gentler rate kept motion, travel and contrast, and the stronger layout guard adherence best
        "vader.learning_rate=0.005+vader.guard.layout=5": ["vader.learning_rate=0.005", "vader.guard.layout=5.0"],
        "vader.learning_rate=0.0025": ["vader.learning_rate=0.0025"],
        "vader.learning_rate=0.0025+vader.guard.layout=5": ["vader.learning_rate=0.0025", "vader.guard.layout=5.0"],
    }),
    # what the field does on Wan: Flow-GRPO's KL β 0.004, and training the high-noise steps only
    ("wan", "grpo"): ("grpo", {
        "committed": [],
        "grpo.kl_weight=0.004": ["grpo.kl_weight=0.004"],
        "grpo.train_steps=5": ["grpo.train_steps=5"],
        "grpo.kl_weight=0.004+grpo.train_steps=5": ["grpo.kl_weight=0.004", "grpo.train_steps=5"],
        "grpo.guard=vader_guard": ["++grpo.guard={contrast:20.0,colour:1.0,layout:1.0}"],
        # after the five above: each raised the warping error and cut contrast: a gentler rate, and the flow reward without brightness
        "grpo.learning_rate=0.001": ["grpo.learning_rate=0.001"],
        "grpo.learning_rate=0.001+grpo.kl_weight=0.004": ["grpo.learning_rate=0.001", "grpo.kl_weight=0.004"],
        "grpo.rewards.brightness=0": ["grpo.rewards.brightness=0.0"],  # the flow reward alone
    }),
}
SHOWN = ("warping_error", "frame_difference", "motion", "travel", "contrast", "adherence")


def for_family(change: str, family: str, params: dict) -> str:
    """A change of a shared key (`section.key=value`) as the family's run sees it: through the family's own
    overrides of that section where it has them (they would win over the shared value), else as it is."""
    key, value = change.split("=", 1)
    key = key.lstrip("+")  # a shared key's `+`/`++` says how it meets the shared section; the family's own key is spelled below
    section, rest = key.split(".", 1)
    overrides = params.get(family, {}).get("overrides", {})
    if section not in overrides:
        return change
    node = overrides[section]
    for part in rest.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return f"{'' if node is not None else '+'}{family}.overrides.{key}={value}"


def sweep(name: str, family: str) -> dict:
    method, candidates = FAMILY_SWEEPS.get((family, name), SWEEPS[name])
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    runs = {}
    with experiments_on_the_commit() as commit:
        for candidate, overrides in candidates.items():
            label = f"dev-{family}-{name}-{candidate}".replace("=", "-").replace(".", "_")
            changes = [for_family(change, family, params) for change in overrides]
            ref = run_experiment(label, [f"families=[{family}]", f"methods=[{method}]", *changes], f"evaluate@{family}-dev")
            evaluation = read_json(ref, f"metrics/{family}/eval_dev.json")
            result = evaluation["methods"][method]
            pairs = read_json(ref, f"metrics/{family}/pairs_{method}.json")
            runs[candidate] = {
                "overrides": changes,
                "experiment": ref,
                "change": {key: result["change"][key] for key in SHOWN if key in result["change"]},
                "adherence_points": judgements.adherence_points(evaluation, method),
                "guards": judgements.keeps_the_video(evaluation, method),
                "labels": pairs.get("labels"),
                "motion_bias": pairs.get("motion_bias"),
            }
    return {
        "family": family, "method": method, "split": "dev", "n_samples": evaluation["n_samples"], "commit": commit,
        "base": base_at(commit, family),  # the base the candidates trained on
        "rule": judgements.guards_text(), "runs": runs, "chosen": judgements.choose(runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", nargs="?", choices=sorted(SWEEPS))
    parser.add_argument("--family", default="animatediff", help="the model family whose branch is swept (default: animatediff)")
    parser.add_argument("--list", action="store_true", help="print the sweeps and their candidates")
    args = parser.parse_args()
    if args.list or not args.sweep:
        for name, (method, candidates) in SWEEPS.items():
            print(f"{name} ({method}): " + ", ".join(candidates))
        for (family, name), (method, candidates) in FAMILY_SWEEPS.items():
            print(f"{name} ({method}) on {family}: " + ", ".join(candidates))
        return 0
    report = sweep(args.sweep, args.family)
    path = write_report(args.family, f"sweep_{args.sweep}", report)
    for candidate, run in report["runs"].items():
        print(f"{candidate:40s} {change_cells(run['change'])}  keeps the video: {all(run['guards'].values())}")
    print(f"chosen on dev: {report['chosen']}  ({path.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
