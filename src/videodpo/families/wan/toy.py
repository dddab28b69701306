"""The embedded default's Wan: a tiny Wan 2.1-shaped model (causal 3-D VAE compressing 4× in space and
in time, a UMT5 text encoder over the toy world's tokenizer, the video transformer, flow-matching
Euler sampling) built from sizes alone, for the base stage to pretrain.

Clips have 4k + 1 frames: the causal VAE keeps the first frame alone in latent frame 0 and groups
pixel frames 4j−3 … 4j into latent frame j."""

from __future__ import annotations

from dataclasses import dataclass

from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
from transformers import CLIPTokenizer, UMT5Config, UMT5EncoderModel

from videodpo.families.wan.frames import TEMPORAL_COMPRESSION
from videodpo.families.wan.settings import FLOW_SHIFT


@dataclass(frozen=True)
class ToyWanArchitecture:
    """Sizes of the toy Wan."""

    frame_size: int = 32
    frames: int = 9  # 4k + 1
    latent_channels: int = 16
    vae_base: int = 8
    vae_levels: int = 3  # each halves space; the last two halve time too: 4× in both
    vae_residual: bool = False  # Wan 2.2's VAE blocks: each resampling also passes its input through by folding pixels
    heads: int = 2
    head_width: int = 32  # Wan's rotary positions: head_width // 6 frequencies per spatial axis
    layers: int = 4
    text_width: int = 32
    text_layers: int = 2

    def __post_init__(self) -> None:
        if (self.frames - 1) % TEMPORAL_COMPRESSION:
            raise ValueError(f"the toy Wan makes clips of 4k + 1 frames, not {self.frames}: use {self.frames - (self.frames - 1) % 4}")
        if self.vae_levels < 3:
            raise ValueError("the toy Wan's VAE needs 3 levels or more: two of them compress time")

    @property
    def vae_dim_mult(self) -> list[int]:
        # widths double up to 4× the base; a residual VAE's stop at 2×, as its pass-through of a 3-D
        # resampling (8 pixels folded into channels) must divide into the next level's width
        return [2 ** min(i, 1 if self.vae_residual else 2) for i in range(self.vae_levels)]


def build_toy_vae(arch: ToyWanArchitecture) -> AutoencoderKLWan:
    levels = arch.vae_levels
    return AutoencoderKLWan(
        base_dim=arch.vae_base,
        z_dim=arch.latent_channels,
        dim_mult=arch.vae_dim_mult,
        num_res_blocks=1,
        is_residual=arch.vae_residual,
        temperal_downsample=[i >= levels - 3 for i in range(levels - 1)],
        latents_mean=[0.0] * arch.latent_channels,  # the base stage fits them to its clips
        latents_std=[1.0] * arch.latent_channels,
        scale_factor_spatial=2 ** (levels - 1),
        scale_factor_temporal=TEMPORAL_COMPRESSION,
    )


def build_toy_text_encoder(tokenizer: CLIPTokenizer, arch: ToyWanArchitecture) -> UMT5EncoderModel:
    config = UMT5Config(
        vocab_size=len(tokenizer), d_model=arch.text_width, d_kv=arch.text_width // 4, d_ff=arch.text_width * 2,
        num_layers=arch.text_layers, num_heads=4, relative_attention_num_buckets=8, pad_token_id=tokenizer.pad_token_id,
        dropout_rate=0.0,  # as the toy AnimateDiff's CLIP text model: dropout in a 32-wide encoder blurs the caption words
    )
    return UMT5EncoderModel(config)


def build_toy_transformer(arch: ToyWanArchitecture) -> WanTransformer3DModel:
    return WanTransformer3DModel(
        patch_size=(1, 1, 1), num_attention_heads=arch.heads, attention_head_dim=arch.head_width,
        in_channels=arch.latent_channels, out_channels=arch.latent_channels, text_dim=arch.text_width, freq_dim=64,
        ffn_dim=arch.heads * arch.head_width * 2, num_layers=arch.layers, rope_max_seq_len=64,
    )


def build_toy_scheduler() -> FlowMatchEulerDiscreteScheduler:
    return FlowMatchEulerDiscreteScheduler(shift=FLOW_SHIFT)


def build_toy_pipeline(tokenizer: CLIPTokenizer, arch: ToyWanArchitecture = ToyWanArchitecture()) -> WanPipeline:
    vae, text_encoder, transformer = build_toy_vae(arch), build_toy_text_encoder(tokenizer, arch), build_toy_transformer(arch)
    for module in (vae, text_encoder, transformer):
        module.eval()  # as from_pretrained gives them: the UMT5's dropout would change every output
    return WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=build_toy_scheduler())
