"""Run under `accelerate launch` by tests/test_distributed.py: sharded sampling and DPO training,
with each process reporting what it saw and what it holds.

Writes to the folder given as argv[1]:
  clips.safetensors        main only: the clips gathered from every process, and the same clips made by one
  rank-<r>.json            every process: its rank, the process count and the pairs its batches drew
  rank-<r>.safetensors     every process: its LoRA weights after training
  lora/                    main only: the LoRA saved as the train stage saves it
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file
from algorithms import dpo_loop
from toy_models import build_toy_model

from videodpo.core import distributed
from videodpo.training.dpo import train_dpo_lora

PAIRS = 8


def main(out: Path, state) -> None:
    torch.set_num_threads(1)
    model = build_toy_model()
    prompts = ["a red circle moving left", "a blue square moving up", "a green triangle moving right"] * 2
    seeds = list(range(len(prompts)))
    mine = distributed.my_shard(len(prompts))
    clips = model.generate(prompts[mine.start : mine.stop], seeds[mine.start : mine.stop], 8, 2, 2.0, 0.5, batch_size=2)
    gathered = distributed.gather_rows(clips, len(prompts))
    if state.is_main_process:
        alone = model.generate(prompts, seeds, 8, 2, 2.0, 0.5, batch_size=2)
        save_numpy({"gathered": gathered, "alone": alone}, str(out / "clips.safetensors"))

    generator = torch.Generator().manual_seed(7)
    data = {
        "winners": torch.randn(PAIRS, 4, 8, 8, 8, generator=generator),
        "losers": torch.randn(PAIRS, 4, 8, 8, 8, generator=generator),
        "text": torch.randn(PAIRS, 16, 32, generator=generator),
    }
    torch.manual_seed(0)
    lora = model.add_lora(rank=2, alpha=4)
    settings = dpo_loop(max_steps=3, batch_size=2, learning_rate=1e-2, beta=500.0, shared_noise=0.5)
    run = train_dpo_lora(model, None, data, settings)
    rank = state.process_index
    report = {"rank": rank, "processes": state.num_processes, "steps": run.steps, "rows_seen": sorted(run.rows_seen)}
    (out / f"rank-{rank}.json").write_text(json.dumps(report))
    save_file({n: p.detach().contiguous() for n, p in model.denoiser.named_parameters() if p.requires_grad}, str(out / f"rank-{rank}.safetensors"))
    with distributed.main_process_writes() as writes:
        if writes:
            model.save_lora(lora, out / "lora")


if __name__ == "__main__":
    with distributed.process_group() as processes:
        main(Path(sys.argv[1]), processes)
