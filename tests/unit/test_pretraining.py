
import pytest
import torch
from diffusers import UNetMotionModel

from videodpo.families.animatediff import caption_ids, pretraining, toy
from videodpo.core.noise import correlated_noise


def test_correlated_noise_has_unit_variance_and_the_requested_frame_correlation():
    noise = correlated_noise((64, 4, 8, 8, 8), shared=0.6, generator=torch.Generator().manual_seed(0))
    assert abs(noise.var().item() - 1.0) < 0.03
    frames = noise.transpose(1, 2).flatten(2)  # (B, F, C·H·W)
    correlation = torch.corrcoef(torch.stack([frames[:, 0].flatten(), frames[:, 5].flatten()]))[0, 1]
    assert abs(correlation.item() - 0.6) < 0.03


def test_correlated_noise_rejects_a_share_outside_zero_to_one():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        correlated_noise((1, 4, 8, 8, 8), shared=1.5)


def _one_motion_step(motion_trains: str):
    torch.manual_seed(0)
    arch = toy.ToyArchitecture()
    tokenizer = toy.build_toy_tokenizer()
    text_encoder = toy.build_toy_text_encoder(tokenizer, arch)
    unet = UNetMotionModel.from_unet2d(toy.build_toy_unet2d(arch), toy.build_toy_motion_adapter(arch))
    before = {name: p.detach().clone() for name, p in unet.named_parameters()}
    text_before = [p.detach().clone() for p in text_encoder.parameters()]
    schedule = pretraining.PretrainSettings(motion_steps=1, motion_batch_clips=2, motion_trains=motion_trains)
    latents = torch.randn(4, 8, 4, 8, 8)
    ids = caption_ids(tokenizer, ["a red square moving left"] * 4)
    empty = caption_ids(tokenizer, [""])[0]
    pretraining.train_motion(
        unet, text_encoder, toy.build_toy_scheduler(), latents, ids, empty, schedule, torch.Generator().manual_seed(0)
    )
    changed = {name for name, p in unet.named_parameters() if not torch.equal(p, before[name])}
    text_changed = any(not torch.equal(a, b) for a, b in zip(text_encoder.parameters(), text_before))
    return changed, text_changed


def test_motion_phase_with_motion_only_leaves_spatial_layers_and_text_encoder_untouched():
    changed, text_changed = _one_motion_step("motion")
    assert changed and all("motion_modules" in name for name in changed)
    assert not text_changed


def test_motion_phase_with_spatial_also_updates_spatial_layers_and_text_encoder():
    changed, text_changed = _one_motion_step("motion_and_spatial")
    assert any("motion_modules" not in name for name in changed)
    assert text_changed


def test_caption_ids_match_what_the_pipeline_feeds_the_text_encoder(toy_model):
    ids = caption_ids(toy_model.tokenizer, ["a red square moving left"])
    with torch.no_grad():
        ours = toy_model.pipe.text_encoder(ids)[0]
        theirs, _ = toy_model.pipe.encode_prompt(
            "a red square moving left", "cpu", 1, do_classifier_free_guidance=False
        )
    assert torch.equal(ours, theirs)


def test_layout_share_draws_that_share_of_timesteps_from_the_layout_range():
    generator = torch.Generator().manual_seed(0)
    all_layout = pretraining.sample_timesteps(4000, 1.0, 900, generator)
    assert all_layout.min() >= 900 and all_layout.max() <= 999
    half = pretraining.sample_timesteps(4000, 0.5, 900, generator)
    # half from [900, 999] plus a tenth of the uniform half lands there too: ≈ 55 %
    assert abs((half >= 900).float().mean().item() - 0.55) < 0.03
    assert half.min() < 100


def test_phase_clock_adds_up_each_part_of_each_phase():
    schedule = pretraining.PretrainSettings(vae_steps=3, vae_batch_frames=2)
    clock = pretraining.PhaseClock()
    vae = toy.build_toy_vae(toy.ToyArchitecture())
    pretraining.train_vae(vae, torch.rand(8, 3, 32, 32) * 2 - 1, schedule, torch.Generator().manual_seed(0), clock=clock)
    assert clock.steps["vae"] == 3
    parts = {part for phase, part in clock.seconds if phase == "vae"}
    assert parts == {"data", "forward", "backward", "optimiser", "logging"}
    # a VAE step is mostly compute: forward and backward outweigh drawing the batch
    assert clock.seconds["vae", "forward"] + clock.seconds["vae", "backward"] > clock.seconds["vae", "data"]
    total = sum(seconds for (phase, _), seconds in clock.seconds.items() if phase == "vae")
    assert clock.minutes_per_phase() == {"vae": round(total / 60, 2)}



@pytest.mark.parametrize("power", [1.0, 0.6])
def test_skewed_timesteps_follow_the_power_law_and_stay_in_range(power):
    timesteps = pretraining.skewed_timesteps(20_000, power, torch.Generator().manual_seed(0))
    assert timesteps.dtype == torch.long and timesteps.min() >= 0 and timesteps.max() <= 999
    for level in (500, 900):  # P(1000·u^p ≥ level) = 1 − (level/1000)^(1/p)
        share = (timesteps >= level).float().mean().item()
        assert share == pytest.approx(1 - (level / 1000) ** (1 / power), abs=0.015)


def test_the_pretraining_benchmark_times_the_recipe_params_yaml_gives_the_base_stage(monkeypatch):
    import sys
    from pathlib import Path

    root = Path(__file__).parents[2]
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root / "benchmarks"))
    sys.modules.pop("base_pretraining", None)
    import base_pretraining

    from videodpo.config import load_config

    section = load_config(family="animatediff").family_section("animatediff")
    arch, schedule = base_pretraining.recipe("params")
    assert schedule == section.pretrain
    assert list(arch.vae_channels) == list(section.toy.vae_channels) and arch.frames == load_config(family="animatediff").toyworld.frames
    before_arch, before = base_pretraining.recipe("before")
    assert before_arch.vae_channels == base_pretraining.BEFORE_VAE_CHANNELS and before == base_pretraining.BEFORE
