"""The toy Wan's builders: clips of 4k + 1 frames, 4× compression in space and time, and a saved
pipeline that samples as the one built (offline)."""

import numpy as np
import pytest
import torch

from videodpo.families.animatediff.toy import build_toy_tokenizer
from videodpo.families.wan import toy


def sample(pipe, seed: int = 0) -> np.ndarray:
    return pipe(
        ["a red square moving left"], num_frames=9, height=32, width=32, num_inference_steps=3, guidance_scale=4.0,
        output_type="np", max_sequence_length=16, generator=torch.Generator().manual_seed(seed),
    ).frames


def test_the_toy_wan_vae_compresses_space_and_time_four_times_keeping_the_first_frame_alone():
    vae = toy.build_toy_vae(toy.ToyWanArchitecture()).eval()
    clips = torch.rand(2, 3, 9, 32, 32) * 2 - 1
    with torch.no_grad():
        latents = vae.encode(clips).latent_dist.mode()
        assert latents.shape == (2, 16, 3, 8, 8)
        assert vae.decode(latents).sample.shape == clips.shape
        changed_first = clips.clone()
        changed_first[:, :, 0] = 0.0
        moved = (vae.encode(changed_first).latent_dist.mode() - latents).abs().amax(dim=(0, 1, 3, 4))
    assert moved[0] > 0 and moved[1:].max() > 0  # causal: a change to frame 0 reaches the later groups too
    with pytest.raises(ValueError, match="4k \\+ 1 frames, not 8: use 5"):
        toy.ToyWanArchitecture(frames=8)


def test_the_residual_toy_vae_keeps_the_latent_shape_and_its_widths_stop_doubling_where_its_pass_through_needs():
    arch = toy.ToyWanArchitecture(vae_residual=True)
    assert arch.vae_dim_mult == [1, 2, 2] and toy.ToyWanArchitecture().vae_dim_mult == [1, 2, 4]
    vae = toy.build_toy_vae(arch).eval()
    assert vae.config.is_residual
    clips = torch.rand(2, 3, 9, 32, 32) * 2 - 1
    with torch.no_grad():
        latents = vae.encode(clips).latent_dist.mode()
        assert latents.shape == (2, 16, 3, 8, 8)
        assert vae.decode(latents).sample.shape == clips.shape


def test_the_edge_weighted_loss_counts_errors_beside_the_clips_edges_more_and_is_the_mse_at_weight_one():
    from videodpo.families.wan import pretraining

    clip = -torch.ones(1, 3, 1, 8, 8)
    clip[..., 2:6, 2:6] = 1.0  # a square on a dark background
    weights = pretraining.edge_weights(clip, 5.0)
    assert weights[0, 0, 0, 0, 0] == 1 and weights[0, 0, 0, 4, 4] == 1  # background and the square's inside
    assert weights[0, 0, 0, 2, 2] == 5 and weights[0, 0, 0, 1, 2] == 5  # either side of its edge
    at_edge, inside = clip.clone(), clip.clone()
    at_edge[..., 2, 3] = 0.0
    inside[..., 4, 4] = 0.0
    assert pretraining.edge_weighted_mse(at_edge, clip, 5.0) == 5 * pretraining.edge_weighted_mse(inside, clip, 5.0)
    noisy = clip + 0.1 * torch.randn(clip.shape, generator=torch.Generator().manual_seed(0))
    assert pretraining.edge_weighted_mse(noisy, clip, 1.0) == torch.nn.functional.mse_loss(noisy, clip)


def test_a_saved_toy_wan_pipeline_samples_as_the_one_built(tmp_path):
    from diffusers import WanPipeline

    torch.manual_seed(0)
    pipe = toy.build_toy_pipeline(build_toy_tokenizer())
    made = sample(pipe)
    assert made.shape == (1, 9, 32, 32, 3)
    pipe.save_pretrained(tmp_path, safe_serialization=True)
    loaded = sample(WanPipeline.from_pretrained(tmp_path))
    assert np.abs(loaded - made).max() < 1e-5  # every weight equal; the loaded transformer's outputs round differently (~4e-7)
    assert not np.array_equal(sample(pipe, seed=1), made)


def test_a_segment_maps_to_the_latent_frames_whose_pixel_frames_it_holds_whole():
    from videodpo.families import wan

    assert wan.latent_frames(9) == 3 and wan.latent_frames(17) == 5
    assert [list(wan.pixel_frames_of(j)) for j in range(3)] == [[0], [1, 2, 3, 4], [5, 6, 7, 8]]
    # segments of 3 pixel frames over 9: 0-2 holds latent 0 only; 3-5 holds none whole; 6-8 none whole
    assert wan.latent_segments([range(0, 3), range(3, 6), range(6, 9)], 9) == [range(0, 1), range(0), range(0)]
    # segments aligned with the grouping keep every latent frame: {0}, {1-4}, {5-8}
    assert wan.latent_segments([range(0, 1), range(1, 5), range(5, 9)], 9) == [range(0, 1), range(1, 2), range(2, 3)]
    assert wan.latent_segments([range(0, 5), range(5, 9)], 9) == [range(0, 2), range(2, 3)]
    with pytest.raises(ValueError, match="4k \\+ 1 frames, not 8"):
        wan.latent_frames(8)


def test_the_flow_matching_draw_is_wans_and_encoded_latents_decode_to_the_clip_shape():
    from videodpo.families import wan

    torch.manual_seed(0)
    model = wan.Wan(toy.build_toy_pipeline(build_toy_tokenizer()))
    x0, noise = torch.randn(2, 16, 3, 8, 8), torch.randn(2, 16, 3, 8, 8)
    noisy, target = model.training_draw(x0, noise, torch.tensor([0, 1000]))
    assert torch.allclose(noisy[0], x0[0]) and torch.allclose(noisy[1], noise[1])  # σ = 0: data, σ = 1: noise
    assert torch.equal(target, noise - x0)
    half, _ = model.training_draw(x0, noise, torch.tensor([500, 500]))
    assert torch.allclose(half, (x0 + noise) / 2)
    clips = np.random.default_rng(0).integers(0, 256, (2, 9, 32, 32, 3), dtype=np.uint8)
    latents = model.encode_clips(clips)
    assert latents.shape == (2, 16, 3, 8, 8)
    with torch.no_grad():
        assert model.decode(latents).shape == (2, 9, 3, 32, 32)
    text = model.encode_prompts(["a red square moving left", "a blue circle"])
    assert text.shape == (2, 16, 32)
    assert text[1, -1].abs().sum() == 0  # padding zeroed, as WanPipeline gives it
    prediction = model.predict(model.denoiser, noisy, torch.tensor([0, 999]), text)
    assert prediction.shape == noisy.shape


def test_the_deterministic_step_is_diffusers_euler_and_a_stochastic_one_scores_its_draw():
    """eta = 0: the flow-matching Euler step of WanPipeline's scheduler. eta > 0: the step's draw has
    the predicted mean (the ODE step plus the SDE's drift correction, which vanishes as eta → 0),
    and a recorded draw scored again under the same prediction gets the log-probability recorded."""
    from videodpo.families import wan

    model = wan.Wan(toy.build_toy_pipeline(build_toy_tokenizer()))
    scheduler = model.sampler(4)
    latents, velocity = torch.randn(2, 16, 3, 8, 8), torch.randn(2, 16, 3, 8, 8)
    for timestep in scheduler.timesteps:
        reference = model.sampler(4)
        reference._step_index = None
        expected = reference.step(velocity, timestep, latents).prev_sample
        ours, log_prob = model.sampler_step(scheduler, velocity, timestep, latents)
        assert torch.allclose(ours, expected, atol=1e-6) and log_prob is None
    timestep = scheduler.timesteps[1]
    drawn, recorded = model.sampler_step(scheduler, velocity, timestep, latents, eta=0.7, generator=torch.Generator().manual_seed(0))
    again, rescored = model.sampler_step(scheduler, velocity, timestep, latents, eta=0.7, prev_latents=drawn)
    assert torch.equal(again, drawn) and torch.allclose(rescored, recorded)
    other, _ = model.sampler_step(scheduler, velocity, timestep, latents, eta=0.7, generator=torch.Generator().manual_seed(1))
    _, elsewhere = model.sampler_step(scheduler, velocity + 1.0, timestep, latents, eta=0.7, prev_latents=drawn)
    assert not torch.equal(other, drawn) and (elsewhere < recorded).all()  # another velocity explains the draw worse
    small, _ = model.sampler_step(scheduler, velocity, timestep, latents, eta=1e-4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(small, model.sampler_step(scheduler, velocity, timestep, latents)[0], atol=1e-3)


def test_a_lora_on_the_self_attention_saves_in_diffusers_format_and_loads_back_into_a_wan_pipeline(tmp_path):
    """rank 2, alpha 6: the reloaded LoRA gives the trained pipeline's clips (so alpha ≠ r came back at
    its scale), and differs from the base's."""
    from diffusers import WanPipeline

    from videodpo.families import wan

    torch.manual_seed(0)
    pipe = toy.build_toy_pipeline(build_toy_tokenizer())
    pipe.save_pretrained(tmp_path / "base", safe_serialization=True)
    base_clip = sample(WanPipeline.from_pretrained(tmp_path / "base"))
    model = wan.Wan(WanPipeline.from_pretrained(tmp_path / "base"))
    config = model.add_lora(2, 6.0)
    trainable = [name for name, p in model.denoiser.named_parameters() if p.requires_grad]
    assert trainable and all("attn1" in name and "lora" in name for name in trainable)
    with torch.no_grad():
        for name, p in model.denoiser.named_parameters():
            if "lora_B" in name:
                p.add_(torch.randn_like(p) * 0.5)  # as if trained: B starts at zero
    with_lora = sample(model.pipe)
    model.save_lora(config, tmp_path / "lora")
    reloaded = WanPipeline.from_pretrained(tmp_path / "base")
    reloaded.load_lora_weights(tmp_path / "lora", adapter_name="videodpo")
    again = sample(reloaded)
    assert np.abs(again - with_lora).max() < 1e-4
    assert np.abs(with_lora - base_clip).max() > 1e-2
    with pytest.raises(ValueError, match="allowed for wan: self_attention, self_and_cross_attention"):
        model.add_lora(2, 2.0, targets="motion")


def test_generation_is_a_pure_function_of_prompt_and_seed():
    from videodpo.families import wan

    torch.manual_seed(0)
    model = wan.Wan(toy.build_toy_pipeline(build_toy_tokenizer()))
    assert model.initial_latents(9, seed=5, shared_noise=0.5, resolution=32).shape == (1, 16, 3, 8, 8)
    prompts = ["a red square moving left", "a blue circle moving up", "a red square moving left"]
    clips = model.generate(prompts, [1, 2, 1], frames=9, steps=2, guidance_scale=4.0, shared_noise=0.5, resolution=32, batch_size=2)
    assert clips.shape == (3, 9, 32, 32, 3) and clips.dtype == np.uint8
    # the same prompt and seed in another batch: the same clip, but for a level of rounding the batch around it may move
    assert np.abs(clips[0].astype(int) - clips[2].astype(int)).max() <= 1 and np.abs(clips[0].astype(int) - clips[1].astype(int)).max() > 10
    with pytest.raises(ValueError, match="2 prompts but 1 seeds"):
        model.generate(prompts[:2], [1], 9, 2, 4.0, 0.5, resolution=32)


def test_guidance_embeds_the_empty_prompt_beside_each_prompts_own():
    from videodpo.families import wan

    torch.manual_seed(0)
    model = wan.Wan(toy.build_toy_pipeline(build_toy_tokenizer()))
    prompts = ["a red square moving left", "a blue circle moving up"]
    unconditional, conditional = model.guidance_embeddings(prompts)
    assert torch.equal(unconditional[0], unconditional[1]) and torch.equal(conditional, model.encode_prompts(prompts))
    assert not torch.equal(conditional[0], conditional[1])


def test_the_guided_loop_samples_as_the_pipeline_and_sdedit_from_full_strength_is_generation():
    """denoise() from a seed's noise gives the clip WanPipeline samples from it (within a level of
    rounding); SDEdit at strength 1 from the same noise is the same clip, at a low strength the clip
    stays near the clean one it starts from."""
    from videodpo.families import wan

    torch.manual_seed(0)
    model = wan.Wan(toy.build_toy_pipeline(build_toy_tokenizer()))
    prompts = ["a red square moving left", "a blue circle moving up"]
    made = model.generate(prompts, [3, 4], frames=9, steps=3, guidance_scale=4.0, shared_noise=0.0, resolution=32)
    noise = torch.cat([model.initial_latents(9, seed, 0.0, 32) for seed in (3, 4)])
    unconditional, conditional = model.guidance_embeddings(prompts)
    with torch.no_grad():
        final = model.denoise(model.denoiser, noise, unconditional, conditional, 3, 4.0)
        ours = ((model.decode(final).permute(0, 1, 3, 4, 2) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    assert np.abs(ours.astype(int) - made.astype(int)).max() <= 2
    full = model.denoise_from(torch.zeros_like(noise), noise, prompts, 1.0, 3, 4.0, 32)
    assert np.abs(full.astype(int) - made.astype(int)).max() <= 2
    clean = model.encode_clips(made)
    light = model.denoise_from(clean, noise, prompts, model.strength_for(1, 3), 3, 4.0, 32)
    heavy = model.denoise_from(clean, noise, prompts, model.strength_for(3, 3), 3, 4.0, 32)
    with torch.no_grad():
        decoded = ((model.decode(clean).permute(0, 1, 3, 4, 2) + 1) * 127.5).round().clamp(0, 255).numpy()
    assert np.abs(light - decoded).mean() < np.abs(heavy - decoded).mean()


def test_a_saved_toy_wan_opens_through_the_family(tmp_path):
    from videodpo import families
    from videodpo.families import wan

    torch.manual_seed(0)
    made = wan.Wan(toy.build_toy_pipeline(build_toy_tokenizer()))
    made.save(tmp_path / "base")
    opened = families.family_module("wan").load(tmp_path / "base")
    assert isinstance(opened, families.family_module("wan").MODEL) and opened.family == "wan"
    clips = opened.generate(["a red square moving left"], [7], 9, 2, 4.0, 0.5, resolution=32)
    assert np.abs(clips.astype(int) - made.generate(["a red square moving left"], [7], 9, 2, 4.0, 0.5, resolution=32).astype(int)).max() <= 1
    assert wan.load_tokenizer(tmp_path / "base")("a red square")["input_ids"] == made.pipe.tokenizer("a red square")["input_ids"]


def test_a_toy_wan_folder_without_its_weights_names_the_stage_that_makes_it(tmp_path):
    from videodpo.core.integrity import DamagedFileError
    from videodpo.families import wan

    torch.manual_seed(0)
    wan.Wan(toy.build_toy_pipeline(build_toy_tokenizer())).save(tmp_path / "base")
    (tmp_path / "base/transformer/diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(DamagedFileError, match="is incomplete or damaged.*dvc repro"):
        wan.load(tmp_path / "base")


@pytest.mark.parametrize("vae_recipe", [{}, {"vae_residual": True, "vae_edge_weight": 5.0, "vae_decode_mean": True}], ids=["wan2.1", "residual_edges_mean"])
def test_the_toy_wan_pretrains_and_fits_its_latent_normalisation_to_its_clips(tmp_path, vae_recipe):
    from videodpo import families
    from videodpo.families.wan import pretraining
    from videodpo.families.pretraining import PhaseClock

    residual = vae_recipe.get("vae_residual", False)
    arch = toy.ToyWanArchitecture(layers=1, vae_residual=residual)
    schedule = pretraining.WanPretrainSettings(clips_per_caption=1, vae_frame_steps=1, vae_clip_steps=2, vae_batch_frames=4, vae_batch_clips=2, steps=3, batch_clips=4,
                                               **{key: value for key, value in vae_recipe.items() if key != "vae_residual"})
    logged, clock = [], PhaseClock()
    model = pretraining.pretrain_toy_wan(arch, schedule, lambda name, value, step: logged.append((name, step)), clock)
    assert [name for name, _ in logged] == ["vae_psnr_db"] * 3 + ["velocity_loss"] * 3
    assert clock.steps == {"vae": 3, "transformer": 3}
    config = model.pipe.vae.config
    assert config.latents_mean != [0.0] * 8 and config.latents_std != [1.0] * 8
    pixels, _ = pretraining.training_pixels(arch, schedule)
    with torch.no_grad():
        raw = model.pipe.vae.encode(pixels).latent_dist.mode()
    normalised = (raw - torch.tensor(config.latents_mean).view(1, -1, 1, 1, 1)) / torch.tensor(config.latents_std).view(1, -1, 1, 1, 1)
    assert normalised.mean(dim=(0, 2, 3, 4)).abs().max() < 1e-3 and (normalised.std(dim=(0, 2, 3, 4)) - 1).abs().max() < 1e-3
    assert not any(p.requires_grad for p in model.denoiser.parameters()) and not model.pipe.text_encoder.training
    model.save(tmp_path / "base")
    reopened = families.load_base(tmp_path / "base")
    assert reopened.pipe.vae.config.latents_mean == config.latents_mean
    assert reopened.generate(["a red square moving left"], [0], 9, 2, 4.0, 0.0, resolution=32).shape == (1, 9, 32, 32, 3)


def test_kept_prompt_embeddings_sample_as_the_text_encoder_did_once_it_is_released():
    from videodpo.families import wan

    torch.manual_seed(0)
    model = wan.Wan(toy.build_toy_pipeline(build_toy_tokenizer()), resolution=32)
    prompts = ["a red square moving left", "a blue circle moving up"]
    before = model.generate(prompts, [3, 4], 9, 2, 4.0, 0.0)
    model.keep_prompt_embeddings(prompts)
    assert model.pipe.text_encoder is None
    assert np.array_equal(model.generate(prompts, [3, 4], 9, 2, 4.0, 0.0), before)
    with pytest.raises(ValueError, match="text encoder was released.*a green triangle"):
        model.encode_prompts(["a green triangle moving down"])


def test_the_written_out_rms_norm_gives_diffusers_values_and_gradients_and_every_wan_model_uses_it():
    from diffusers.models.autoencoders.autoencoder_kl_wan import WanRMS_norm

    from videodpo.families.wan import Wan, vae_norm

    torch.manual_seed(0)
    for channel_first, shape in ((True, (2, 8, 3, 6, 6)), (False, (2, 5, 8))):
        norm = WanRMS_norm(8, channel_first=channel_first, images=False, bias=True)
        with torch.no_grad():
            norm.gamma.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.1, 0.1)
        x = torch.randn(shape)
        x[0, ..., 0] = 0.0  # a position whose channels are all zero: F.normalize's ε, and no NaN gradient
        inputs = [x.clone().requires_grad_(True) for _ in range(2)]
        theirs = norm(inputs[0])
        ours = vae_norm.rms_norm(norm, inputs[1])
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
        weights = torch.randn(shape)
        (theirs * weights).sum().backward()
        (ours * weights).sum().backward()
        torch.testing.assert_close(inputs[1].grad, inputs[0].grad, rtol=1e-5, atol=1e-5)
    model = Wan(toy.build_toy_pipeline(build_toy_tokenizer()), resolution=32)
    norms = [m for m in model.pipe.vae.modules() if isinstance(m, WanRMS_norm)]
    assert norms and all(m.forward.__func__ is vae_norm.rms_norm for m in norms)
