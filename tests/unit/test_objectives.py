import math

import pytest

import torch

from videodpo.training.objectives import clip_dpo_loss, per_sample_mse, segment_dpo_loss


def test_clip_dpo_loss_matches_a_hand_computed_case():
    # policy improves the winner by 0.02 and worsens the loser by 0.01 against the reference:
    # margin = (0.10 − 0.12) − (0.31 − 0.30) = −0.03; logit = −β·margin = 0.03·100 = 3
    terms = clip_dpo_loss(torch.tensor([0.10]), torch.tensor([0.31]), torch.tensor([0.12]), torch.tensor([0.30]), beta=100)
    assert math.isclose(terms.loss.item(), -math.log(1 / (1 + math.exp(-3.0))), rel_tol=1e-5)
    assert terms.implicit_accuracy.item() == 1.0
    assert math.isclose(terms.reward_margin.item(), 3.0, rel_tol=1e-5)


def test_clip_dpo_loss_is_log_two_when_policy_equals_reference():
    mse = torch.tensor([0.2, 0.5])
    terms = clip_dpo_loss(mse, mse.flip(0), mse, mse.flip(0), beta=2500)
    assert math.isclose(terms.loss.item(), math.log(2), rel_tol=1e-6)


def test_clip_dpo_gradient_lowers_winner_error_and_raises_loser_error():
    winner, loser = torch.tensor([0.2], requires_grad=True), torch.tensor([0.2], requires_grad=True)
    clip_dpo_loss(winner, loser, torch.tensor([0.2]), torch.tensor([0.2]), beta=10).loss.backward()
    assert winner.grad.item() > 0 and loser.grad.item() < 0  # descent lowers winner mse, raises loser mse


def test_segment_dpo_loss_follows_labels_and_ignores_ties():
    a = torch.tensor([[0.1, 0.3, 0.2]])
    b = torch.tensor([[0.3, 0.1, 0.2]])
    ref = torch.full((1, 3), 0.2)
    # segment 0 prefers a (a improved), segment 1 prefers b (b improved), segment 2 is a tie
    labels = torch.tensor([[1, -1, 0]])
    terms = segment_dpo_loss(a, b, ref, ref, labels, beta=10)
    expected = -torch.nn.functional.logsigmoid(torch.tensor([2.0, 2.0])).mean()
    assert torch.isclose(terms.loss, expected)
    assert terms.implicit_accuracy.item() == 1.0


def test_segment_dpo_loss_with_whole_clip_labels_equals_clip_loss_per_segment():
    torch.manual_seed(0)
    a, b, ra, rb = (torch.rand(4, 1) for _ in range(4))
    segment = segment_dpo_loss(a, b, ra, rb, torch.ones(4, 1), beta=50)
    clip = clip_dpo_loss(a[:, 0], b[:, 0], ra[:, 0], rb[:, 0], beta=50)
    assert torch.isclose(segment.loss, clip.loss)


def test_per_sample_mse_reduces_all_but_the_batch_dimension():
    prediction = torch.zeros(2, 4, 8, 3, 3)
    target = torch.ones(2, 4, 8, 3, 3)
    target[1] *= 2
    assert torch.equal(per_sample_mse(prediction, target), torch.tensor([1.0, 4.0]))


def test_the_winner_anchor_adds_its_weight_times_the_winners_error_change():
    policy_w, policy_l = torch.tensor([0.10, 0.20]), torch.tensor([0.31, 0.40])
    reference_w, reference_l = torch.tensor([0.12, 0.15]), torch.tensor([0.30, 0.41])
    plain = clip_dpo_loss(policy_w, policy_l, reference_w, reference_l, beta=100)
    anchored = clip_dpo_loss(policy_w, policy_l, reference_w, reference_l, beta=100, sft_weight=3.0)
    # mean(mse_w − mse_w_ref) = mean(−0.02, +0.05) = 0.015
    assert math.isclose(anchored.loss.item() - plain.loss.item(), 3.0 * 0.015, rel_tol=1e-5)


def test_the_winner_anchor_resists_raising_the_winners_error_once_the_dpo_term_is_saturated():
    # the policy already separates the pair by a wide margin, by doing worse on both clips
    winner, loser = torch.tensor([0.30], requires_grad=True), torch.tensor([0.90], requires_grad=True)
    clip_dpo_loss(winner, loser, torch.tensor([0.20]), torch.tensor([0.20]), beta=100).loss.backward()
    plain = winner.grad.item()
    winner.grad = None
    clip_dpo_loss(winner, loser, torch.tensor([0.20]), torch.tensor([0.20]), beta=100, sft_weight=1.0).loss.backward()
    assert plain < 1e-10 and winner.grad.item() > 0.9  # only the anchor still pulls the winner's error down


def test_segment_errors_of_unequal_latent_segments_and_equal_ones_as_a_count():
    import torch

    from videodpo.training.objectives import per_segment_mse

    prediction, target = torch.randn(2, 4, 3, 2, 2), torch.randn(2, 4, 3, 2, 2)
    per_frame = (prediction - target).pow(2).mean(dim=(1, 3, 4))
    unequal = per_segment_mse(prediction, target, [(0, 2), (2, 3)])  # wan's 9 frames in segments of 4: latents {0, 1} | {2}
    assert torch.allclose(unequal, torch.stack([per_frame[:, :2].mean(dim=1), per_frame[:, 2]], dim=1))
    six = torch.randn(2, 4, 6, 2, 2)
    assert torch.equal(per_segment_mse(six, target.repeat(1, 1, 2, 1, 1), [(0, 3), (3, 6)]), per_segment_mse(six, target.repeat(1, 1, 2, 1, 1), 2))
    for bad in ([(0, 2), (2, 2)], [(0, 4)]):
        with pytest.raises(ValueError, match="not non-empty ranges"):
            per_segment_mse(prediction, target, bad)
