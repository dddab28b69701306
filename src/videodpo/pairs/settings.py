"""The `data` params section: the clips' shape, and how many preference pairs the DPO methods make,
from which seeds and, for dpo, with which loser makers. Light on purpose: every stage's params check
imports it."""

from __future__ import annotations

from pydantic import Field, field_validator

from videodpo.core.params import Section

# the loser makers of pairs.jitter, by name (the makers are keyed by these: tests/unit/test_jitter.py)
JITTER_METHODS = ("noise", "renormalised", "shake", "stutter", "amplify", "img2img")


class DataSettings(Section):
    """params `data`: the clips' shape, and how many preference pairs the DPO methods make and from
    which seeds; dpo's losers (jitter), and dense_dpo's ground truth on the hub tiers."""

    num_pairs: int = Field(default=64, gt=0, le=10_000)  # each data.seed owns a block of 10 000 pair seeds
    frames: int = Field(default=8, ge=2)
    resolution: int = Field(default=32, ge=16)
    jitter_method: str | list[str] = "amplify"  # one maker, or a mix taken in turn
    jitter_strength: float = Field(default=1.0, ge=0)
    appearance_tolerance: float = Field(default=0.05, gt=0)  # largest relative contrast/saturation gap of a kept pair
    candidates_per_pair: int = Field(default=1, ge=1, le=100)  # the winner is the steadiest (lowest warping error) of this many generations
    seed: int = Field(default=0, ge=0, le=999)  # bounds keep pair seeds apart from evaluation seeds (core.seeds)
    gt_videos: str = Field(default="videos", min_length=1)  # dense_dpo on the hub tiers: captioned videos (pairs.user_videos)

    @field_validator("jitter_method")
    @classmethod
    def _known_makers(cls, method: str | list[str]) -> str | list[str]:
        names = [method] if isinstance(method, str) else method
        unknown = [name for name in names if name not in JITTER_METHODS]
        if unknown or not names:
            raise ValueError(f"{unknown or 'an empty list'} is not a loser maker; name one of {', '.join(JITTER_METHODS)}, or a list of them")
        return method
