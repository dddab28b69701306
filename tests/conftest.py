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
