"""Benchmark: where every stage kind's time goes in one `dvc repro`, and how far its compute is from its floor.

    mkdir -p runs/phases
    VIDEODPO_PHASES=$PWD/runs/phases dvc repro 2>&1 | while IFS= read -r line; do echo "$(date +%s.%N) $line"; done > runs/repro.log
    PYTHONPATH=src python benchmarks/stage_profile.py --phases runs/phases --log runs/repro.log [--workspace .] [--no-floors]

Every stage tallies its own time (videodpo.core.phases): start-up (the interpreter and imports, up to
its first line of work), load (base models, LoRAs, other stages' tensors), write (its outputs) and
compute (the rest). A model stage imports its family's model code (diffusers' classes, peft) on first
use, inside its work: the stage times that import where it happens and counts it as start-up. The
log, each line of `dvc repro`'s output behind the time it was printed, gives each stage's wall time;
what it holds beyond the stage's own tally is DVC's (hashing, caching).

The floor is the least the compute can cost on this machine: the family's own model (the workspace's
base) at the stage's batch shapes, timed bare in a loop (the fastest of several warm calls, no_grad where
nothing trains), times the calls the stage must make:
- sample (and sample_base): per batch of 8 clips, each sampling step's denoiser call on the
  unconditional and conditional halves as one batch, then the VAE decode;
- make_pairs: the clips it generates, as sample (dpo: the winners; vanilla_dpo: two clips a pair;
  dense_dpo, dense_dpo_third: the ground truth encoded, then two copies denoised over the last
  round(η·N) steps; vader: the reference clips at vader's steps; grpo: none), then the optical flows
  that verify or label them;
- encode_latents: the VAE encode of every winner and loser;
- train: every optimiser step at the stage's batch (DPO family: the policy's forward and backward on
  winners and losers, the reference's forward, the optimiser step; vader: vader.vader_step at the
  branch's settings), plus each validation's sampling and flows; grpo's rounds have no floor here;
- evaluate: the DIS optical flow both ways and the Farneback flow of every frame pair of every clip
  it scores, with one flow object reused.
base, preview_base and vjepa pretrain or sample their own way and get no floor. Writes
benchmarks/results/stage_profile.json, from which the README's profile table is generated.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).parents[1]
SAMPLE_BATCH = 8  # the families' generate batch
DPO_FAMILY = ("dpo", "vanilla_dpo", "dense_dpo", "dense_dpo_third")
NO_FLOOR = {
    "base": "pretraining: its own loops of VAE, image and motion steps",
    "preview_base": "a handful of preview clips",
    "vjepa": "trains its own scorer",
    "settings": "no model",
    "validation_curves": "no model",
}
PHASES = ("startup", "load", "compute", "write")
def read_tallies(folder: Path) -> list[dict]:
    """Every stage run's tally (rank 0's under accelerate)."""
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json")) if ".rank" not in path.name]


def timed_lines(log: Path) -> list[tuple[float, str]]:
    """(epoch seconds, text) of every line of a timestamped `dvc repro` log; lines without a time are skipped."""
    lines = []
    for line in log.read_text().splitlines():
        stamp, _, text = line.partition(" ")
        try:
            lines.append((float(stamp), text))
        except ValueError:
            continue
    return lines


def stage_walls(lines: list[tuple[float, str]]) -> dict[str, float]:
    """Wall seconds per stage: from its `Running stage` line to the next stage's (or the last line)."""
    starts = [(found.group(1), stamp) for stamp, text in lines if (found := re.match(r"Running stage '([^']+)'", text))]
    ends = [start for _, start in starts[1:]] + [lines[-1][0]] if starts else []
    return {stage: end - start for (stage, start), end in zip(starts, ends)}


def parse_stage(stage: str) -> tuple[str, str, str, str]:
    """(kind, family, method or "", split or "") of a stage name such as train@wan-dpo, sample@wan-dpo-dev or sample_base@wan-dev."""
    kind, _, rest = stage.partition("@")
    family, _, detail = rest.partition("-")
    if kind == "sample":
        method, _, split = detail.rpartition("-")
        return kind, family, method, split
    if kind in ("sample_base", "evaluate"):
        return kind, family, "", detail
    return kind, family, detail, ""


def kind_of(stage: str) -> tuple[str, str, str]:
    """(kind, family, method) of a stage name: the split does not change the work, so a profile row holds both."""
    return parse_stage(stage)[:3]


def best_seconds(call, warm: int = 2, timed: int = 7) -> float:
    """The fastest of `timed` warm calls: a floor is the least the work can cost, and noise only adds."""
    for _ in range(warm):
        call()
    seconds = []
    for _ in range(timed):
        began = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - began)
    return min(seconds)


class FamilyCosts:
    """Bare costs of one family's workspace base model: a denoiser call, a decode, an encode, a DPO step, flows."""

    def __init__(self, family: str):
        import torch

        from videodpo.config import load_config
        from videodpo.core import layout, model_card

        self.torch = torch
        self.family = family
        self.config = load_config(family=family)
        self.card = model_card.ModelCard.load(layout.Family(family).base)
        self.model = self.fresh_model()
        self.prompt = "a red square moving left"
        self.cache: dict = {}

    def latents(self, batch: int):
        return self.torch.cat([self.model.initial_latents(self.card.frames, seed, self.card.shared_noise, self.card.frame_size) for seed in range(batch)])

    def memo(self, key, measure) -> float:
        if key not in self.cache:
            self.cache[key] = measure()
        return self.cache[key]

    def denoise(self, batch: int) -> float:
        """One denoiser call on `batch` latents (a guided step of batch // 2 clips)."""

        def measure():
            latents = self.latents(batch)
            text = self.model.encode_prompts([self.prompt] * batch)
            steps = self.torch.full((batch,), 500)
            with self.torch.no_grad():
                return best_seconds(lambda: self.model.predict(self.model.denoiser, latents, steps, text))

        return self.memo(("denoise", batch), measure)

    def decode(self, batch: int) -> float:
        def measure():
            latents = self.latents(batch)
            with self.torch.no_grad():
                return best_seconds(lambda: self.model.decode(latents))

        return self.memo(("decode", batch), measure)

    def encode(self, batch: int) -> float:
        def measure():
            import numpy as np

            size = self.card.frame_size
            clips = np.random.default_rng(0).integers(0, 256, (batch, self.card.frames, size, size, 3), dtype=np.uint8)
            with self.torch.no_grad():
                return best_seconds(lambda: self.model.encode_clips(clips))

        return self.memo(("encode", batch), measure)

    def sampling(self, clips: int, steps: int) -> float:
        """Guided sampling of `clips` clips over `steps` steps in batches of 8: the denoiser and the decode alone."""
        full, rest = divmod(clips, SAMPLE_BATCH)
        batches = [SAMPLE_BATCH] * full + ([rest] if rest else [])
        return sum(steps * self.denoise(2 * b) + self.decode(b) for b in batches)

    def flows(self, clips: int) -> float:
        """The optical flows evaluate computes for `clips` clips: DIS both ways and Farneback per frame pair."""

        def measure():
            import cv2
            import numpy as np

            from videodpo import toyworld
            from videodpo.evaluation import temporal

            world = self.config.toyworld
            clip = toyworld.render_clip(toyworld.Caption.parse(self.prompt), np.random.default_rng(0), world.frame_size, self.card.frames, world.radius, world.speed)
            scale = temporal._flow_scale(clip[0])
            grays = [temporal._gray(frame, scale) for frame in clip]
            plain = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in clip]
            dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

            def every_pair():
                for a, b, pa, pb in zip(grays[:-1], grays[1:], plain[:-1], plain[1:]):
                    dis.calc(a, b, None)
                    dis.calc(b, a, None)
                    cv2.calcOpticalFlowFarneback(pa, pb, None, 0.5, 3, 15, 3, 5, 1.2, 0)

            return best_seconds(every_pair, timed=30)

        return clips * self.memo(("flows",), measure)

    def dpo_step(self) -> float:
        def measure():
            from family_steps import dpo_runner

            return best_seconds(dpo_runner(self.fresh_model(), self.config), timed=5)

        return self.memo(("dpo_step",), measure)

    def vader_step(self) -> float:
        def measure():
            from family_steps import vader_runner

            return best_seconds(vader_runner(self.fresh_model(), self.config, as_configured=True), timed=3)

        return self.memo(("vader_step",), measure)

    def fresh_model(self):
        from videodpo import families
        from videodpo.core import layout

        return families.load_base(layout.Family(self.family).base)


def validations(workspace: Path, family: str, method: str) -> int:
    """How many times the train stage scored its validation clips (rows of its validation table)."""
    table = workspace / "plots" / "train" / family / method / "validation.csv"
    return max(0, len(table.read_text().splitlines()) - 1) if table.is_file() else 0


def step_settings(workspace: Path, family: str, method: str, step: str) -> dict:
    """The settings a branch's step ran with, as its settings stage wrote them."""
    return json.loads((workspace / "data" / family / "settings" / method / f"{step}.json").read_text())["settings"]


def sampled_clips(workspace: Path, family: str, split: str, variant: str) -> int:
    return len(json.loads((workspace / "results" / family / "samples" / split / variant / "samples.json").read_text()))


def floor_of(costs: FamilyCosts, stage: str, workspace: Path) -> tuple[float | None, str]:
    """(floor seconds of one run of the stage, what it counts), or (None, why there is none)."""
    kind, family, method, split = parse_stage(stage)
    if kind in NO_FLOOR:
        return None, NO_FLOOR[kind]
    steps = costs.config.sample.num_inference_steps
    if kind in ("sample", "sample_base"):
        clips = sampled_clips(workspace, family, split, method or "base")
        return costs.sampling(clips, steps), f"{clips} clips × {steps} guided steps + decode"
    if kind == "evaluate":
        folder = workspace / "results" / family / "samples" / split
        clips = sum(sampled_clips(workspace, family, split, variant.name) for variant in folder.iterdir() if variant.is_dir())
        return costs.flows(clips), f"flows of {clips} clips"
    if kind == "train":
        trained = json.loads((workspace / "metrics" / family / f"train_{method}.json").read_text())
        steps_done, checks = trained["optimizer_steps"], validations(workspace, family, method)
        validation = checks * (costs.sampling(8, steps) + costs.flows(8))
        if method in DPO_FAMILY:
            return steps_done * costs.dpo_step() + validation, f"{steps_done} DPO steps + {checks} validations of 8 clips"
        if method == "vader":
            return steps_done * costs.vader_step() + validation, f"{steps_done} vader steps + {checks} validations of 8 clips"
        return None, "grpo: sampling rounds with log-probabilities and policy updates; no bare loop here"
    pairs = json.loads((workspace / "metrics" / family / f"pairs_{method}.json").read_text())
    if kind == "make_pairs":
        settings = step_settings(workspace, family, method, "pairs")
        steps = settings.get("num_inference_steps", steps)
        if method == "dpo":
            count = pairs["pairs"]
            return costs.sampling(count, steps) + costs.flows(2 * count), f"{count} winners × {steps} steps, flows of {2 * count} clips"
        if method == "vanilla_dpo":
            count = pairs["pairs_made"]
            return 2 * costs.sampling(count, steps) + costs.flows(2 * count), f"2 × {count} clips × {steps} steps, flows of {2 * count}"
        if method in ("dense_dpo", "dense_dpo_third"):
            from videodpo.pairs.guided import denoising_steps

            count, run = pairs["pairs_made"], denoising_steps(settings["dense"]["eta"], steps)
            encode = math.ceil(count / SAMPLE_BATCH) * costs.encode(min(count, SAMPLE_BATCH))
            return encode + 2 * costs.sampling(count, run) + costs.flows(2 * count), f"encode {count}, 2 × {count} clips × {run} steps, flows of {2 * count}"
        if method == "vader":
            count = pairs["queries"]
            return costs.sampling(count, steps) + costs.flows(count), f"{count} references × {steps} steps, flows of {count}"
        return 0.0, "writes its prompts: no model"
    if kind == "encode_latents":
        if method not in DPO_FAMILY:
            return None, "prompt embeddings and reference frames: no model call worth a floor"
        count = pairs.get("kept", pairs.get("pairs_kept", 0))
        return 2 * costs.encode(count), f"encode 2 × {count} clips"
    return None, "unknown stage kind"


def profile(tallies: list[dict], walls: dict[str, float], workspace: Path, floors: bool) -> list[dict]:
    """One row per (kind, family, method): runs and seconds per phase summed over them, wall, floor and compute / floor."""
    rows: dict[tuple, dict] = {}
    costs: dict[str, FamilyCosts] = {}
    for tally in sorted(tallies, key=lambda t: t["stage"]):
        stage = tally["stage"]
        key = kind_of(stage)
        row = rows.setdefault(key, {"kind": key[0], "family": key[1], "method": key[2], "runs": 0, **dict.fromkeys(PHASES, 0.0), "wall": 0.0})
        row["runs"] += 1
        for phase in PHASES:
            row[phase] += tally[phase] or 0.0
        row["wall"] += walls.get(stage, float("nan"))
        if floors and key[0] not in NO_FLOOR:
            if key[1] not in costs:
                costs[key[1]] = FamilyCosts(key[1])
            floor, row["floor_counts"] = floor_of(costs[key[1]], stage, workspace)
            row["floor"] = None if floor is None else row.get("floor", 0.0) + floor  # a kind's runs all have a floor or none
            print(f"{stage:32s} compute {tally['compute']:7.1f} s  floor {floor if floor is not None else float('nan'):7.1f} s  ({row['floor_counts']})", flush=True)
        elif key[0] in NO_FLOOR:
            row["floor"], row["floor_counts"] = None, NO_FLOOR[key[0]]
    for row in rows.values():
        row["dvc_overhead"] = row["wall"] - row["startup"] - row["load"] - row["compute"] - row["write"]
        row["compute_over_floor"] = row["compute"] / row["floor"] if row.get("floor") else None
    return [{k: (round(v, 3) if isinstance(v, float) and not math.isnan(v) else v) for k, v in row.items()} for row in rows.values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", required=True, type=Path, help="the folder VIDEODPO_PHASES named during the repro")
    parser.add_argument("--log", type=Path, help="the repro's output, each line behind its epoch time")
    parser.add_argument("--workspace", type=Path, default=Path("."), help="the repro's workspace (its models, metrics and plots)")
    parser.add_argument("--no-floors", action="store_true", help="phases only: time no floor")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/stage_profile.json")
    args = parser.parse_args()
    tallies = read_tallies(args.phases)
    if not tallies:
        raise SystemExit(f"{args.phases}: no stage tallies; run `VIDEODPO_PHASES={args.phases} dvc repro` first")
    lines = timed_lines(args.log) if args.log else []
    walls = stage_walls(lines)
    out = args.out.resolve()
    os.chdir(args.workspace)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch
    from bench_setup import device_info

    rows = profile(tallies, walls, Path("."), not args.no_floors)
    totals = defaultdict(float)
    for row in rows:
        for phase in (*PHASES, "wall"):
            totals[phase] += row[phase] if isinstance(row[phase], float) and not math.isnan(row[phase]) else 0.0
    report = {**device_info(torch.device("cpu")), "stage_runs": len(tallies), "repro_seconds": round(lines[-1][0] - lines[0][0], 1) if lines else None,
              "totals_seconds": {k: round(v, 1) for k, v in totals.items()}, "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{len(tallies)} stage runs: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in report["totals_seconds"].items()))


if __name__ == "__main__":
    main()
