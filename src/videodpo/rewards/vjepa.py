"""V-JEPA 2 as a temporal-consistency scorer (VADER's `vjepa` reward).

A V-JEPA model predicts the features of hidden parts of a clip from the visible parts; a clip whose
hidden parts follow from the rest (steady, smoothly moving) is predicted well, a flickering one is
not. The score of a clip is its masked-prediction loss: the context encoder sees only the visible
tokens, the predictor fills in the hidden ones, and the loss is their L1 distance to the target
encoder's features of the whole clip. Two kinds of mask, each half the tokens: `future` hides the
later half of the clip, `tube` a block of the frame through all time. The embedded default trains a
tiny V-JEPA 2 (transformers `VJEPA2Model`) on ground-truth toy clips here; the hub tiers load the
published weights.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import VJEPA2Config, VJEPA2Model

from videodpo.core import phases
from videodpo.core.clips import clips_to_tensor

MASK_KINDS = ("future", "tube")
# V-JEPA 2's input normalisation (ImageNet statistics), for the published weights and the tiny model alike
PIXEL_MEAN = (0.485, 0.456, 0.406)
PIXEL_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class TinyVjepa:
    """Sizes of the embedded default's V-JEPA 2."""

    patch_size: int = 8
    tubelet_size: int = 2
    hidden_size: int = 64
    layers: int = 3
    heads: int = 4
    predictor_hidden_size: int = 48
    predictor_layers: int = 2


def build_tiny_vjepa(frames: int, frame_size: int, arch: TinyVjepa = TinyVjepa()) -> VJEPA2Model:
    if frame_size % arch.patch_size or frames % arch.tubelet_size:
        raise ValueError(f"vjepa: {frames} frames of {frame_size} px do not split into {arch.tubelet_size}-frame tubelets of {arch.patch_size} px patches")
    config = VJEPA2Config(
        patch_size=arch.patch_size, crop_size=frame_size, frames_per_clip=frames, tubelet_size=arch.tubelet_size,
        hidden_size=arch.hidden_size, num_attention_heads=arch.heads, num_hidden_layers=arch.layers, mlp_ratio=2.0,
        pred_hidden_size=arch.predictor_hidden_size, pred_num_attention_heads=arch.heads,
        pred_num_hidden_layers=arch.predictor_layers, pred_num_mask_tokens=len(MASK_KINDS), num_pooler_layers=1,
    )
    return VJEPA2Model(config)


HUB_SOURCE = "source.json"  # in the vjepa stage's folder on the hub tiers: which published weights


def load_vjepa(source: str | Path, revision: str | None = None) -> VJEPA2Model:
    """A frozen scorer from a saved folder (the embedded default's) or a hub id at its revision."""
    model = VJEPA2Model.from_pretrained(str(source), revision=revision, use_safetensors=True)
    model.eval().requires_grad_(False)
    return model


@phases.timed("load")
def load_scorer(folder: Path) -> VJEPA2Model:
    """The scorer the vjepa stage chose: the model saved in `folder`, or the hub weights its
    source.json names."""
    if (folder / HUB_SOURCE).is_file():
        source = json.loads((folder / HUB_SOURCE).read_text())
        return load_vjepa(source["hub"], source["revision"])
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} holds no V-JEPA 2 model; it is made by the vjepa stage (`dvc repro vjepa`)")
    return load_vjepa(folder)


def model_input(frames: torch.Tensor, config: VJEPA2Config) -> torch.Tensor:
    """Frames (B, F, 3, H, W) in [-1, 1] → the model's input: resized to its crop size, normalised."""
    batch, count = frames.shape[:2]
    flat = frames.flatten(0, 1).float()
    if flat.shape[-1] != config.crop_size or flat.shape[-2] != config.crop_size:
        flat = F.interpolate(flat, size=(config.crop_size, config.crop_size), mode="bilinear", align_corners=False)
    mean = flat.new_tensor(PIXEL_MEAN).view(1, 3, 1, 1)
    std = flat.new_tensor(PIXEL_STD).view(1, 3, 1, 1)
    return ((flat + 1.0) / 2.0 - mean).div(std).unflatten(0, (batch, count))


def token_grid(frames: int, config: VJEPA2Config) -> tuple[int, int, int]:
    """(time, height, width) of the token grid of a clip of `frames` frames at the crop size."""
    if frames % config.tubelet_size:
        raise ValueError(f"vjepa: {frames} frames do not split into tubelets of {config.tubelet_size}; decode an even window")
    side = config.crop_size // config.patch_size
    return frames // config.tubelet_size, side, side


def prediction_masks(grid: tuple[int, int, int], kind: str, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (context, target) of one mask: `future` hides the later half of the time slots (at
    least one), `tube` a random block of half the frame's rows and columns through all time."""
    time, height, width = grid
    ids = torch.arange(time * height * width).view(time, height, width)
    hidden = torch.zeros(time, height, width, dtype=torch.bool)
    if kind == "future":
        hidden[time - max(time // 2, 1):] = True
    elif kind == "tube":
        rows, cols = max(height // 2, 1), max(width // 2, 1)
        top = int(torch.randint(height - rows + 1, (1,), generator=generator))
        left = int(torch.randint(width - cols + 1, (1,), generator=generator))
        hidden[:, top:top + rows, left:left + cols] = True
    else:
        raise ValueError(f"vjepa mask {kind!r}; known: {', '.join(MASK_KINDS)}")
    return ids[~hidden], ids[hidden]


def encode_context(model: VJEPA2Model, pixels: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """The encoder on the visible tokens only (as V-JEPA's context encoder), their positions kept
    for the rotary embeddings: (B, context tokens, hidden)."""
    encoder = model.encoder
    tokens = encoder.embeddings(pixels)
    positions = context.to(tokens.device).unsqueeze(0).expand(len(tokens), -1)
    hidden = tokens.gather(1, positions.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
    for layer in encoder.layer:
        hidden = layer(hidden, positions)[0]
    return encoder.layernorm(hidden)


def masked_prediction_loss(
    model: VJEPA2Model, frames: torch.Tensor, masks: list[tuple[torch.Tensor, torch.Tensor]], target_encoder: torch.nn.Module | None = None,
) -> torch.Tensor:
    """Per-clip loss (B,): mean L1 between the predictor's features of the hidden tokens and the
    target encoder's (the model's own encoder unless given) features of the whole clip, averaged over
    `masks`. Differentiable in the frames and in the model."""
    pixels = model_input(frames, model.config).to(next(model.parameters()).dtype)
    targets = (target_encoder or model.encoder)(pixel_values_videos=pixels).last_hidden_state
    batch, tokens, width = targets.shape
    losses = []
    for context, target in masks:
        visible = encode_context(model, pixels, context)
        context_ids = context.to(pixels.device).unsqueeze(0).expand(batch, -1)
        target_ids = target.to(pixels.device).unsqueeze(0).expand(batch, -1)
        # the predictor gathers the context itself, so it takes the context's features at their places
        placed = visible.new_zeros(batch, tokens, visible.shape[-1]).scatter(1, context_ids.unsqueeze(-1).expand_as(visible), visible)
        predicted = model.predictor(encoder_hidden_states=placed, context_mask=[context_ids], target_mask=[target_ids]).last_hidden_state
        wanted = targets.gather(1, target_ids.unsqueeze(-1).expand(-1, -1, width))
        losses.append((predicted - wanted).abs().mean(dim=(1, 2)))
    return torch.stack(losses).mean(dim=0)


def scoring_masks(frames: int, config: VJEPA2Config, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The fixed masks a clip is scored with: the future mask and four tube masks from `seed`, so the
    same clip always gets the same score."""
    grid = token_grid(frames, config)
    generator = torch.Generator().manual_seed(seed)
    return [prediction_masks(grid, "future")] + [prediction_masks(grid, "tube", generator) for _ in range(4)]


def consistency_reward(model: VJEPA2Model, frames: torch.Tensor) -> torch.Tensor:
    """Negative masked-prediction loss of each clip (B,), differentiable in the frames (B, F, 3, H, W).
    A clip is scored on its whole tubelets: one of 4k + 1 frames (Wan's) on its first 4k."""
    frames = frames[:, : scored_frames(frames.shape[1], model.config)]
    return -masked_prediction_loss(model, frames, scoring_masks(frames.shape[1], model.config))


def scored_frames(frames: int, config) -> int:
    """The frames of a clip the scorer reads: its whole tubelets."""
    return frames - frames % config.tubelet_size


@dataclass(frozen=True)
class VjepaTraining:
    steps: int
    batch_clips: int
    learning_rate: float
    ema: float  # target encoder ← ema · target + (1 − ema) · context encoder, each step
    seed: int = 0


def train_vjepa(model: VJEPA2Model, clips: torch.Tensor, training: VjepaTraining, log=None) -> list[float]:
    """Self-supervised V-JEPA training on clips (N, F, 3, H, W) in [-1, 1]: each step one mask of each
    kind, a fresh batch, the target encoder an exponential moving average of the context encoder.
    The model's encoder ends as the target encoder (V-JEPA keeps that one). Returns the losses."""
    torch.manual_seed(training.seed)
    generator = torch.Generator().manual_seed(training.seed)
    target_encoder = copy.deepcopy(model.encoder).requires_grad_(False)
    optimiser = torch.optim.AdamW(model.parameters(), lr=training.learning_rate, weight_decay=0.04)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, training.learning_rate, total_steps=training.steps, pct_start=0.1)
    grid = token_grid(clips.shape[1], model.config)
    model.train()
    losses = []
    for step in tqdm(range(training.steps), desc="vjepa: training", unit="step"):
        rows = torch.randint(len(clips), (training.batch_clips,), generator=generator)
        masks = [prediction_masks(grid, kind, generator) for kind in MASK_KINDS]
        loss = masked_prediction_loss(model, clips[rows], masks, target_encoder).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            for target, online in zip(target_encoder.parameters(), model.encoder.parameters()):
                target.lerp_(online, 1.0 - training.ema)
        losses.append(loss.item())
        if log:
            log({"loss": losses[-1]}, step)
    model.encoder.load_state_dict(target_encoder.state_dict())
    model.eval().requires_grad_(False)
    return losses


def clip_scores(model: VJEPA2Model, clips: np.ndarray, batch: int = 16) -> np.ndarray:
    """Masked-prediction loss (lower = more predictable) of each uint8 clip (N, F, H, W, 3)."""
    scores = []
    with torch.no_grad():
        for start in range(0, len(clips), batch):
            scores.append(-consistency_reward(model, clips_to_tensor(clips[start:start + batch])))
    return torch.cat(scores).numpy()
