"""DVC stage `settings@<family>-<method>`: what each later stage of the method's branch reads.

DVC can put a method's name into the paths of the stages it expands from `methods`, but it cannot
pick a params section by that name. So each branch starts here: this stage depends on all of
params.yaml and the project's code, and writes data/<family>/settings/<method>/<stage>.json for each
of the method's steps (pairs, latents, train), from the params as the family reads them (its
section's overrides merged): exactly the settings the step reads and a digest of the code
the step runs (videodpo.core.code_closure). The branch's stages depend on their file, so a change to one
method's params or code reruns only the steps it reaches.
"""

import sys
from pathlib import Path

from videodpo import methods
from videodpo.config import ConfigError, load_config
from videodpo.core import code_closure, layout, outputs, phases


def step_code_digest(method: str, stage: str) -> str:
    """A digest of the code the method's step for `stage` runs."""
    steps = frozenset(methods.STEPS.values())
    return code_closure.digest(code_closure.function_closure(methods.module_name(method), methods.STEPS[stage], steps))


def write_branch_settings(folder: str | Path, method: str, settings: dict) -> None:
    """One file per step: its settings and the digest of its code."""
    for stage, values in settings.items():
        record = {"code": step_code_digest(method, stage), "settings": values.model_dump(mode="json")}
        outputs.write_json(methods.settings_path(folder, stage), record)


def main(branch: layout.Branch) -> None:
    try:
        settings = methods.branch_settings(load_config(family=branch.family.name), branch.method)
    except (ConfigError, ValueError) as error:
        raise SystemExit(f"{branch.stage('settings')}: {error}") from None
    write_branch_settings(branch.settings, branch.method, settings)


if __name__ == "__main__":
    family, method = (sys.argv[1:] + ["", ""])[:2]
    branch = layout.branch(family, method)
    with phases.stage_run(branch.stage("settings")):
        main(branch)
