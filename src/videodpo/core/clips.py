"""Clips as the project passes them around: uint8 (N, F, H, W, 3) on disk and in the metrics, float
(N, F, 3, H, W) in [-1, 1] where a model or a reward reads them."""

from __future__ import annotations

import numpy as np
import torch


def clips_to_tensor(clips: np.ndarray) -> torch.Tensor:
    """uint8 (N, F, H, W, 3) → float (N, F, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(clips).permute(0, 1, 4, 2, 3).float().div(127.5).sub(1.0)


def to_pixels(frames: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → the evaluation's 0–255 scale (float, still differentiable)."""
    return ((frames.float() + 1.0) * 127.5).clamp(0.0, 255.0)


def to_uint8_clips(frames: torch.Tensor) -> np.ndarray:
    """Detached uint8 clips (B, F, H, W, 3), as the evaluation reads them, from frames (B, F, 3, H, W) in [-1, 1]."""
    return to_pixels(frames.detach()).round().permute(0, 1, 3, 4, 2).to(torch.uint8).cpu().numpy()
