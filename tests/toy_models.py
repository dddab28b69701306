"""The untrained embedded-default pipeline the tests use (weights random but fixed)."""

import torch
from diffusers import UNetMotionModel

from videodpo import models


def build_toy_pipeline():
    torch.manual_seed(0)
    arch = models.ToyArchitecture()
    tokenizer = models.build_toy_tokenizer()
    unet = UNetMotionModel.from_unet2d(models.build_toy_unet2d(arch), models.build_toy_motion_adapter(arch))
    pipe = models.assemble_pipeline(
        models.build_toy_vae(arch), models.build_toy_text_encoder(tokenizer, arch), tokenizer, unet, models.build_toy_scheduler()
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe
