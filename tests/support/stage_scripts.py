"""The stage scripts (stages/*.py) as modules, for tests that call their functions directly."""

import importlib.util
from pathlib import Path

STAGES = Path(__file__).parents[2] / "stages"


def load_stage(name: str):
    """stages/<name>.py, imported (its `if __name__ == "__main__"` block does not run)."""
    spec = importlib.util.spec_from_file_location(f"{name}_stage", STAGES / f"{name}.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    return stage
