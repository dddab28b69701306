"""benchmarks/pretraining_digest.py: the digest that tells whether a change keeps pretraining bit-identical."""

import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from pretraining_digest import SHORT, weights_digest  # noqa: E402


def test_the_digest_is_the_weights_own_and_moves_with_one_changed_value(toy_model):
    model = copy.deepcopy(toy_model)
    before = weights_digest(model)
    assert weights_digest(copy.deepcopy(toy_model)) == before
    with torch.no_grad():
        weight = next(model.pipe.unet.parameters())
        weight.view(-1)[0] = torch.nextafter(weight.view(-1)[0], torch.tensor(float("inf")))  # the smallest step up
    assert weights_digest(model) != before


def test_the_short_recipe_names_only_keys_of_each_familys_pretraining_section():
    from videodpo import families

    for family, recipe in SHORT.items():
        assert set(recipe) <= set(type(families.family_settings(family)().pretrain).model_fields), family
