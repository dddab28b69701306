"""Subnormal floats flushed to zero in the stages that compute with a family model
(videodpo.core.precision.flush_denormals): set per process, so each check runs in its own."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]


def subnormal_products(flush: bool) -> dict:
    """1e-39 (a subnormal float32) times 1, on the main thread and through torch's 2 worker threads."""
    probe = (
        "import json, torch\n"
        "from videodpo.core import precision\n"
        f"if {flush}:\n    precision.flush_denormals()\n"
        "torch.set_num_threads(2)\n"
        "tiny = torch.full((1,), 1e-39)\n"
        "many = torch.full((1 << 20,), 1e-39)\n"
        "print(json.dumps({'main': (tiny * 1.0).item(), 'threads': int(((many * 1.0) != 0).sum())}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_flushing_makes_subnormals_zero_on_the_main_thread_and_in_torch_workers():
    kept = subnormal_products(flush=False)
    assert kept["main"] > 0 and kept["threads"] == 1 << 20
    flushed = subnormal_products(flush=True)
    assert flushed == {"main": 0.0, "threads": 0}


def model_stage_scripts() -> set[str]:
    """The stages that compute with a family model: those whose deps hold their family's code folder."""
    scripts = set()
    for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values():
        body = stage.get("do", stage)
        if any(str(dep).startswith("src/videodpo/families/${") for dep in body.get("deps", [])):
            scripts.add(next(word for word in body["cmd"].split() if word.startswith("stages/")))
    return scripts


def test_every_stage_that_computes_with_a_family_model_flushes_first():
    scripts = model_stage_scripts()
    assert {"stages/base.py", "stages/sample.py", "stages/train.py"} <= scripts
    for script in sorted(scripts):
        tree = ast.parse((ROOT / script).read_text())
        main_block = next(node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test))
        assert ast.unparse(main_block.body[0]) == "precision.flush_denormals()", f"{script}: flush subnormals before anything else"
