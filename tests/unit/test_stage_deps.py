"""Every module a stage runs is one of its DVC dependencies, and no other: a missing one would leave
the stage's cached outputs standing after a change (`dvc status` clean, results stale), an extra one
would rerun it for a change that cannot touch its outputs. A method's step code reaches its stages
through the digest in its settings file (tests/test_methods.py)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from videodpo.core.code_closure import script_closure

ROOT = Path(__file__).parents[2]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
WHOLE_SOURCE = "src/videodpo"  # settings@animatediff-<method> digests every method's code, so it depends on all of it


def module_closure(script: Path) -> set[str]:
    return {str(path.relative_to(ROOT)) for path in script_closure(script)}


def stage_definitions():
    for name, stage in STAGES.items():
        body = stage.get("do", stage)
        script = re.search(r"stages/\w+\.py", body["cmd"]).group(0)
        yield name, script, body.get("deps", [])


@pytest.mark.parametrize("name, script, deps", list(stage_definitions()), ids=[name for name, _, _ in stage_definitions()])
def test_a_stage_lists_every_module_it_runs_as_a_dependency(name, script, deps):
    assert script in deps, f"{name}: its script {script} is not a dependency"
    if WHOLE_SOURCE in deps:
        return
    missing = sorted(module_closure(ROOT / script) - set(deps))
    assert not missing, f"{name} runs {missing} but does not list them under deps in dvc.yaml (python scripts/stage_deps.py)"


@pytest.mark.parametrize("name, script, deps", list(stage_definitions()), ids=[name for name, _, _ in stage_definitions()])
def test_a_stage_lists_no_module_it_does_not_run(name, script, deps):
    listed = {dep for dep in deps if dep.startswith("src/") and dep.endswith(".py")}
    extra = sorted(listed - module_closure(ROOT / script))
    assert not extra, f"{name} lists {extra} under deps in dvc.yaml but never imports them (python scripts/stage_deps.py)"


def test_the_source_folder_is_a_dependency_of_the_settings_stage_alone():
    """A folder dependency covers every module and reruns its stage for any change: only the stage
    that digests every method's code may have one."""
    holders = [name for name, _, deps in stage_definitions() if WHOLE_SOURCE in deps]
    assert holders == ["settings"]


def test_the_module_closure_follows_imports_inside_functions_and_through_modules(tmp_path):
    """The closure reads imports at any depth of a file and follows them module to module: the
    train stage reaches the methods registry, and the registry nothing of a method's step code."""
    closure = module_closure(ROOT / "stages/train.py")
    assert "src/videodpo/methods/__init__.py" in closure
    assert not any(path.startswith("src/videodpo/methods/") and not path.endswith("__init__.py") for path in closure)
    script = tmp_path / "script.py"
    script.write_text("def run():\n    from videodpo.training import dpo\n")
    reached = module_closure(script)
    assert {"src/videodpo/training/dpo.py", "src/videodpo/training/lora_loop.py", "src/videodpo/training/objectives.py"} <= reached


def test_the_dependency_writer_leaves_dvc_yaml_as_committed():
    done = subprocess.run([sys.executable, "scripts/stage_deps.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_whole_params_file_is_a_file_dependency_not_a_params_entry():
    """DVC re-reads and rewrites all of dvc.lock after every stage it runs. A whole params file
    under `params:` records each of its ~250 values in the lock for every stage of a matrix (a fifth
    of the lock for the settings stages, ~1 s more per stage of a repro); as a file dependency it is
    one hash, reruns the same stages, and `dvc exp show` still lists every param."""
    whole_files = [
        (name, entry)
        for name, stage in STAGES.items()
        for entry in stage.get("do", stage).get("params", [])
        if isinstance(entry, dict) and any(not keys for keys in entry.values())
    ]
    assert not whole_files, f"{whole_files}: list a whole params file under deps instead"
    assert "params.yaml" in STAGES["settings"]["deps"]
