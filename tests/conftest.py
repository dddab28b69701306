import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the tests may reach a model hub
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def toy_pipeline():
    """An untrained embedded-default pipeline (weights random but fixed)."""
    from toy_models import build_toy_pipeline

    return build_toy_pipeline()
