"""Every module a stage runs is one of its DVC dependencies: otherwise a change to it would leave the
stage's cached outputs standing (`dvc status` clean, results stale)."""

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


SRC = ROOT / "src"


def module_file(dotted: str) -> Path | None:
    """The file of a videodpo module or package (videodpo.a.b → src/videodpo/a/b.py or its __init__.py)."""
    base = SRC.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def with_packages(dotted: str) -> set[str]:
    """A module and the packages Python runs first to import it (videodpo's own __init__ aside)."""
    parts = dotted.split(".")
    return {".".join(parts[:i]) for i in range(2, len(parts) + 1)}


def imported_modules(path: Path) -> set[str]:
    """The videodpo modules a file imports, at any depth in the file (imports inside functions too),
    with the packages they sit in, as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "videodpo":
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # a submodule, where the name is one
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "videodpo")
    return {package for name in found for package in with_packages(name) if module_file(package)}


def module_closure(script: Path) -> set[str]:
    """Every module file (relative to the repository) that running `script` imports."""
    todo, seen = imported_modules(script), set()
    while todo:
        name = todo.pop()
        seen.add(name)
        todo |= imported_modules(module_file(name)) - seen
    return {str(module_file(name).relative_to(ROOT)) for name in seen}


def stage_definitions():
    for name, stage in STAGES.items():
        body = stage.get("do", stage)
        script = re.search(r"stages/\w+\.py", body["cmd"]).group(0)
        yield name, script, body.get("deps", [])


@pytest.mark.parametrize("name, script, deps", list(stage_definitions()), ids=[name for name, _, _ in stage_definitions()])
def test_a_stage_lists_every_module_it_runs_as_a_dependency(name, script, deps):
    assert script in deps, f"{name}: its script {script} is not a dependency"
    missing = sorted(module_closure(ROOT / script) - set(deps))
    assert not missing, f"{name} runs {missing} but does not list them under deps in dvc.yaml"


@pytest.mark.parametrize("name, script, deps", list(stage_definitions()), ids=[name for name, _, _ in stage_definitions()])
def test_a_stage_lists_no_module_it_does_not_run(name, script, deps):
    """A listed module the stage never imports would rerun it for a change that cannot touch its outputs."""
    listed = {dep for dep in deps if dep.startswith("src/") and dep.endswith(".py")}
    extra = sorted(listed - module_closure(ROOT / script))
    assert not extra, f"{name} lists {extra} under deps in dvc.yaml but never imports them"
