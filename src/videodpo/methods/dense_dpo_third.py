"""dense_dpo_third: dense_dpo with a third of vanilla_dpo's labels, at random segments (a pair none of
whose segments is drawn is not made): DenseDPO's label efficiency at the same pairs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from videodpo.core.params import Section
from videodpo.methods.dense_dpo import SETTINGS, encode_latents, make_pairs, train  # noqa: F401 (dense_dpo's steps are this method's)
from videodpo.methods.dense_dpo import settings as dense_settings
from videodpo.methods.vanilla_dpo import third_of_vanilla_labels

if TYPE_CHECKING:
    from videodpo.config import Config

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    '`dense_dpo` with a third of the labels `vanilla_dpo` asks for, on random segments of the same pairs.'
)


def settings(config: Config) -> dict[str, Section]:
    return dense_settings(config, label_budget=third_of_vanilla_labels(config))
