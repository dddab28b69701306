"""Alignment losses as pure functions of tensors.

β convention: the loss is −log σ(−β · ((mse_w − mse_w_ref) − (mse_l − mse_l_ref))), with mse the
per-sample mean squared error of the noise (or v) prediction. β here equals half of the β in
Salesforce's Diffusion-DPO code (which multiplies by 0.5 inside), so β = 2500 here is their 5000.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class DPOTerms:
    """The loss and what training logs beside it (all scalars, detached except `loss`)."""

    loss: torch.Tensor
    implicit_accuracy: torch.Tensor
    reward_margin: torch.Tensor


def per_sample_mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every dimension but the first: (B, …) → (B,)."""
    return (prediction.float() - target.float()).pow(2).flatten(1).mean(dim=1)


def per_segment_mse(prediction: torch.Tensor, target: torch.Tensor, segments: int | Sequence[Sequence[int]]) -> torch.Tensor:
    """Mean squared error per segment of latent frames: (B, C, F, h, w) → (B, S). `segments`: a count S
    of equal consecutive segments, or each segment's latent frames [start, stop) (a family whose VAE
    groups frames gives segments of unequal length)."""
    per_frame = (prediction.float() - target.float()).pow(2).mean(dim=(1, 3, 4))  # (B, F)
    batch, frames = per_frame.shape
    if isinstance(segments, int):
        if frames % segments:
            raise ValueError(f"{segments} segments do not divide {frames} frames")
        return per_frame.reshape(batch, segments, frames // segments).mean(dim=2)
    bounds = [(int(start), int(stop)) for start, stop in segments]
    if any(not 0 <= start < stop <= frames for start, stop in bounds):
        raise ValueError(f"segments {bounds} are not non-empty ranges of {frames} latent frames")
    size = frames // len(bounds)
    if bounds == [(i * size, (i + 1) * size) for i in range(len(bounds))] and size * len(bounds) == frames:
        return per_frame.reshape(batch, len(bounds), size).mean(dim=2)  # equal segments: the same arithmetic as a count
    return torch.stack([per_frame[:, start:stop].mean(dim=1) for start, stop in bounds], dim=1)


def dpo_margin(
    policy_winner: torch.Tensor, policy_loser: torch.Tensor, reference_winner: torch.Tensor, reference_loser: torch.Tensor
) -> torch.Tensor:
    """How much more the policy improves on the winner than on the loser, relative to the reference.

    Arguments are errors of the same shape; the result is negative when the policy prefers the winner.
    """
    return (policy_winner - reference_winner) - (policy_loser - reference_loser)


def clip_dpo_loss(
    policy_winner: torch.Tensor,
    policy_loser: torch.Tensor,
    reference_winner: torch.Tensor,
    reference_loser: torch.Tensor,
    beta: float,
    sft_weight: float = 0.0,
) -> DPOTerms:
    """Diffusion-DPO on whole clips. Arguments: per-sample MSEs (B,) of policy and reference.

    sft_weight > 0 adds sft_weight · mean(mse_w − mse_w_ref): the policy must stay as good as the
    reference at denoising the winners (the base's own clips), so it cannot drift in brightness or
    contrast while it learns what separates winners from losers.
    """
    logits = -beta * dpo_margin(policy_winner, policy_loser, reference_winner, reference_loser)
    anchor = (policy_winner - reference_winner).mean()
    return DPOTerms(
        loss=-F.logsigmoid(logits).mean() + sft_weight * anchor,
        implicit_accuracy=(logits > 0).float().mean().detach(),
        reward_margin=logits.mean().detach(),
    )


def segment_dpo_loss(
    policy_a: torch.Tensor,
    policy_b: torch.Tensor,
    reference_a: torch.Tensor,
    reference_b: torch.Tensor,
    labels: torch.Tensor,
    beta: float,
    sft_weight: float = 0.0,
) -> DPOTerms:
    """DenseDPO: one DPO term per short segment of frames.

    Arguments: per-segment MSEs (B, S) of the two clips a and b; labels (B, S) are +1 where a is
    preferred, −1 where b is, 0 for a tie (ignored). The loss averages over labelled segments;
    sft_weight anchors the preferred segments as clip_dpo_loss anchors winners.
    """
    sign = labels.float()
    logits = -beta * sign * dpo_margin(policy_a, policy_b, reference_a, reference_b)
    labelled = sign != 0
    if not labelled.any():
        zero = policy_a.sum() * 0.0
        return DPOTerms(zero, zero.detach(), zero.detach())
    preferred_gain = torch.where(sign > 0, policy_a - reference_a, policy_b - reference_b)
    return DPOTerms(
        loss=-F.logsigmoid(logits[labelled]).mean() + sft_weight * preferred_gain[labelled].mean(),
        implicit_accuracy=(logits[labelled] > 0).float().mean().detach(),
        reward_margin=logits[labelled].mean().detach(),
    )
