import copy
import dataclasses

import pytest
import torch
import yaml

from algorithms import grpo_loop, grpo_objective, grpo_sampling

from videodpo.training import grpo

PROMPTS = ["a red square moving left", "a blue circle moving up"]


def _sampling(frames: int = 4, **section) -> grpo.GrpoSampling:
    return grpo_sampling(frames=frames, shared_noise=0.5, **{"num_inference_steps": 3, "eta": 1.0, **section})


@pytest.fixture(scope="module")
def wan_model():
    from videodpo.families import wan
    from videodpo.families.wan import toy as wan_toy
    from videodpo.toyworld.tokenizer import build_toy_tokenizer

    torch.manual_seed(0)
    return wan.Wan(wan_toy.build_toy_pipeline(build_toy_tokenizer()), resolution=32)


def _with_lora(model, targets):
    """A copy with a fresh LoRA whose up-projection is nudged off zero, so the policy differs from the reference."""
    model = copy.deepcopy(model)
    torch.manual_seed(0)
    model.add_lora(4, 4, targets=targets)
    with torch.no_grad():
        for name, param in model.denoiser.named_parameters():
            if "lora_B" in name:
                param.add_(0.02 * torch.randn_like(param))
    return model


@pytest.fixture(params=["animatediff", "wan"])
def family_model(request, toy_model, wan_model):
    """(policy with a LoRA, clip frames) of each family."""
    if request.param == "animatediff":
        return _with_lora(toy_model, "motion_and_spatial"), 4
    return _with_lora(wan_model, "self_attention"), 5


def _prompts(model) -> grpo.GrpoPrompts:
    unconditional, conditional = model.guidance_embeddings(PROMPTS)
    return grpo.GrpoPrompts(PROMPTS, unconditional, conditional)


def test_with_the_lora_off_the_recomputed_log_probability_of_every_recorded_step_is_the_recorded_one(family_model):
    model, frames = family_model
    sampling = _sampling(frames)
    prompts = _prompts(model)
    start = torch.cat([model.initial_latents(frames, seed, 0.5) for seed in (3, 4)])
    with torch.no_grad(), model.adapters_disabled(model.denoiser):
        states, recorded = grpo.sample_trajectory(model, model.denoiser, start, prompts.unconditional, prompts.conditional, sampling, torch.Generator().manual_seed(0))
        scheduler = model.sampler(sampling.num_inference_steps)
        for index in range(sampling.num_inference_steps):
            again = grpo.step_log_prob(model, model.denoiser, scheduler, states, index, prompts.unconditional, prompts.conditional, sampling)
            torch.testing.assert_close(again, recorded[index], atol=1e-4, rtol=0)
            _, clipped = grpo.clipped_policy_loss(again, recorded[index], torch.ones(2), 1e-4)
            assert clipped.item() == 0.0  # every ratio is 1
    with torch.no_grad():  # with the LoRA on, the policy gives the recorded steps another probability: the check above can fail
        policy = grpo.step_log_prob(model, model.denoiser, scheduler, states, 0, prompts.unconditional, prompts.conditional, sampling)
    assert (policy - recorded[0]).abs().max() > 1e-6
    assert states.shape[0] == sampling.num_inference_steps + 1 and recorded.shape == (sampling.num_inference_steps, 2)


def test_on_policy_the_ratio_is_exactly_one_at_every_step_with_the_lora_on(family_model):
    """The check Flow-GRPO's FAQ asks for, with the policy as it trains (its LoRA on and off zero): the clips it
    samples, scored again by the same policy, give a log-probability ratio of 1 at every sampler step, the
    high-noise ones and the low-noise ones alike (GRPO-Guard finds the ratio's mean below 1 at low noise where
    the recomputation drifts)."""
    model, frames = family_model
    sampling = _sampling(frames)
    prompts = _prompts(model)
    start = torch.cat([model.initial_latents(frames, seed, 0.5) for seed in (5, 6)])
    with torch.no_grad():
        states, recorded = grpo.sample_trajectory(model, model.denoiser, start, prompts.unconditional, prompts.conditional, sampling, torch.Generator().manual_seed(1))
        scheduler = model.sampler(sampling.num_inference_steps)
        ratios = torch.stack([
            torch.exp(grpo.step_log_prob(model, model.denoiser, scheduler, states, index, prompts.unconditional, prompts.conditional, sampling) - recorded[index])
            for index in range(sampling.num_inference_steps)
        ])
    torch.testing.assert_close(ratios, torch.ones_like(ratios), atol=1e-4, rtol=0)


def test_the_sampler_noise_is_the_generators_so_a_group_differs_and_a_replay_repeats(family_model):
    model, frames = family_model
    sampling = _sampling(frames)
    prompts = _prompts(model)
    start = torch.cat([model.initial_latents(frames, 3, 0.5)] * 2)  # one start twice: only the sampler's noise differs
    embeddings = (prompts.unconditional[:1].repeat(2, 1, 1), prompts.conditional[:1].repeat(2, 1, 1))
    with torch.no_grad():
        first, _ = grpo.sample_trajectory(model, model.denoiser, start, *embeddings, sampling, torch.Generator().manual_seed(5))
        again, _ = grpo.sample_trajectory(model, model.denoiser, start, *embeddings, sampling, torch.Generator().manual_seed(5))
    assert torch.equal(first, again)
    assert (first[-1, 0] - first[-1, 1]).abs().max() > 1e-3


def test_one_step_on_a_fixed_group_raises_the_advantage_weighted_log_probability(family_model):
    model, frames = family_model
    sampling = _sampling(frames)
    objective = grpo_objective(rewards={"brightness": 1.0}, clip_range=10.0)  # a wide clip: the plain policy gradient
    prompts = _prompts(model)
    round_ = grpo.sample_round(model, prompts, torch.tensor([0]), grpo.clip_seeds(0, 0, 4), sampling, objective, 4, torch.Generator().manual_seed(0))
    assert round_.advantages.abs().sum() > 0 and round_.advantages.sum().abs() < 1e-4  # ranked within the group

    def weighted_log_prob() -> float:
        scheduler = model.sampler(sampling.num_inference_steps)
        with torch.no_grad():
            total = sum(
                (round_.advantages * grpo.step_log_prob(model, model.denoiser, scheduler, round_.states, i, prompts.unconditional[round_.rows],
                                                       prompts.conditional[round_.rows], sampling)).sum()
                for i in sampling.trained_steps()
            )
        return float(total)

    before = weighted_log_prob()
    params = [p for p in model.denoiser.parameters() if p.requires_grad]
    optimiser = torch.optim.SGD(params, lr=0.5)

    class Accelerator:
        autocast = staticmethod(lambda: torch.autocast("cpu", enabled=False))
        backward = staticmethod(lambda loss: loss.backward())

    context = grpo.StepContext(model.denoiser, 0, range(2), 0, Accelerator(), 0)
    logged = grpo.grpo_update(context, model, round_, prompts, sampling, objective, 0, 1)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    optimiser.step()
    assert weighted_log_prob() > before
    assert logged["clipped_share"] == 0.0


def test_group_advantages_rank_each_clip_within_its_own_group():
    rewards = torch.tensor([1.0, 2.0, 3.0, 10.0, 10.0, 10.0])
    advantages = grpo.group_advantages(rewards, 3)
    torch.testing.assert_close(advantages[:3], torch.tensor([-1.2247, 0.0, 1.2247]), atol=1e-3, rtol=0)
    assert advantages[3:].abs().max() == 0  # a group whose clips all score alike teaches nothing


def test_the_clipped_objective_stops_pulling_outside_the_clip_range():
    old = torch.zeros(3)
    advantages = torch.tensor([1.0, 1.0, -1.0])
    new = torch.tensor([0.0, 0.5, -0.5], requires_grad=True)
    loss, clipped = grpo.clipped_policy_loss(new, old, advantages, 0.1)
    loss.backward()
    assert new.grad[0] != 0  # inside the range: pulled
    assert new.grad[1] == 0 and new.grad[2] == 0  # ratio past 1 + ε with A > 0, below 1 − ε with A < 0: no more pull
    assert clipped.item() == pytest.approx(2 / 3)
    far, _ = grpo.clipped_policy_loss(torch.tensor([500.0]), torch.tensor([0.0]), torch.tensor([-1.0]), 0.1)
    assert torch.isfinite(far)


def test_the_kl_estimate_is_zero_at_the_reference_and_half_the_squared_gap_elsewhere():
    assert grpo.kl_estimate(torch.tensor([0.3]), torch.tensor([0.3])).item() == 0.0
    assert grpo.kl_estimate(torch.tensor([0.5]), torch.tensor([0.1])).item() == pytest.approx(0.08)


def _params(**grpo_section) -> dict:
    from videodpo.config import load_config  # noqa: F401  (the project's own params, as committed)

    params = yaml.safe_load(open("params.yaml"))
    params["methods"] = ["grpo", "vader"]
    params["grpo"] = {**(params.get("grpo") or {}), **grpo_section}
    return params


@pytest.mark.parametrize(
    ("section", "messages"),
    [
        ({"group_size": 1}, ["grpo.group_size", "2 or more"]),
        ({"eta": 0.0}, ["grpo.eta", "0 < eta ≤ 1"]),
        ({"eta": 1.5}, ["grpo.eta"]),
        ({"rewards": {"sharpness": 1.0}}, ["grpo.rewards", "sharpness", "flow_warping", "module:function"]),
        ({"rewards": {"brightness": 0.0}}, ["grpo.rewards", "no reward with a weight"]),
        ({"train_steps": 20}, ["train_steps 20 > num_inference_steps"]),
        ({"updates_per_round": 11}, ["updates_per_round 11", "lower it"]),
        ({"guard": {"sharpness": 1.0}}, ["grpo.guard", "sharpness"]),
        ({"lora_targets": "everything"}, ["grpo.lora_targets", "motion_and_spatial"]),
    ],
)
def test_bad_grpo_values_fail_at_once_naming_the_key_and_the_fix(section, messages):
    from videodpo.config import ConfigError, config_from_params

    with pytest.raises(ConfigError) as error:
        config_from_params(_params(**section), family="animatediff")
    for message in messages:
        assert message in str(error.value)


def test_vader_refuses_a_reward_without_a_gradient_and_grpo_takes_it():
    from videodpo.rewards import registry as rewards
    from videodpo.config import ConfigError, config_from_params

    params = _params(rewards={"flow_warping": 1.0})
    config_from_params(params, family="animatediff")  # grpo: any reward
    params["vader"] = {**params["vader"], "rewards": {"flow_warping": 1.0}}
    with pytest.raises(ConfigError, match=r"vader\.rewards: Value error, reward\(s\) flow_warping have no gradient.*train grpo with them"):
        config_from_params(params, family="animatediff")
    with pytest.raises(ValueError, match="flow_warping have no gradient.*train grpo with them"):
        rewards.check_reward_names({"flow_warping": 1.0}, differentiable=True)


def test_a_run_stopped_inside_a_round_resumes_on_its_clips_and_ends_where_an_uninterrupted_one_does(toy_model, tmp_path):
    model = _with_lora(toy_model, "motion_and_spatial")
    sampling = _sampling(4, num_inference_steps=2)
    objective = grpo_objective(rewards={"brightness": 1.0}, guard={"contrast": 1.0}, clip_range=0.2, kl_weight=0.1)
    prompts = _prompts(model)
    lora = [p for p in model.denoiser.parameters() if p.requires_grad]
    initial = [p.detach().clone() for p in lora]
    loop = grpo_loop(max_steps=4, prompts_per_round=1, group_size=2, updates_per_round=2, learning_rate=1e-2, checkpoint_every=1)
    logged = []
    grpo.train_grpo_lora(model, prompts, sampling, objective, loop, log=lambda m, s: logged.append(m))
    uninterrupted = [p.detach().clone() for p in lora]
    assert {"reward_mean", "reward_std", "kl", "clipped_share", "guard_contrast"} <= set(logged[0])
    assert any(abs(a - b).max() > 0 for a, b in zip(uninterrupted, initial))

    with torch.no_grad():
        for p, value in zip(lora, initial):
            p.copy_(value)
    grpo.train_grpo_lora(model, prompts, sampling, objective, dataclasses.replace(loop, max_steps=3), checkpoint_dir=tmp_path)
    assert len(list((tmp_path / "rounds").glob("*.safetensors"))) == 1  # step 3 is inside round 1: its clips are kept
    with torch.no_grad():  # the process dies: what it held in memory is gone
        for p in lora:
            p.add_(torch.randn_like(p))
    resumed = grpo.train_grpo_lora(model, prompts, sampling, objective, loop, checkpoint_dir=tmp_path)
    assert resumed.resumed_from == 3 and resumed.steps == 4
    for p, expected in zip(lora, uninterrupted):
        torch.testing.assert_close(p.detach(), expected, rtol=1e-4, atol=1e-6)


def test_clips_sampled_counts_a_round_per_updates_per_round_steps():
    loop = grpo_loop(max_steps=5, prompts_per_round=2, group_size=4, updates_per_round=2, learning_rate=1e-3)
    assert [grpo.clips_sampled(steps, loop) for steps in (0, 1, 2, 3, 5)] == [0, 8, 8, 16, 24]
    assert grpo.clips_sampled(4, loop, processes=2) == 32


def test_each_clip_of_a_run_has_its_own_training_seed():
    from videodpo.core import seeds

    first_rounds = grpo.clip_seeds(3, 0, 250)
    assert len(set(first_rounds)) == 250 and first_rounds == sorted(first_rounds)
    assert grpo.clip_seeds(3, 100, 2) == first_rounds[100:102]  # a round's seeds follow from its place in the run
    assert max(grpo.clip_seeds(999, 10**6 - 1, 1)) < seeds.VALIDATION_OFFSET  # below validation's and evaluation's
