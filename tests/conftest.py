import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the tests may reach a model hub
# under pytest-xdist two workers share the two cores: one thread each
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def toy_pipeline():
    """An untrained embedded-default pipeline (weights random but fixed)."""
    from toy_models import build_toy_pipeline

    return build_toy_pipeline()


# The two modules that run the real `dvc repro` take minutes each. Under pytest-xdist (--dist loadfile,
# --no-loadscope-reorder) the faults module goes first, so one worker builds the micro project and
# kills stages while the other runs the unit tests, and the e2e module last, when the build is there.
FIRST, LAST = "test_pipeline_faults.py", "test_pipeline_e2e.py"


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: {FIRST: 0, LAST: 2}.get(item.path.name, 1))


@pytest.fixture(scope="session")
def micro_build(tmp_path_factory, worker_id) -> "Path":
    """The micro project after `dvc repro`, built once per session: the first worker to ask builds it
    (the others wait on the lock). Never changed: each module works on a copy (`micro_project`)."""
    from pathlib import Path

    from filelock import FileLock
    from micro_project import build_micro_project

    base = tmp_path_factory.getbasetemp()
    shared = Path(base if worker_id == "master" else base.parent) / "micro_build"
    with FileLock(f"{shared}.lock"):
        if not (shared / ".built").is_file():
            build_micro_project(shared)
            (shared / ".built").touch()
    return shared


@pytest.fixture(scope="module")
def micro_project(micro_build, tmp_path_factory):
    """This module's own copy of the built micro project, to change as its tests need."""
    import shutil

    project = tmp_path_factory.mktemp("project") / "micro"
    shutil.copytree(micro_build, project, symlinks=True, ignore=shutil.ignore_patterns(".built"))
    return project
