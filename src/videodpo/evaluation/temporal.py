"""Temporal-consistency metrics: pure functions of clips, uint8 (F, H, W, 3), on a 0–255 scale.

Flicker is measured by warping error: frame t+1 is warped back onto frame t along the optical flow
t→t+1, and what the motion cannot explain is the error. Pixels whose forward and backward flows
disagree (occlusions, flow failures) are masked out. Motion is reported beside it, because a
model that stops moving also stops flickering.
"""

from __future__ import annotations

import cv2
import numpy as np

# DIS needs a few patches across a frame; tiny toy frames are upsampled for the flow only.
FLOW_MIN_SIZE = 128


def _gray(frame: np.ndarray, scale: int) -> np.ndarray:
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if scale > 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return gray


def _flow_scale(frame: np.ndarray) -> int:
    return max(1, int(np.ceil(FLOW_MIN_SIZE / min(frame.shape[:2]))))


def optical_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DIS optical flow from frame a to frame b (uint8 (H, W, 3)): float32 (H, W, 2) in a's pixels.

    For a pixel x of a, x + flow[x] is where it went in b.
    """
    scale = _flow_scale(a)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(_gray(a, scale), _gray(b, scale), None)
    if scale > 1:
        flow = cv2.resize(flow, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA) / scale
    return flow


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))


def backward_warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample image at x + flow[x]: with flow = optical_flow(a, b), backward_warp(b, flow) ≈ a."""
    gx, gy = _grid(*flow.shape[:2])
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent_pixels(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Pixels of frame t whose forward flow is undone by the backward flow where it lands.

    The usual occlusion test: |f + b(x+f)|² < 0.01 (|f|² + |b(x+f)|²) + 0.5, and landing inside the frame.
    """
    height, width = forward.shape[:2]
    gx, gy = _grid(height, width)
    back_at_target = backward_warp(backward, forward)
    mismatch = np.sum((forward + back_at_target) ** 2, axis=-1)
    bound = 0.01 * (np.sum(forward**2, axis=-1) + np.sum(back_at_target**2, axis=-1)) + 0.5
    tx, ty = gx + forward[..., 0], gy + forward[..., 1]
    inside = (tx >= 0) & (tx <= width - 1) & (ty >= 0) & (ty <= height - 1)
    return (mismatch < bound) & inside


def forward_flows(clip: np.ndarray) -> list[np.ndarray]:
    """Optical flow t→t+1 for every consecutive frame pair. The metrics below take it precomputed,
    so that scoring one clip on several of them estimates each flow once."""
    return [optical_flow(a, b) for a, b in zip(clip[:-1], clip[1:])]


def occlusion_masks(clip: np.ndarray, forward: list[np.ndarray]) -> list[np.ndarray]:
    """Per frame pair t→t+1, the pixels whose forward flow the backward flow confirms (not occluded)."""
    return [consistent_pixels(flow, optical_flow(b, a)) for a, b, flow in zip(clip[:-1], clip[1:], forward)]


def transition_warping_errors(clip: np.ndarray, forward: list[np.ndarray] | None = None) -> list[float | None]:
    """Per frame pair t→t+1, the mean |f_t − warp(f_{t+1})| over its consistent pixels (0–255);
    None where no pixel is consistent."""
    forward = forward_flows(clip) if forward is None else forward
    errors: list[float | None] = []
    for a, b, flow, mask in zip(clip[:-1], clip[1:], forward, occlusion_masks(clip, forward)):
        if not mask.any():
            errors.append(None)
            continue
        residual = np.abs(a.astype(np.float32) - backward_warp(b, flow).astype(np.float32)).mean(axis=-1)
        errors.append(float(residual[mask].mean()))
    return errors


def warping_error(clip: np.ndarray, forward: list[np.ndarray] | None = None) -> float:
    """Mean |f_t − warp(f_{t+1})| over consistent pixels and frame pairs (0–255)."""
    errors = [e for e in transition_warping_errors(clip, forward) if e is not None]
    return float(np.mean(errors)) if errors else 0.0


def frame_difference(clip: np.ndarray) -> float:
    """Mean |f_{t+1} − f_t| over pixels, channels and frame pairs (0–255)."""
    return float(np.abs(np.diff(clip.astype(np.float32), axis=0)).mean())


def temporal_flickering(clip: np.ndarray) -> float:
    """VBench's temporal-flickering score, (255 − mean |f_{t+1} − f_t|) / 255: 1 for a still clip,
    higher = steadier. The frame difference on VBench's scale, reported so figures compare with its."""
    return (255.0 - frame_difference(clip)) / 255.0


def motion_magnitude(clip: np.ndarray, forward: list[np.ndarray] | None = None) -> float:
    """Mean optical-flow magnitude between consecutive frames, in pixels per frame."""
    forward = forward_flows(clip) if forward is None else forward
    return float(np.mean([np.linalg.norm(flow, axis=-1).mean() for flow in forward]))


def peak_motion(flow: np.ndarray, top_share: float = 0.05) -> float:
    """Mean magnitude of the fastest `top_share` of pixels of one flow field."""
    magnitude = np.sort(np.linalg.norm(flow, axis=-1).ravel())[::-1]
    return float(magnitude[: max(1, int(len(magnitude) * top_share))].mean())


def is_dynamic(
    clip: np.ndarray, threshold_at_256: float = 6.0, pairs_at_16: float = 4.0, forward: list[np.ndarray] | None = None
) -> float:
    """VBench's dynamic degree of one clip, 1.0 (moving) or 0.0 (static): the clip moves when the
    fastest 5 % of its pixels travel more than threshold_at_256 · min(H, W) / 256 px on at least
    round(pairs_at_16 · F / 16) consecutive-frame pairs. The mean over clips is the share that move."""
    threshold = threshold_at_256 * min(clip.shape[1:3]) / 256.0
    needed = max(1, round(pairs_at_16 * len(clip) / 16.0))
    forward = forward_flows(clip) if forward is None else forward
    moving = sum(peak_motion(flow) > threshold for flow in forward)
    return float(moving >= needed)


def warping_error_seed(clip: np.ndarray) -> float:
    """The seed project's warping error, only to set our numbers beside its table.

    Farneback flow t→t+1; frame t sampled at x + flow (which moves content the wrong way, so
    the error grows with motion); no occlusion mask; squared error (0–255²). Use warping_error.
    """
    errors = []
    for a, b in zip(clip[:-1], clip[1:]):
        gray_a, gray_b = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (a, b))
        flow = cv2.calcOpticalFlowFarneback(gray_a, gray_b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        warped = backward_warp(a, flow)
        errors.append(float(((warped.astype(np.float32) - b.astype(np.float32)) ** 2).mean()))
    return float(np.mean(errors))
