"""A folder of the user's own captioned videos, as ground-truth clips of the model's size.

Each video file (mp4, webm, mov, mkv, avi or gif; read with imageio) has its caption in a text file
of the same name beside it: `dog.mp4` + `dog.txt`. Each video is trimmed to its first `frames`
frames, centre-cropped to a square and resized to `resolution` pixels; greyscale is made RGB and an
alpha channel dropped.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif")


class VideoFolderError(ValueError):
    """A file of the video folder cannot be used; the message names it and the fix."""


def _as_rgb(frames: np.ndarray, path: Path) -> np.ndarray:
    if frames.ndim == 3:  # (F, H, W): greyscale
        frames = frames[..., None]
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4):
        raise VideoFolderError(f"{path}: frames of shape {frames.shape[1:]} are not greyscale, RGB or RGBA images")
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    return frames[..., :3]


def _square(frame: np.ndarray, resolution: int) -> np.ndarray:
    height, width = frame.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = frame[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > resolution else cv2.INTER_CUBIC
    return cv2.resize(crop, (resolution, resolution), interpolation=interpolation)


def read_video(path: Path, frames: int, resolution: int, frames_key: str = "data.frames") -> np.ndarray:
    """One video as uint8 (frames, resolution, resolution, 3)."""
    try:
        video = np.asarray(iio.imread(path, index=None))
    except Exception as error:  # imageio raises many kinds, by plugin
        raise VideoFolderError(f"{path}: cannot be decoded ({type(error).__name__}: {error}); re-encode it, e.g. as H.264 mp4") from None
    if video.ndim == 2 or (video.ndim == 3 and video.shape[-1] in (3, 4)):  # a single image, not a video
        raise VideoFolderError(f"{path}: holds one image, not a video of {frames} frames")
    video = _as_rgb(video, path)
    if len(video) < frames:
        raise VideoFolderError(f"{path}: {len(video)} frames, shorter than the clips' {frames} ({frames_key}); use a longer video or fewer {frames_key}")
    if video.dtype != np.uint8:
        video = np.clip(video, 0, 255).astype(np.uint8)
    return np.stack([_square(frame, resolution) for frame in video[:frames]])


def read_captioned_videos(
    folder: str | Path, frames: int, resolution: int, frames_key: str = "data.frames"
) -> tuple[np.ndarray, list[str], list[str]]:
    """Every captioned video of `folder`, sorted by name: clips uint8 (N, frames, R, R, 3), captions
    and file names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoFolderError(f"data.gt_videos: {folder} is not a folder; point it at a folder of videos, each with a .txt caption beside it")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not paths:
        raise VideoFolderError(f"data.gt_videos: {folder} holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    clips, captions = [], []
    for path in paths:
        caption_file = path.with_suffix(".txt")
        caption = caption_file.read_text().strip() if caption_file.is_file() else ""
        if not caption:
            raise VideoFolderError(f"{path}: no caption; write it in {caption_file.name} beside the video")
        clips.append(read_video(path, frames, resolution, frames_key))
        captions.append(caption)
    return np.stack(clips), captions, [p.name for p in paths]
