"""Building and loading AnimateDiff pipelines: the embedded toy model and the hub model.

Everything here speaks diffusers' own formats, so each artifact the project writes opens in
`AnimateDiffPipeline.from_pretrained` and `pipe.load_lora_weights`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from diffusers import (
    AnimateDiffPipeline,
    AutoencoderKL,
    DDIMScheduler,
    MotionAdapter,
    UNet2DConditionModel,
    UNetMotionModel,
)
from safetensors import SafetensorError
from tokenizers.pre_tokenizers import ByteLevel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from videodpo import toyworld
from videodpo.integrity import DamagedFileError, remake_hint
from videodpo.outputs import canonical_safetensors

# peft full-matches this against module names: the attention projections of the temporal
# (motion) transformers only, never the spatial attention of each frame.
MOTION_ATTENTION_LORA_TARGETS = r".*motion_modules\.\d+\.transformer_blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)"
# the spatial layers' attention as well (self- and cross-attention of every spatial transformer block)
MOTION_AND_SPATIAL_ATTENTION_LORA_TARGETS = r".*(motion_modules|attentions)\.\d+\.transformer_blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)"
LORA_TARGETS = {"motion": MOTION_ATTENTION_LORA_TARGETS, "motion_and_spatial": MOTION_AND_SPATIAL_ATTENTION_LORA_TARGETS}
TEXT_LENGTH = 16


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


def _learn_merges(words: list[str]) -> list[tuple[str, str]]:
    """Byte-pair merges learned as BPE learns them: most frequent adjacent pair first.

    Applying merges by rank then replays this learning exactly, so each word ends as one token
    (merges chained word by word would collide: "red" would split "green").
    """
    pieces = {word: [*word[:-1], word[-1] + "</w>"] for word in words}
    merges: list[tuple[str, str]] = []
    while any(len(parts) > 1 for parts in pieces.values()):
        counts = Counter(pair for parts in pieces.values() for pair in zip(parts, parts[1:]))
        best = max(sorted(counts), key=counts.__getitem__)
        merges.append(best)
        for word, parts in pieces.items():
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            pieces[word] = merged
    return merges


def build_toy_tokenizer() -> CLIPTokenizer:
    """A CLIP BPE tokenizer in which every toy-world word is exactly one token.

    The vocabulary is the byte-level alphabet (so any text tokenizes), its end-of-word variants,
    every merged piece of the toy words, and CLIP's two special tokens.
    """
    alphabet = sorted(ByteLevel.alphabet())
    vocab: dict[str, int] = {}
    for symbol in alphabet + [a + "</w>" for a in alphabet]:
        vocab.setdefault(symbol, len(vocab))
    merges = _learn_merges(toyworld.vocabulary())
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    vocab.setdefault("<|startoftext|>", len(vocab))
    vocab.setdefault("<|endoftext|>", len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=TEXT_LENGTH)


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


def save_pipeline(pipe: AnimateDiffPipeline, path: Path) -> None:
    pipe.save_pretrained(path, safe_serialization=True)


def load_pipeline(path: Path, dtype: torch.dtype = torch.float32) -> AnimateDiffPipeline:
    """Open a saved pipeline folder from disk only (safetensors weights, no network)."""
    path = Path(path)
    if not (path / "model_index.json").is_file():
        raise DamagedFileError(f"{path} is not a diffusers pipeline folder (no model_index.json); {remake_hint('base')}")
    try:
        pipe = AnimateDiffPipeline.from_pretrained(path, torch_dtype=dtype, use_safetensors=True, local_files_only=True)
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:  # a part missing, truncated or of other shapes
        raise DamagedFileError(f"{path} is incomplete or damaged ({first_line(error)}); {remake_hint('base')}") from error
    pipe.set_progress_bar_config(disable=True)
    return pipe


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{error.__class__.__name__}: {text.splitlines()[0] if text else ''}"


# ---------------------------------------------------------------------------------------------
# The hub model


@dataclass(frozen=True)
class HubModel:
    base: str
    revision: str
    motion_adapter: str
    motion_adapter_revision: str


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def resolve_hub_pipeline(model: HubModel, dtype: torch.dtype = torch.float32) -> AnimateDiffPipeline:
    """Load an SD1.5 checkpoint and a motion adapter at pinned revisions into one AnimateDiff pipeline.

    Honours HF_HUB_OFFLINE: offline, a model missing from the local cache fails with what to fetch.
    Local folders are accepted for both (the tests build tiny ones). The scheduler becomes DDIM as
    AnimateDiff samples it (linear betas, linspace timesteps, no sample clipping).
    """
    offline = hub_offline()
    common = dict(torch_dtype=dtype, use_safetensors=True, local_files_only=offline)
    try:
        adapter = MotionAdapter.from_pretrained(model.motion_adapter, revision=model.motion_adapter_revision, **common)
        pipe = AnimateDiffPipeline.from_pretrained(
            model.base, revision=model.revision, motion_adapter=adapter, **common
        )
    except OSError as error:
        hint = (
            "HF_HUB_OFFLINE is set and the model is not in the local cache: fetch it once with "
            f"`huggingface-cli download {model.base} --revision {model.revision}` and "
            f"`huggingface-cli download {model.motion_adapter} --revision {model.motion_adapter_revision}`"
            if offline
            else "check the repository names and revisions under `model.hub` in params.yaml"
        )
        raise RuntimeError(f"could not load the hub model ({error.__class__.__name__}: {error}); {hint}") from error
    pipe.scheduler = DDIMScheduler.from_config(
        pipe.scheduler.config, beta_schedule="linear", timestep_spacing="linspace", clip_sample=False, steps_offset=1
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def is_commit(revision: str) -> bool:
    return len(revision) == 40 and all(c in "0123456789abcdef" for c in revision.lower())


def resolved_commit(repo: str, revision: str, filename: str) -> str | None:
    """The commit a revision (branch, tag or commit) of a hub repository resolved to, read from the
    local cache after loading; None for a local folder, which has no commits."""
    from huggingface_hub import try_to_load_from_cache

    if Path(repo).is_dir():
        return None
    if is_commit(revision):
        return revision.lower()
    cached = try_to_load_from_cache(repo, filename, revision=revision)
    return Path(cached).parent.name if isinstance(cached, str) else None


def hub_commits(model: HubModel) -> dict[str, str | None]:
    """{repository: commit} of the base model and the motion adapter, as loaded."""
    return {
        model.base: resolved_commit(model.base, model.revision, "model_index.json"),
        model.motion_adapter: resolved_commit(model.motion_adapter, model.motion_adapter_revision, "config.json"),
    }


@contextmanager
def adapters_disabled(unet: torch.nn.Module):
    """Inside this block the UNet is the base model: its LoRA adapters are switched off."""
    unet.disable_adapters()
    try:
        yield unet
    finally:
        unet.enable_adapters()


# ---------------------------------------------------------------------------------------------
# What a saved base model folder says about how to sample it

MODEL_CARD = "videodpo.json"


@dataclass(frozen=True)
class ModelCard:
    """Sampling facts a pipeline folder cannot hold itself; written beside model_index.json."""

    source: str
    frames: int
    frame_size: int
    shared_noise: float
    commits: dict[str, str | None] | None = None  # hub: the commit each repository was loaded at

    def save(self, folder: Path) -> None:
        fields = {key: value for key, value in asdict(self).items() if value is not None}
        (Path(folder) / MODEL_CARD).write_text(json.dumps(fields, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> "ModelCard":
        path = Path(folder) / MODEL_CARD
        if not path.is_file():
            raise DamagedFileError(f"{path} is missing: {folder} was not written whole by the base stage; {remake_hint('base')}")
        try:
            return cls(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as error:
            raise DamagedFileError(f"{path} is damaged ({error}); {remake_hint('base')}") from error


# ---------------------------------------------------------------------------------------------
# LoRA on the motion modules

LORA_ADAPTER = "temporal_alignment"


def add_motion_lora(unet: UNetMotionModel, rank: int, alpha: float, adapter_name: str = LORA_ADAPTER, targets: str = "motion"):
    """Add a LoRA to the motion modules' attention projections (`targets="motion"`), or to the
    spatial transformer blocks' attention too (`"motion_and_spatial"`); return its peft config.

    The base weights are frozen; only the LoRA matrices train.
    """
    from peft import LoraConfig

    if targets not in LORA_TARGETS:
        raise ValueError(f"LoRA targets {targets!r}; allowed: {', '.join(LORA_TARGETS)}")
    config = LoraConfig(r=rank, lora_alpha=alpha, init_lora_weights="gaussian", target_modules=LORA_TARGETS[targets])
    unet.requires_grad_(False)
    unet.add_adapter(config, adapter_name=adapter_name)
    unet.set_adapter(adapter_name)
    return config


def save_motion_lora(unet: UNetMotionModel, lora_config, folder: Path, adapter_name: str = LORA_ADAPTER) -> None:
    """Save the LoRA in diffusers format, with its adapter metadata so lora_alpha ≠ r reloads at the right scale."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, adapter_name=adapter_name))
    AnimateDiffPipeline.save_lora_weights(
        folder, unet_lora_layers=layers, unet_lora_adapter_metadata=lora_config.to_dict(), safe_serialization=True
    )
    for weights in Path(folder).glob("*.safetensors"):
        canonical_safetensors(weights)  # the same LoRA, the same bytes: its DVC hash does not flip between runs


def load_motion_lora(pipe: AnimateDiffPipeline, folder: Path, adapter_name: str = LORA_ADAPTER) -> None:
    """Load a LoRA written by save_motion_lora into the pipeline and make it the active adapter."""
    folder = Path(folder)
    made_by = f"train@{folder.name}"
    if not any(folder.glob("*.safetensors")):
        raise DamagedFileError(f"no LoRA weights in {folder}; {remake_hint(made_by)}")
    try:
        pipe.load_lora_weights(folder, adapter_name=adapter_name)
    except RuntimeError as error:  # size mismatches: weights of another base, or not of the rank their metadata names
        mismatches = str(error).count("size mismatch")
        raise DamagedFileError(
            f"{folder} does not fit this base model ({mismatches} weights of other shapes: trained on another base, "
            f"or its weights are not of the rank its adapter metadata names); {remake_hint(made_by)}"
        ) from error
    except (OSError, ValueError, SafetensorError) as error:
        raise DamagedFileError(f"{folder} is damaged ({first_line(error)}); {remake_hint(made_by)}") from error
    pipe.set_adapters([adapter_name])
