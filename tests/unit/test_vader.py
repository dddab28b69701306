import copy
import dataclasses

import numpy as np
import pytest
import torch

from algorithms import vader_loop, vader_objective, vader_sampling

from videodpo.training import vader

PROMPTS = ["a red square moving left", "a blue circle moving up"]
SEEDS = [11, 12]


def _sampling(frames: int = 4, **section) -> vader.VaderSampling:
    return vader_sampling(frames=frames, shared_noise=0.5, **{"num_inference_steps": 4, **section})


@pytest.fixture()
def model(toy_model):
    """A copy of the toy model with a fresh motion LoRA. A copy, since peft's deleted adapter
    leaves its wrapper layers behind: the session's model would then save under other names."""
    model = copy.deepcopy(toy_model)
    torch.manual_seed(0)
    model.add_lora(4, 4)
    return model


def test_training_sampler_is_the_evaluations_sampler(toy_model):
    sampling = _sampling()
    latents = torch.cat([toy_model.initial_latents(4, s, 0.5) for s in SEEDS])
    unconditional, conditional = toy_model.guidance_embeddings(PROMPTS)
    with torch.no_grad():
        final = toy_model.denoise(toy_model.denoiser, latents, unconditional, conditional, sampling.num_inference_steps, sampling.guidance_scale, 4)
        frames = toy_model.decode(final, slice(0, 4))
    ours = ((frames.permute(0, 1, 3, 4, 2).numpy() + 1) * 127.5).round().clip(0, 255)
    evaluated = toy_model.generate(PROMPTS, SEEDS, 4, 4, 4.0, 0.5)
    assert np.abs(ours - evaluated.astype(np.float64)).max() <= 1.0


@pytest.mark.parametrize(("mode", "k", "expected"), [("all", 1, [True] * 4), ("last", 1, [False, False, False, True]), ("last", 3, [False, True, True, True])])
def test_backprop_keeps_the_graph_of_the_chosen_steps_only(toy_model, mode, k, expected):
    sampling = _sampling(backprop=mode, backprop_steps=k)
    recorded = []
    hook = toy_model.denoiser.register_forward_pre_hook(lambda *_: recorded.append(torch.is_grad_enabled()))
    try:
        latents = torch.cat([toy_model.initial_latents(4, s, 0.5) for s in SEEDS])
        unconditional, conditional = toy_model.guidance_embeddings(PROMPTS)
        start = vader.first_gradient_step(sampling, torch.Generator().manual_seed(0))
        toy_model.denoise(toy_model.denoiser, latents, unconditional, conditional, sampling.num_inference_steps, sampling.guidance_scale, start)
    finally:
        hook.remove()
    assert recorded == expected


def test_random_cutoff_varies_and_stays_in_range():
    sampling = _sampling(num_inference_steps=10, backprop="random")
    generator = torch.Generator().manual_seed(0)
    cutoffs = {vader.first_gradient_step(sampling, generator) for _ in range(50)}
    assert len(cutoffs) > 3 and min(cutoffs) >= 0 and max(cutoffs) <= 9


def test_decode_window_is_consecutive_and_inside_the_clip():
    sampling = _sampling(frames=8, decode_frames=3)
    generator = torch.Generator().manual_seed(0)
    windows = [vader.decode_window(sampling, 8, generator) for _ in range(40)]
    assert all(w.stop - w.start == 3 and 0 <= w.start and w.stop <= 8 for w in windows)
    assert len({w.start for w in windows}) > 2
    with pytest.raises(ValueError, match="more than the clips' 2 latent frames"):
        vader.decode_window(sampling, 2, generator)


def test_a_wan_window_of_latent_frames_decodes_from_the_start_to_the_clips_own_pixel_frames():
    from videodpo.families import wan
    from videodpo.families.wan import toy as wan_toy
    from videodpo.toyworld.tokenizer import build_toy_tokenizer

    torch.manual_seed(0)
    model = wan.Wan(wan_toy.build_toy_pipeline(build_toy_tokenizer()), resolution=32)
    latents = torch.randn(1, 16, 3, 8, 8)
    assert model.window_frames(slice(0, 3)) == slice(0, 9) and model.window_frames(slice(1, 3)) == slice(1, 9)
    assert model.window_frames(slice(2, 3)) == slice(5, 9)
    with torch.no_grad():
        whole = model.decode(latents)
        assert whole.shape == (1, 9, 3, 32, 32)
        assert torch.allclose(model.decode(latents, slice(2, 3)), whole[:, 5:9], atol=1e-5)  # the clip's own frames 5-8
        assert torch.allclose(model.decode(latents, slice(0, 2)), whole[:, :5], atol=1e-5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backprop": "first"}, r"vader\.backprop: Input should be 'last', 'random' or 'all'"),
        ({"backprop_steps": 11}, r"vader: Value error, backprop_steps 11 > num_inference_steps 10"),
        ({"decode_frames": 1}, r"vader: Value error, decode_frames 1: a temporal reward needs two or more"),
        ({"guard": {"sharpness": 1.0}}, r"vader\.guard: .*unknown \['sharpness'\]; weigh any of contrast, colour, layout"),
        ({"lr_schedule": "linear"}, r"vader\.lr_schedule: Input should be 'constant' or 'cosine'"),
    ],
)
def test_bad_vader_values_fail_at_once_naming_the_key(overrides, message):
    from committed import committed_params

    from videodpo.config import ConfigError, config_from_params

    params = committed_params()
    params["vader"] = {**params["vader"], **overrides}
    with pytest.raises(ConfigError, match=message):
        config_from_params(params, family="animatediff")


def _batch(model, sampling) -> vader.VaderBatch:
    unconditional, conditional = model.guidance_embeddings(PROMPTS)
    return vader.VaderBatch(SEEDS, PROMPTS, unconditional, conditional, vader.reference_clips(model, PROMPTS, SEEDS, sampling))


def test_a_step_up_the_reward_gradient_raises_the_reward(model):
    sampling = _sampling(num_inference_steps=2, backprop="all")
    objective = vader_objective({"brightness": 1.0}, {})
    batch = _batch(model, sampling)
    params = [p for p in model.denoiser.parameters() if p.requires_grad]
    optimiser = torch.optim.SGD(params, lr=0.05)
    before = vader.vader_step(model.denoiser, model, batch, sampling, objective, torch.Generator().manual_seed(0))
    before.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    optimiser.step()
    with torch.no_grad():
        after = vader.vader_step(model.denoiser, model, batch, sampling, objective, torch.Generator().manual_seed(0))
    assert after.reward.mean() > before.reward.mean()


def test_a_model_reward_reaches_the_lora_through_the_sampler(model):
    """vjepa with its scorer model passed in: the reward's gradient reaches the LoRA, the scorer stays frozen."""
    from videodpo.rewards import vjepa

    torch.manual_seed(0)
    scorer = vjepa.build_tiny_vjepa(4, 32).eval().requires_grad_(False)
    sampling = _sampling(num_inference_steps=2, backprop="last")
    step = vader.vader_step(model.denoiser, model, _batch(model, sampling), sampling, vader_objective({"vjepa": 1.0}, {}),
                            torch.Generator().manual_seed(0), {"vjepa": scorer})
    step.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.denoiser.parameters() if p.requires_grad)
    assert all(p.grad is None for p in scorer.parameters())
    assert set(step.parts) >= {"vjepa"}


def test_guard_is_zero_against_the_reference_itself(model):
    sampling = _sampling(num_inference_steps=2)
    objective = vader_objective({"brightness": 1.0}, {"contrast": 1.0, "colour": 1.0, "layout": 1.0})
    with torch.no_grad():
        step = vader.vader_step(model.denoiser, model, _batch(model, sampling), sampling, objective, torch.Generator().manual_seed(0))
    # a fresh LoRA is the identity (its up-projection starts at zero), so the policy's clip is the reference's
    for term in ("contrast", "colour", "layout"):
        assert step.parts[f"guard_{term}"].abs().max() < 1e-4


def _queries(model, sampling, count: int = 4) -> vader.VaderQueries:
    prompts = [PROMPTS[i % 2] for i in range(count)]
    seeds = list(range(100, 100 + count))
    unconditional, conditional = model.guidance_embeddings(prompts)
    return vader.VaderQueries(seeds, prompts, unconditional, conditional, vader.reference_clips(model, prompts, seeds, sampling))


def test_the_loop_validates_on_schedule_and_a_resumed_run_ends_where_an_uninterrupted_one_does(model, tmp_path):
    sampling = _sampling(num_inference_steps=2, backprop="all")
    objective = vader_objective({"brightness": 1.0}, {"contrast": 1.0})
    queries = _queries(model, sampling)
    lora = [p for p in model.denoiser.parameters() if p.requires_grad]
    initial = [p.detach().clone() for p in lora]
    logged: list[tuple[int, dict]] = []
    loop = vader_loop(max_steps=3, clips_per_step=1, learning_rate=1e-2, val_every=2)
    run = vader.train_vader_lora(model, queries, sampling, objective, loop, log=lambda m, s: logged.append((s, m)), validate=lambda: {"warping_error": 1.0})
    uninterrupted = [p.detach().clone() for p in lora]
    assert [s for s, m in logged if "val_warping_error" in m] == [0, 2, 3]
    assert run.steps == 3 and run.train_seconds > 0
    seen = [m["val_clips_sampled"] for _, m in logged if "val_clips_sampled" in m]
    assert seen == [0, 2, 3]

    with torch.no_grad():
        for p, value in zip(lora, initial):
            p.copy_(value)
    short = vader_loop(max_steps=2, clips_per_step=1, learning_rate=1e-2, checkpoint_every=1)
    vader.train_vader_lora(model, queries, sampling, objective, short, checkpoint_dir=tmp_path)
    with torch.no_grad():  # the process dies: what it held in memory is gone
        for p in lora:
            p.add_(torch.randn_like(p))
    resumed = vader.train_vader_lora(model, queries, sampling, objective, dataclasses.replace(short, max_steps=3), checkpoint_dir=tmp_path)
    assert resumed.resumed_from == 2 and resumed.steps == 3
    for p, expected in zip(lora, uninterrupted):
        torch.testing.assert_close(p.detach(), expected, rtol=1e-4, atol=1e-6)


def test_a_cosine_learning_rate_falls_from_the_set_rate_to_zero_at_max_steps():
    cosine = vader_loop(max_steps=40, clips_per_step=1, learning_rate=1e-2, lr_schedule="cosine")
    rates = [cosine.learning_rate_at(step) for step in range(41)]
    assert rates[0] == pytest.approx(1e-2) and rates[20] == pytest.approx(5e-3) and rates[40] == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in zip(rates, rates[1:]))


def test_a_constant_learning_rate_stays_the_set_rate():
    constant = vader_loop(max_steps=40, clips_per_step=1, learning_rate=1e-2, lr_schedule="constant")
    assert {constant.learning_rate_at(step) for step in range(40)} == {1e-2}
