"""Benchmark: one process on both cores against two processes on one core each, for the work the stages do.

    PYTHONPATH=src python benchmarks/thread_split.py [--repeats 4] [--out benchmarks/results/thread_split.json]

For each family's toy model at the committed sizes (random weights: the cost does not depend on them) and each
workload (sampling a batch of `SAMPLE_BATCH` clips as the sample stage does, one DPO step, one VADER step as
configured), it times the workload `repeats` times in a fresh process three ways: one process with 2 threads,
one process with 1 thread, and two processes with 1 thread each at once (they start timing together). Throughput
is work per wall second; the figure that decides how a stage should use the cores is the two processes' throughput
over the one process's on both cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKLOADS = ("sample", "dpo", "vader")
SAMPLE_BATCH = 8


def runner(family: str, workload: str):
    import torch
    from family_steps import dpo_runner, toy_models, vader_runner

    model, config = toy_models()[family]
    if workload == "dpo":
        return dpo_runner(model, config)
    if workload == "vader":
        return vader_runner(model, config, as_configured=True)
    prompts = ["a red square moving left"] * SAMPLE_BATCH

    def sample() -> None:
        model.generate(prompts, list(range(SAMPLE_BATCH)), config.toyworld.frames, config.sample.num_inference_steps,
                       config.sample.guidance_scale, 0.0, batch_size=SAMPLE_BATCH, resolution=config.toyworld.frame_size)

    torch.manual_seed(0)
    return sample


def worker(family: str, workload: str, threads: int, repeats: int, barrier: Path, peers: int) -> None:
    """Warm up, wait for the peers to be warm too, then time `repeats` runs; prints the seconds as JSON."""
    import torch

    torch.set_num_threads(threads)
    run = runner(family, workload)
    run()
    barrier.mkdir(exist_ok=True)
    (barrier / str(time.time_ns())).touch()
    while len(list(barrier.iterdir())) < peers:
        time.sleep(0.01)
    began = time.perf_counter()
    for _ in range(repeats):
        run()
    print(json.dumps({"seconds": time.perf_counter() - began}))


def launch(family: str, workload: str, threads: int, repeats: int, processes: int) -> float:
    """Wall seconds per run of the workload, each process doing `repeats` runs; the slowest process's time."""
    with tempfile.TemporaryDirectory() as folder:
        barrier = Path(folder) / "barrier"
        command = [sys.executable, __file__, "--worker", family, workload, str(threads), str(repeats), str(barrier), str(processes)]
        children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        seconds = [json.loads(child.communicate()[0].strip().splitlines()[-1])["seconds"] for child in children]
    return max(seconds) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--out", default="benchmarks/results/thread_split.json")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        family, workload, threads, repeats, barrier, peers = args.worker
        worker(family, workload, int(threads), int(repeats), Path(barrier), int(peers))
        return
    import torch
    from bench_setup import device_info

    rows = []
    for family in ("animatediff", "wan"):
        for workload in WORKLOADS:
            both = launch(family, workload, 2, args.repeats, 1)
            one = launch(family, workload, 1, args.repeats, 1)
            pair = launch(family, workload, 1, args.repeats, 2)
            row = {"family": family, "workload": workload, "one_process_2_threads_s": round(both, 3), "one_process_1_thread_s": round(one, 3),
                   "two_processes_1_thread_each_s": round(pair, 3), "throughput_two_processes_over_one": round(2 * both / pair, 2)}
            rows.append(row)
            print(row, flush=True)
    report = {**device_info(torch.device("cpu")), "repeats": args.repeats, "sample_batch": SAMPLE_BATCH, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
