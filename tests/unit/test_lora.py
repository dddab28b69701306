import copy
import re

import numpy as np
import pytest
import torch

from videodpo.core.integrity import DamagedFileError


@pytest.fixture()
def lora_model(toy_model):
    model = copy.deepcopy(toy_model)
    config = model.add_lora(rank=4, alpha=8)
    torch.manual_seed(1)
    with torch.no_grad():  # make the LoRA non-trivial (peft starts lora_B at zero)
        for name, param in model.denoiser.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.2)
    return model, config


def test_lora_touches_only_motion_module_attention(lora_model):
    model, _ = lora_model
    lora_names = [name for name, _ in model.denoiser.named_parameters() if "lora_" in name]
    assert lora_names
    pattern = re.compile(r".*motion_modules\.\d+\.transformer_blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)\.lora_[AB]\..*")
    assert all(pattern.fullmatch(name) for name in lora_names)
    # every motion attention projection got one, and spatial attention none
    assert not any("attentions." in name and "motion_modules" not in name for name in lora_names)
    trainable = [name for name, p in model.denoiser.named_parameters() if p.requires_grad]
    assert set(trainable) == set(lora_names)


def test_reference_equals_base_model_when_lora_disabled(toy_model, lora_model):
    model, _ = lora_model
    torch.manual_seed(0)
    sample = torch.randn(1, 4, 8, 8, 8)
    text = torch.randn(8, 16, 32)
    timestep = torch.tensor([500])
    with torch.no_grad():
        base = toy_model.denoiser(sample, timestep, encoder_hidden_states=text).sample
        with model.adapters_disabled(model.denoiser):
            reference = model.denoiser(sample, timestep, encoder_hidden_states=text).sample
        policy = model.denoiser(sample, timestep, encoder_hidden_states=text).sample
    assert torch.equal(reference, base)
    assert not torch.allclose(policy, base)  # the adapter is back on after the block


def test_saved_lora_reloads_into_the_base_model_and_reproduces_the_output(toy_model, lora_model, tmp_path):
    model, config = lora_model
    assert config.lora_alpha != config.r  # the case that needs the adapter metadata
    model.save_lora(config, tmp_path)
    fresh = copy.deepcopy(toy_model)
    fresh.load_lora(tmp_path)
    args = (["a red square moving left"], [0], 8, 3, 4.0, 0.5)
    trained, reloaded, base = (m.generate(*args) for m in (model, fresh, toy_model))
    assert np.array_equal(trained, reloaded)
    assert not np.array_equal(trained, base)


def test_loading_lora_from_an_empty_folder_names_the_stage_to_run(toy_model, tmp_path):
    folder = tmp_path / "models/animatediff/lora/dpo"
    folder.mkdir(parents=True)
    with pytest.raises(DamagedFileError, match="dvc repro --force train@animatediff-dpo"):
        copy.deepcopy(toy_model).load_lora(folder)


def test_the_same_lora_saves_to_the_same_bytes(lora_model, tmp_path):
    model, config = lora_model
    for folder in ("a", "b", "c"):
        model.save_lora(config, tmp_path / folder)
    saved = {(tmp_path / f / "pytorch_lora_weights.safetensors").read_bytes() for f in ("a", "b", "c")}
    assert len(saved) == 1  # so DVC's hash of models/animatediff/lora/<method> is the same on every run
