"""Appearance measures beside the flicker metrics, so a model cannot "win" by washing the image out.

Pure functions of clips, uint8 (F, H, W, 3), on a 0–255 scale.
"""

from __future__ import annotations

import cv2
import numpy as np


def contrast(clip: np.ndarray) -> float:
    """RMS contrast: the standard deviation of each frame's luminance, averaged over frames."""
    return float(np.mean([cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32).std() for frame in clip]))


def saturation(clip: np.ndarray) -> float:
    """Mean HSV saturation over pixels and frames."""
    return float(np.mean([cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 1].mean() for frame in clip]))
