"""CLIP image–text similarity of decoded frames (VADER's `clip_text` reward, its image–text family).

Hub weights at a pinned revision (params `reward_models.clip`); the embedded toy world has no CLIP of
its own, so the reward is for the hub tiers, or for the toy tier where those weights are in the local
cache. Only safetensors weights are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from videodpo.core import phases
from videodpo.core.clips import clips_to_tensor

# CLIP's input normalisation (its published preprocessing statistics)
PIXEL_MEAN = (0.48145466, 0.4578275, 0.40821073)
PIXEL_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ClipScorer:
    model: torch.nn.Module  # transformers' CLIPModel
    tokenizer: object  # its CLIPTokenizer


@phases.timed("load")
def load_clip_scorer(source: str | Path, revision: str | None = None, local_files_only: bool = False) -> ClipScorer:
    """A frozen CLIP and its tokenizer from a hub id at `revision`, or a saved folder;
    `local_files_only`: from the local cache alone (OSError when the weights are not there)."""
    from transformers import (  # here: a stage that never scores with CLIP does not import transformers
        CLIPModel,
        CLIPTokenizer,
    )

    model = CLIPModel.from_pretrained(str(source), revision=revision, use_safetensors=True, local_files_only=local_files_only)
    model.eval().requires_grad_(False)
    return ClipScorer(model, CLIPTokenizer.from_pretrained(str(source), revision=revision, local_files_only=local_files_only))


def image_input(frames: torch.Tensor, image_size: int) -> torch.Tensor:
    """Frames (N, 3, H, W) in [-1, 1] → CLIP's input: resized to its image size, normalised."""
    pixels = F.interpolate(frames.float(), size=(image_size, image_size), mode="bicubic", align_corners=False)
    mean = pixels.new_tensor(PIXEL_MEAN).view(1, 3, 1, 1)
    std = pixels.new_tensor(PIXEL_STD).view(1, 3, 1, 1)
    return ((pixels + 1.0) / 2.0 - mean) / std


def projected(features) -> torch.Tensor:
    """The projected embeddings: transformers ≥ 5 returns them as an output's pooler_output, earlier
    versions as a tensor."""
    return features if isinstance(features, torch.Tensor) else features.pooler_output


def text_similarity(scorer: ClipScorer, frames: torch.Tensor, prompts: list[str]) -> torch.Tensor:
    """Cosine similarity of each frame with its clip's prompt, averaged over the frames: (B,) for
    frames (B, F, 3, H, W) in [-1, 1]; differentiable in the frames."""
    if len(prompts) != len(frames):
        raise ValueError(f"clip_text: {len(prompts)} prompts for {len(frames)} clips; one prompt per clip")
    model = scorer.model
    tokens = scorer.tokenizer(prompts, padding=True, truncation=True, return_tensors="pt").to(frames.device)
    text = F.normalize(projected(model.get_text_features(**tokens)), dim=-1)  # (B, D)
    images = image_input(frames.flatten(0, 1), model.config.vision_config.image_size).to(next(model.parameters()).dtype)
    image = F.normalize(projected(model.get_image_features(pixel_values=images)), dim=-1).unflatten(0, frames.shape[:2])  # (B, F, D)
    return (image * text.unsqueeze(1)).sum(dim=-1).float().mean(dim=1)


def clip_adherence(scorer: ClipScorer, clips: np.ndarray, prompts: list[str], batch: int = 8) -> np.ndarray:
    """Evaluation's adherence off the toy world: `text_similarity` of uint8 clips (N, F, H, W, 3),
    one score per clip, without gradients."""
    scores = []
    with torch.no_grad():
        for start in range(0, len(clips), batch):
            frames = clips_to_tensor(clips[start : start + batch])
            scores.append(text_similarity(scorer, frames, prompts[start : start + batch]).numpy())
    return np.concatenate(scores)
