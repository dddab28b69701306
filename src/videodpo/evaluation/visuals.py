"""Pictures of clips for people to look at: contact sheets (PNG) and animated GIFs.

GIFs merge identical frames and quantise colours, so no metric is ever read back from them.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from videodpo.core import phases


def pyplot():
    """matplotlib's pyplot on the file backend, imported on first use: the stages that write GIFs alone skip its import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def contact_sheet(clips: np.ndarray, labels: list[str], path: str | Path, title: str = "") -> None:
    """One row per clip (uint8 (N, F, H, W, 3)), its frames left to right, its label on the left."""
    plt = pyplot()
    rows, frames = clips.shape[:2]
    label_width, cell, title_height = 2.8, 0.8, 0.5 if title else 0.1
    width, height = label_width + frames * cell, rows * cell + title_height
    figure, axes = plt.subplots(rows, frames, figsize=(width, height), squeeze=False)
    figure.subplots_adjust(
        left=label_width / width, right=0.99, bottom=0.05 / height, top=1 - title_height / height,
        wspace=0.05, hspace=0.08,
    )
    for row in range(rows):
        for t in range(frames):
            axis = axes[row, t]
            axis.imshow(clips[row, t], interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row, 0].text(-0.12, 0.5, labels[row], transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10, y=1 - 0.15 / height)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def upscale(clip: np.ndarray, factor: int) -> np.ndarray:
    return clip.repeat(factor, axis=-3).repeat(factor, axis=-2)


@phases.timed("write")
def write_gif(clip: np.ndarray, path: str | Path, fps: int = 8, scale: int = 4) -> None:
    """uint8 (F, H, W, 3) → looping GIF, upscaled with nearest neighbours so small clips stay visible."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, upscale(clip, scale), duration=1000 / fps, loop=0)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 2) -> np.ndarray:
    """Two clips (uint8 (F, H, W, 3)) joined left | right with a white gap, frame by frame."""
    frames, height = left.shape[:2]
    divider = np.full((frames, height, gap, 3), 255, np.uint8)
    return np.concatenate([left, divider, right], axis=2)


def logged_series(tsv_dir: Path, name: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one metric as dvclive logged it (<tsv_dir>/<name>.tsv)."""
    rows = [line.split("\t") for line in (Path(tsv_dir) / f"{name}.tsv").read_text().splitlines()[1:]]
    return [float(r[0]) for r in rows], [float(r[1]) for r in rows]


def curves(
    panels: dict[str, dict[str, tuple[list[float], list[float]]]], path: str | Path, x_labels: dict[str, str] | None = None,
    columns: int | None = None,
) -> None:
    """Line plots side by side: {panel title: {series name: (x, values)}}, in rows of `columns` panels
    (default: one row); x is the step unless x_labels names it for a panel."""
    plt = pyplot()
    columns = columns or len(panels)
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.flat[len(panels):]:
        axis.set_visible(False)
    for axis, (title, series) in zip(axes.flat, panels.items()):
        for name, (steps, values) in series.items():
            axis.plot(steps, values, label=name, linewidth=1.2)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel((x_labels or {}).get(title, "step"))
        if any(len(steps) == 1 for steps, _ in series.values()):
            for line in axis.get_lines():
                line.set_marker("o")
        axis.grid(alpha=0.3)
        if len(series) > 1:
            axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def stack_rows(rows: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Clips of equal size (uint8 (F, H, W, 3)) stacked top to bottom with a white gap, frame by frame."""
    frames, _, width = rows[0].shape[:3]
    divider = np.full((frames, gap, width, 3), 255, np.uint8)
    pieces = [piece for row in rows for piece in (row, divider)][:-1]
    return np.concatenate(pieces, axis=1)


def scatter_against_base(base: np.ndarray, series: dict[str, np.ndarray], path: str | Path, quantity: str) -> None:
    """Per-sample values of each model (y) against the base's on the same sample (x), with y = x drawn:
    points below the line are samples the model improved."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(4.6, 4.2))
    for name, values in series.items():
        axis.scatter(base, values, s=14, alpha=0.75, label=name)
    low = min(float(np.min(base)), *(float(np.min(v)) for v in series.values()))
    high = max(float(np.max(base)), *(float(np.max(v)) for v in series.values()))
    axis.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--", label="no change")
    axis.set_xlabel(f"base: {quantity}")
    axis.set_ylabel(f"method: {quantity}")
    axis.set_title(f"{quantity} per evaluation sample", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
