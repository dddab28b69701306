"""The embedded default's AnimateDiff: a tiny SD1.5-shaped model (VAE, CLIP text encoder with a
tokenizer of the toy world's words, image UNet, motion adapter, DDIM) built from sizes alone, for the
base stage to pretrain (videodpo.families.animatediff.pretraining)."""

from __future__ import annotations

from dataclasses import dataclass

from diffusers import (
    AnimateDiffPipeline,
    AutoencoderKL,
    DDIMScheduler,
    MotionAdapter,
    UNet2DConditionModel,
    UNetMotionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from videodpo.toyworld.tokenizer import TEXT_LENGTH, build_toy_tokenizer  # noqa: F401  (the family's tokenizer)


@dataclass(frozen=True)
class ToyArchitecture:
    """Sizes of the embedded default model (see params.yaml `model.toy`)."""

    frame_size: int = 32
    frames: int = 8
    vae_channels: tuple[int, ...] = (16, 32, 64)
    unet_channels: tuple[int, ...] = (32, 64)
    text_width: int = 32
    text_layers: int = 2
    motion_heads: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "vae_channels", tuple(self.vae_channels))
        object.__setattr__(self, "unet_channels", tuple(self.unet_channels))


def build_toy_text_encoder(tokenizer: CLIPTokenizer, arch: ToyArchitecture) -> CLIPTextModel:
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch.text_width,
        intermediate_size=arch.text_width * 4,
        num_hidden_layers=arch.text_layers,
        num_attention_heads=4,
        max_position_embeddings=TEXT_LENGTH,
        projection_dim=arch.text_width,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config)


def build_toy_vae(arch: ToyArchitecture) -> AutoencoderKL:
    depth = len(arch.vae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * depth,
        up_block_types=("UpDecoderBlock2D",) * depth,
        block_out_channels=arch.vae_channels,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=arch.frame_size,
    )


def build_toy_unet2d(arch: ToyArchitecture) -> UNet2DConditionModel:
    depth = len(arch.unet_channels)
    return UNet2DConditionModel(
        sample_size=arch.frame_size // 2 ** (len(arch.vae_channels) - 1),
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D",) * depth,
        up_block_types=("CrossAttnUpBlock2D",) * depth,
        block_out_channels=arch.unet_channels,
        layers_per_block=1,
        cross_attention_dim=arch.text_width,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def build_toy_motion_adapter(arch: ToyArchitecture) -> MotionAdapter:
    return MotionAdapter(
        block_out_channels=arch.unet_channels,
        motion_layers_per_block=1,
        motion_num_attention_heads=arch.motion_heads,
        motion_norm_num_groups=8,
        motion_max_seq_length=max(arch.frames, 8),
        use_motion_mid_block=True,
    )


def build_toy_scheduler() -> DDIMScheduler:
    # v-prediction with a cosine schedule and trailing timesteps: at such small latents the last
    # sampling step starts from (almost) pure noise, as it does in training.
    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="v_prediction",
        timestep_spacing="trailing",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=0,
    )


def assemble_pipeline(
    vae: AutoencoderKL,
    text_encoder: CLIPTextModel,
    tokenizer: CLIPTokenizer,
    unet: UNetMotionModel,
    scheduler: DDIMScheduler,
) -> AnimateDiffPipeline:
    for module in (vae, text_encoder, unet):
        module.eval()  # as from_pretrained gives them: train mode can change outputs slightly
    return AnimateDiffPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        motion_adapter=None,
        scheduler=scheduler,
        feature_extractor=None,
        image_encoder=None,
    )


