"""The untrained embedded-default model the tests use (weights random but fixed)."""

import torch
from diffusers import UNetMotionModel

from videodpo.families.animatediff import AnimateDiff, toy


def build_toy_model() -> AnimateDiff:
    torch.manual_seed(0)
    arch = toy.ToyArchitecture()
    tokenizer = toy.build_toy_tokenizer()
    unet = UNetMotionModel.from_unet2d(toy.build_toy_unet2d(arch), toy.build_toy_motion_adapter(arch))
    pipe = toy.assemble_pipeline(toy.build_toy_vae(arch), toy.build_toy_text_encoder(tokenizer, arch), tokenizer, unet, toy.build_toy_scheduler())
    pipe.set_progress_bar_config(disable=True)
    return AnimateDiff(pipe)
