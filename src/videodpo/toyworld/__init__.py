"""The toy world: captioned clips of one coloured shape moving across a plain background.

It is the ground truth the embedded default model is pretrained on, and the oracle here reads
colour, shape and direction back out of any clip (rendered or generated) to score prompt adherence.
Clips are uint8 arrays shaped (frames, height, width, 3).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from pydantic import Field, model_validator

from videodpo.core.params import Section

SHAPES = ("square", "circle", "triangle")
COLOURS = {
    "red": (220, 45, 45),
    "green": (45, 190, 70),
    "blue": (50, 90, 235),
    "yellow": (235, 205, 40),
}
DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
# Hue of each colour in degrees, for the oracle (robust to washed-out or darkened generations).
COLOUR_HUES = {"red": 0.0, "yellow": 52.0, "green": 130.0, "blue": 225.0}
SUPERSAMPLE = 4


class ToyworldSettings(Section):
    """params `toyworld`: the clips the embedded default is pretrained on and renders as ground truth."""

    frame_size: int = Field(default=32, ge=16)
    frames: int = Field(default=8, ge=2)
    radius: float = Field(default=6.0, gt=0)
    speed: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _shape_fits(self) -> "ToyworldSettings":
        travel = self.speed * (self.frames - 1)
        if 2 * (self.radius + 1) + travel > self.frame_size:
            raise ValueError(
                f"a shape of radius {self.radius} moving {self.speed} px/frame for {self.frames} frames "
                f"does not fit in {self.frame_size} px: lower radius, speed or frames, or raise frame_size"
            )
        return self


@dataclass(frozen=True)
class Caption:
    shape: str
    colour: str
    direction: str

    @property
    def text(self) -> str:
        return f"a {self.colour} {self.shape} moving {self.direction}"

    @classmethod
    def parse(cls, text: str) -> "Caption":
        words = text.split()
        if len(words) != 5 or words[0] != "a" or words[3] != "moving":
            raise ValueError(f"not a toy-world caption: {text!r} (expected 'a <colour> <shape> moving <direction>')")
        caption = cls(shape=words[2], colour=words[1], direction=words[4])
        if caption.shape not in SHAPES or caption.colour not in COLOURS or caption.direction not in DIRECTIONS:
            raise ValueError(f"unknown word in caption {text!r}")
        return caption


def is_caption(text: str) -> bool:
    """Whether `text` is a toy-world caption (what the toy-world oracle can score)."""
    try:
        Caption.parse(text)
    except ValueError:
        return False
    return True


def all_captions() -> list[Caption]:
    return [Caption(s, c, d) for s, c, d in itertools.product(SHAPES, COLOURS, DIRECTIONS)]


def is_held_out(caption: Caption) -> bool:
    """Each (shape, colour) pair keeps one direction out of training: 12 of 48 combinations (25 %).

    The held-out direction rotates with the pair, so every shape, colour and direction word is still
    seen in training, only never in these combinations.
    """
    s, c = SHAPES.index(caption.shape), list(COLOURS).index(caption.colour)
    return list(DIRECTIONS).index(caption.direction) == (s + c) % len(DIRECTIONS)


def train_captions() -> list[Caption]:
    return [c for c in all_captions() if not is_held_out(c)]


def held_out_captions() -> list[Caption]:
    return [c for c in all_captions() if is_held_out(c)]


def vocabulary() -> list[str]:
    return ["a", "moving", *SHAPES, *COLOURS, *DIRECTIONS]


def _shape_coverage(shape: str, xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, radius: float) -> np.ndarray:
    dx, dy = xs - cx, ys - cy
    if shape == "square":
        return (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
    if shape == "circle":
        return dx * dx + dy * dy <= radius * radius
    # Upward-pointing isosceles triangle inscribed in the same box as the square.
    inside_y = (dy >= -radius) & (dy <= radius)
    half_width = radius * (dy + radius) / (2 * radius)
    return inside_y & (np.abs(dx) <= half_width)


def render_clip(
    caption: Caption,
    rng: np.random.Generator,
    size: int = 32,
    frames: int = 8,
    radius: float = 6.0,
    speed: float = 2.0,
) -> np.ndarray:
    """Render one clip: uint8 (frames, size, size, 3), anti-aliased so sub-pixel motion is smooth."""
    vx, vy = DIRECTIONS[caption.direction]
    travel = speed * (frames - 1)
    margin = radius + 1.0

    def start(v: float) -> float:
        low, high = margin, size - margin
        if v > 0:
            high -= travel
        elif v < 0:
            low += travel
        return rng.uniform(low, high)

    x0, y0 = start(vx), start(vy)
    background = rng.uniform(15, 70) * np.ones(3) + rng.uniform(-6, 6, size=3)
    colour = np.asarray(COLOURS[caption.colour], float) + rng.uniform(-12, 12, size=3)

    fine = (np.arange(size * SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    xs, ys = np.meshgrid(fine, fine)
    clip = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        covered = _shape_coverage(caption.shape, xs, ys, x0 + vx * speed * t, y0 + vy * speed * t, radius)
        alpha = covered.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))[..., None]
        clip[t] = np.clip(alpha * colour + (1 - alpha) * background, 0, 255).round().astype(np.uint8)
    return clip


def render_dataset(captions: list[Caption], clips_per_caption: int, seed: int, **render_kwargs) -> tuple[np.ndarray, list[str]]:
    """Render clips_per_caption clips of each caption: uint8 (N, F, H, W, 3) and their caption texts."""
    rng = np.random.default_rng(seed)
    clips, texts = [], []
    for caption in captions:
        for _ in range(clips_per_caption):
            clips.append(render_clip(caption, rng, **render_kwargs))
            texts.append(caption.text)
    return np.stack(clips), texts


# ---------------------------------------------------------------------------------------------
# The oracle


@dataclass(frozen=True)
class Reading:
    colour: str | None
    shape: str | None
    direction: str | None
    displacement: tuple[float, float]

    def matches(self, caption: Caption) -> dict[str, bool]:
        colour = self.colour == caption.colour
        direction = self.direction == caption.direction
        return {
            "colour": colour,
            "shape": self.shape == caption.shape,
            "direction": direction,
            "colour_and_direction": colour and direction,
        }


def _hue_degrees(rgb: np.ndarray) -> tuple[float, float]:
    r, g, b = (rgb / 255.0).tolist()
    high, low = max(r, g, b), min(r, g, b)
    chroma = high - low
    if chroma < 1e-6:
        return 0.0, 0.0
    if high == r:
        hue = ((g - b) / chroma) % 6
    elif high == g:
        hue = (b - r) / chroma + 2
    else:
        hue = (r - g) / chroma + 4
    return 60.0 * hue, chroma


def foreground_masks(clip: np.ndarray, threshold: float = 40.0) -> np.ndarray:
    """Boolean (F, H, W): pixels far from the frame's background (the median of its border)."""
    frames = clip.astype(np.float32)
    border = np.concatenate([frames[:, 0], frames[:, -1], frames[:, :, 0], frames[:, :, -1]], axis=1)
    background = np.median(border, axis=1)[:, None, None, :]
    return np.linalg.norm(frames - background, axis=-1) > threshold


def read_clip(clip: np.ndarray, min_travel: float = 3.0) -> Reading:
    """Read colour, shape and motion direction out of a clip (uint8 (F, H, W, 3)).

    Colour: the hue of the mean foreground pixel, nearest of the palette. Shape: how much of its
    bounding box the foreground fills (square ≈ 1, circle ≈ 0.79, triangle ≈ 0.5), median over frames.
    Direction: the dominant axis and sign of the foreground centroid's straight-line fit over time;
    a clip whose centroid travels less than min_travel pixels has no direction.
    """
    masks = foreground_masks(clip)
    present = masks.reshape(len(masks), -1).sum(axis=1) >= 4
    if present.sum() < 2:
        return Reading(None, None, None, (0.0, 0.0))

    mean_rgb = clip[masks].astype(np.float32).mean(axis=0)
    hue, chroma = _hue_degrees(mean_rgb)
    colour = None
    if chroma >= 0.15:
        colour = min(COLOUR_HUES, key=lambda c: min(abs(hue - COLOUR_HUES[c]), 360 - abs(hue - COLOUR_HUES[c])))

    fills, centroids, times = [], [], []
    for t, mask in enumerate(masks):
        if not present[t]:
            continue
        ys, xs = np.nonzero(mask)
        box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        fills.append(mask.sum() / box)
        centroids.append((xs.mean(), ys.mean()))
        times.append(t)
    fill = float(np.median(fills))
    shape = "square" if fill > 0.89 else "circle" if fill > 0.64 else "triangle"

    centroids = np.asarray(centroids)
    times = np.asarray(times, float)
    slope_x, slope_y = (np.polyfit(times, centroids[:, axis], 1)[0] for axis in (0, 1))
    span = len(clip) - 1
    dx, dy = float(slope_x * span), float(slope_y * span)
    if max(abs(dx), abs(dy)) < min_travel:
        direction = None
    elif abs(dx) >= abs(dy):
        direction = "right" if dx > 0 else "left"
    else:
        direction = "down" if dy > 0 else "up"
    return Reading(colour, shape, direction, (dx, dy))


def adherence(clips: np.ndarray, texts: list[str]) -> dict[str, float]:
    """Share of clips whose oracle reading matches their caption, per attribute."""
    totals: dict[str, float] = {}
    for clip, text in zip(clips, texts):
        for key, ok in read_clip(clip).matches(Caption.parse(text)).items():
            totals[key] = totals.get(key, 0.0) + ok
    return {key: value / len(clips) for key, value in totals.items()}
