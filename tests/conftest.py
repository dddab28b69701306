import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the tests may reach a model hub
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def toy_pipeline():
    """An untrained embedded-default pipeline (weights random but fixed)."""
    from diffusers import UNetMotionModel

    from videodpo import models

    torch.manual_seed(0)
    arch = models.ToyArchitecture()
    tokenizer = models.build_toy_tokenizer()
    unet = UNetMotionModel.from_unet2d(models.build_toy_unet2d(arch), models.build_toy_motion_adapter(arch))
    pipe = models.assemble_pipeline(
        models.build_toy_vae(arch),
        models.build_toy_text_encoder(tokenizer, arch),
        tokenizer,
        unet,
        models.build_toy_scheduler(),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe
