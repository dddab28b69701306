"""Every module a stage runs is one of its DVC dependencies: otherwise a change to it would leave the
stage's cached outputs standing (`dvc status` clean, results stale)."""

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def imported_modules(path: Path) -> set[str]:
    """The videodpo modules a file imports, at any depth in the file (imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "videodpo":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("videodpo."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[1] for alias in node.names if alias.name.startswith("videodpo."))
    return {name for name in found if (ROOT / "src/videodpo" / f"{name}.py").is_file()}


def module_closure(script: Path) -> set[str]:
    todo, seen = imported_modules(script), set()
    while todo:
        name = todo.pop()
        seen.add(name)
        todo |= imported_modules(ROOT / "src/videodpo" / f"{name}.py") - seen
    return seen


def stage_definitions():
    for name, stage in STAGES.items():
        body = stage.get("do", stage)
        script = re.search(r"stages/\w+\.py", body["cmd"]).group(0)
        yield name, script, body.get("deps", [])


@pytest.mark.parametrize("name, script, deps", list(stage_definitions()), ids=[name for name, _, _ in stage_definitions()])
def test_a_stage_lists_every_module_it_runs_as_a_dependency(name, script, deps):
    assert script in deps, f"{name}: its script {script} is not a dependency"
    missing = sorted(f"src/videodpo/{m}.py" for m in module_closure(ROOT / script) if f"src/videodpo/{m}.py" not in deps)
    assert not missing, f"{name} runs {missing} but does not list them under deps in dvc.yaml"
