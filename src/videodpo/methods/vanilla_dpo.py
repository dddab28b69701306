"""vanilla_dpo: two base generations of each training caption from independent noise, the steadier
(by `dense_dpo.labeller`, as whole clips) preferred; ties are dropped. Trains with dpo's loop
(`training`); its pairs are made as dense_dpo's labelled pairs are, one label per clip."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from videodpo.core.params import Section
from videodpo.methods import Empty
from videodpo.methods.dense_dpo import SETTINGS, encode_latents, labelled_pair_settings, make_pairs  # noqa: F401 (the labelled pairs' steps, kind vanilla)
from videodpo.methods.dpo import dpo_train_settings, train  # noqa: F401 (dpo's train step is this method's)

if TYPE_CHECKING:
    from videodpo.config import Config

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    'Video DPO as usually done: two base generations of a training caption from independent noise, the steadier one (by a labeller) preferred over the whole clip; ties dropped. The baseline DenseDPO is measured against.'
)


def clip_labels_asked(config: Config) -> int:
    """Labels vanilla_dpo asks for: one per pair."""
    return config.data.num_pairs


def third_of_vanilla_labels(config: Config) -> int:
    """dense_dpo_third's label budget: a third of the clip labels vanilla_dpo asks for."""
    return max(1, math.floor(clip_labels_asked(config) / 3))


def settings(config: Config) -> dict[str, Section]:
    return {"pairs": labelled_pair_settings(config, "vanilla"), "latents": Empty(), "train": dpo_train_settings(config)}
