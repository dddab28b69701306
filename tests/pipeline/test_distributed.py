"""Many processes through accelerate: data-parallel training ends with one LoRA, and sharded sampling
gathers what one process makes (the shards themselves: tests/unit/test_distributed_shards.py).

The multi-process test starts two real gloo processes on CPU, exactly as a user would:
`ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file as load_numpy
from safetensors.torch import load_file

PROBE = Path(__file__).parents[1] / "support/multiprocess_probe.py"


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("two_processes")
    env = {
        **os.environ, "ACCELERATE_USE_CPU": "true", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
    }
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517", str(PROBE), str(out),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, f"accelerate launch failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return out


@pytest.mark.slow
def test_two_gloo_processes_train_on_different_shards(two_processes):
    reports = [json.loads((two_processes / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["processes"] for r in reports] == [2, 2] and [r["steps"] for r in reports] == [3, 3]
    first, second = (set(r["rows_seen"]) for r in reports)
    assert first and second and not first & second
    assert first <= set(range(0, 4)) and second <= set(range(4, 8))  # 8 pairs: rank 0 holds 0–3, rank 1 holds 4–7


@pytest.mark.slow
def test_two_gloo_processes_end_with_one_identical_trained_lora_saved_once(two_processes):
    rank0, rank1 = (load_file(str(two_processes / f"rank-{r}.safetensors")) for r in (0, 1))
    assert rank0.keys() == rank1.keys() and len(rank0) > 0
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0)
    # lora_B starts at zero, so a non-zero one was trained
    assert any(t.abs().sum() > 0 for n, t in rank0.items() if "lora_B" in n)
    saved = load_file(str(next((two_processes / "lora").glob("*.safetensors"))))
    assert len(saved) == len(rank0)
    saved_total = sum(float(t.double().sum()) for t in saved.values())
    assert saved_total == pytest.approx(sum(float(t.double().sum()) for t in rank0.values()), rel=1e-9)
    assert sorted(p.name for p in two_processes.iterdir() if p.is_dir()) == ["lora"]


@pytest.mark.slow
def test_sharded_sampling_gathers_the_clips_one_process_makes(two_processes):
    clips = load_numpy(str(two_processes / "clips.safetensors"))
    assert clips["gathered"].shape == clips["alone"].shape == (6, 8, 32, 32, 3)
    assert np.abs(clips["gathered"].astype(int) - clips["alone"].astype(int)).max() <= 1
