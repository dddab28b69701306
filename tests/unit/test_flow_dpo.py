"""Flow-DPO on Wan checked term by term against its published form (VideoAlign, arXiv 2501.13918):

    x_t = (1 − t)·x0 + t·ε,   v = ε − x0,
    L = −log σ(−(β_VA / 2)·[(‖v_w − v_θ(x_t^w, t)‖² − ‖v_w − v_ref(x_t^w, t)‖²) − (the same for l)]),

with the same ε and t for winner and loser, a constant β (no weighting by t), the reference the
policy with its LoRA off. Our β is the factor in front of the bracket: β = β_VA / 2 (VideoAlign's 500
is our 250), as for Diffusion-DPO (objectives.py)."""

import copy

import pytest
import torch
import torch.nn.functional as F

from videodpo.families.animatediff.toy import build_toy_tokenizer
from videodpo.families.wan import Wan, toy
from videodpo.training.dpo import DPOBatch, dpo_step


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Wan(toy.build_toy_pipeline(build_toy_tokenizer()))


@pytest.fixture()
def batch(model):
    g = torch.Generator().manual_seed(1)
    shape = (3, 16, 3, 8, 8)
    winners = torch.randn(shape, generator=g)
    return DPOBatch(
        winners=winners, losers=winners + 0.3 * torch.randn(shape, generator=g), text=model.encode_prompts(["a red square moving left"] * 3),
        noise=torch.randn(shape, generator=g), timesteps=torch.tensor([50, 500, 950]),
    )


def perturbed(denoiser, seed: int = 2):
    """A copy of the denoiser with every weight moved a little: a policy that differs from the reference."""
    policy = copy.deepcopy(denoiser)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in policy.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=g))
    return policy


def velocity_error(denoiser, x0, noise, timesteps, text):
    """‖v − v_θ(x_t, t)‖² per sample, averaged over its elements, written out from the paper."""
    t = (timesteps.float() / 1000).view(-1, 1, 1, 1, 1)
    x_t = (1 - t) * x0 + t * noise
    v = noise - x0
    with torch.no_grad():
        prediction = denoiser(hidden_states=x_t, timestep=timesteps, encoder_hidden_states=text).sample
    return (v - prediction).pow(2).flatten(1).mean(1)


def test_the_flow_dpo_loss_is_videoaligns_with_our_beta_half_of_theirs(model, batch):
    """The batch's timesteps span t = 0.05 to 0.95: a weighting by t (the derivation's β(1 − t)²) would fail it."""
    reference = model.denoiser
    policy = perturbed(reference)
    beta_videoalign = 500.0
    errors = {
        name: velocity_error(net, x0, batch.noise, batch.timesteps, batch.text)
        for name, net, x0 in (("w", policy, batch.winners), ("l", policy, batch.losers), ("w_ref", reference, batch.winners), ("l_ref", reference, batch.losers))
    }
    inside = (errors["w"] - errors["w_ref"]) - (errors["l"] - errors["l_ref"])
    published = -F.logsigmoid(-(beta_videoalign / 2) * inside).mean()
    with torch.no_grad():
        ours = dpo_step(model, policy, reference, batch, beta=beta_videoalign / 2)
    torch.testing.assert_close(ours.terms.loss, published, rtol=1e-5, atol=1e-6)
    for name, value in (("w", ours.policy_winner), ("l", ours.policy_loser), ("w_ref", ours.reference_winner), ("l_ref", ours.reference_loser)):
        torch.testing.assert_close(value, errors[name], rtol=1e-5, atol=1e-7)


def test_winner_and_loser_share_noise_and_timestep_and_the_target_is_the_velocity(model, batch):
    seen = []

    class Recording(torch.nn.Module):
        def forward(self, hidden_states, timestep, encoder_hidden_states):
            seen.append((hidden_states.clone(), timestep.clone()))
            return type("Output", (), {"sample": torch.zeros_like(hidden_states)})()

    with torch.no_grad():
        step = dpo_step(model, Recording(), Recording(), batch, beta=250.0)
    noisy, timesteps = seen[-1]  # the policy's one batched forward of winners then losers
    assert torch.equal(timesteps, torch.cat([batch.timesteps, batch.timesteps]))
    sigma = (batch.timesteps.float() / 1000).view(-1, 1, 1, 1, 1)
    winners_noisy, losers_noisy = noisy.chunk(2)
    # the same ε under both: the noisy latents differ by (1 − t)·(x0_w − x0_l) alone
    torch.testing.assert_close(winners_noisy - losers_noisy, (1 - sigma) * (batch.winners - batch.losers))
    # with a zero prediction the error is ‖ε − x0‖²: the target is the velocity ε − x0, not ε
    margin = (step.policy_winner - step.reference_winner) - (step.policy_loser - step.reference_loser)
    assert torch.count_nonzero(margin) == 0  # policy = reference: no margin at any t
    policy_errors = torch.stack([step.policy_winner, step.policy_loser])
    expected = torch.stack([(batch.noise - batch.winners).pow(2).flatten(1).mean(1), (batch.noise - batch.losers).pow(2).flatten(1).mean(1)])
    torch.testing.assert_close(policy_errors, expected)
    assert torch.isclose(step.terms.loss, torch.log(torch.tensor(2.0)))


def test_the_reference_is_the_policy_with_its_lora_switched_off(model, batch):
    policy_model = Wan(copy.deepcopy(model.pipe))
    policy_model.add_lora(rank=4, alpha=4)
    with torch.no_grad():
        for name, parameter in policy_model.denoiser.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.1, generator=torch.Generator().manual_seed(3))
        toggled = dpo_step(policy_model, policy_model.denoiser, None, batch, beta=250.0)
    reference_winner = velocity_error(model.denoiser, batch.winners, batch.noise, batch.timesteps, batch.text)
    torch.testing.assert_close(toggled.reference_winner, reference_winner, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(toggled.policy_winner, toggled.reference_winner)


def test_a_gradient_step_on_the_loss_lowers_the_winners_velocity_error_against_the_losers(model, batch):
    policy_model = Wan(copy.deepcopy(model.pipe))
    policy_model.add_lora(rank=4, alpha=4)
    parameters = [p for p in policy_model.denoiser.parameters() if p.requires_grad]
    optimiser = torch.optim.SGD(parameters, lr=0.05)
    before = dpo_step(policy_model, policy_model.denoiser, None, batch, beta=250.0)
    for _ in range(5):
        optimiser.zero_grad()
        dpo_step(policy_model, policy_model.denoiser, None, batch, beta=250.0).terms.loss.backward()
        optimiser.step()
    after = dpo_step(policy_model, policy_model.denoiser, None, batch, beta=250.0)
    margin = lambda s: ((s.policy_winner - s.reference_winner) - (s.policy_loser - s.reference_loser)).mean()  # noqa: E731
    assert margin(after) < margin(before) - 1e-6
    assert after.terms.loss < before.terms.loss
