"""Start-up: what each stage script imports before its first line of work. Every module counted here is
paid for by every run of the stage (about 87 stage runs make one `dvc repro`), so each stage's count is
held under a budget (what it imports today, plus 5 %), and the stages that only read files or score
clips must not load the model libraries at all."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

MODULE_BUDGETS = {  # modules in sys.modules after the script's top-level imports (torch 2.13, diffusers 0.42, transformers 5.23)
    "base": 1_670,
    "preview_base": 1_610,
    "sample": 1_570,
    "make_pairs": 1_530,
    "encode_latents": 1_530,
    "train": 1_530,
    "vjepa": 3_540,
    "evaluate": 490,
    "settings": 375,
    "validation_curves": 395,
}
MODEL_LIBRARIES = ("torch", "diffusers", "transformers", "peft", "matplotlib")
WITHOUT_MODEL_LIBRARIES = ("evaluate", "settings", "validation_curves")  # they read files, score clips or write params


def top_level_imports(script: Path) -> str:
    """The import statements at the top level of a script, as source."""
    source = script.read_text()
    return "\n".join(ast.get_source_segment(source, node) for node in ast.parse(source).body if isinstance(node, (ast.Import, ast.ImportFrom)))


def imported_by(stage: str) -> dict:
    """How many modules the stage's top-level imports load in a fresh interpreter, and which model libraries among them."""
    probe = (
        f"import json, sys\n{top_level_imports(ROOT / 'stages' / f'{stage}.py')}\n"
        f"print(json.dumps({{'modules': len(sys.modules), 'libraries': [m for m in {MODEL_LIBRARIES!r} if m in sys.modules]}}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_stage_script_has_a_budget():
    assert sorted(MODULE_BUDGETS) == sorted(path.stem for path in (ROOT / "stages").glob("*.py"))


@pytest.mark.parametrize("stage", sorted(MODULE_BUDGETS))
def test_stage_imports_stay_under_their_module_budget(stage):
    loaded = imported_by(stage)
    assert loaded["modules"] <= MODULE_BUDGETS[stage], (
        f"stages/{stage}.py now imports {loaded['modules']} modules (budget {MODULE_BUDGETS[stage]}): "
        "import what only one branch of the stage needs inside that branch"
    )
    if stage in WITHOUT_MODEL_LIBRARIES:
        assert loaded["libraries"] == [], f"stages/{stage}.py loads {loaded['libraries']} before its first line of work"


def test_the_probe_counts_what_a_script_imports(tmp_path):
    """The measure itself: a script that imports torch counts torch and its modules."""
    script = tmp_path / "probe.py"
    script.write_text("import json\n\nimport torch\n\nprint('work')\n")
    assert top_level_imports(script) == "import json\nimport torch"
    probe = f"import sys\n{top_level_imports(script)}\nprint(len(sys.modules), 'torch' in sys.modules)"
    count, has_torch = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert has_torch == "True" and int(count) > MODULE_BUDGETS["evaluate"]
