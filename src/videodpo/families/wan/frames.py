"""How Wan's causal VAE groups pixel frames into latent frames: clips of 4k + 1 frames, the first
frame alone in latent frame 0, then pixel frames 4j − 3 … 4j in latent frame j. Light (no model
code): the params checks use it before any model loads."""

from __future__ import annotations

from collections.abc import Sequence

TEMPORAL_COMPRESSION = 4


def latent_frames(pixel_frames: int) -> int:
    """Latent frames of a clip of 4k + 1 pixel frames: the first alone, then one per four."""
    if (pixel_frames - 1) % TEMPORAL_COMPRESSION:
        raise ValueError(f"Wan clips have 4k + 1 frames, not {pixel_frames}")
    return 1 + (pixel_frames - 1) // TEMPORAL_COMPRESSION


def pixel_frames_of(latent_frame: int) -> range:
    """The pixel frames latent frame j holds: frame 0 alone, then 4j − 3 … 4j."""
    return range(0, 1) if latent_frame == 0 else range(4 * latent_frame - 3, 4 * latent_frame + 1)


def latent_segments(segments: Sequence[range], pixel_frames: int) -> list[range]:
    """The latent frames of each segment of pixel frames: those whose pixel frames all lie in it. A
    latent frame that straddles two segments belongs to neither, so a label never teaches frames it
    did not judge; a segment may then hold no latent frame (an empty range)."""
    count = latent_frames(pixel_frames)
    mapped = []
    for segment in segments:
        inside = [j for j in range(count) if set(pixel_frames_of(j)) <= set(segment)]
        mapped.append(range(inside[0], inside[-1] + 1) if inside else range(0))
    return mapped
