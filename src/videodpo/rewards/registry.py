"""The rewards on decoded clips, one registry for the reward methods: VADER back-propagates the
differentiable ones through the sampler; GRPO takes any, since it only ranks the clips it sampled.

A reward maps frames, float (B, F, 3, H, W) in [-1, 1] as the VAE decodes them, to one value per clip
(B,), higher is better. `REWARDS` names them for params.yaml, each flagged `differentiable` or not;
a `module:function` name is the user's own (scored on uint8 clips, never differentiable); `combined`
weighs them. The model rewards (`vjepa`, `clip_text`) also read a `RewardContext`: the clips' prompts
and their frozen scorer models, loaded once by `load_scorers`. `appearance_guard` is the penalty that
keeps a reward from being won by washing the clip out or changing what moves: it compares the
policy's clip with the reference model's clip from the same noise.

What params may name, and the weights' checks, are rewards.settings'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from videodpo.core.clips import to_pixels, to_uint8_clips
from videodpo.evaluation import temporal
from videodpo.rewards.settings import GUARD_TERMS  # noqa: F401  (the terms appearance_guard returns, named once)
from videodpo.rewards.settings import MODEL_REWARDS, REWARD_NAMES, SCORED_REWARDS, reward_weights_problem


@dataclass(frozen=True)
class RewardContext:
    """What a reward may read besides the frames: each clip's prompt, and the scorer models by reward name."""

    prompts: list[str] = field(default_factory=list)
    scorers: dict[str, Any] = field(default_factory=dict)

    def scorer(self, name: str):
        if name not in self.scorers:
            raise ValueError(f"reward {name!r} needs its scorer model; load it with rewards.load_scorers")
        return self.scorers[name]


Score = Callable[[torch.Tensor, RewardContext], torch.Tensor]


@dataclass(frozen=True)
class Reward:
    """A score of decoded clips (B, F, 3, H, W) in [-1, 1] → (B,), and whether its gradient in the
    frames is the reward's (what VADER needs)."""

    score: Score
    differentiable: bool

# cv2.COLOR_RGB2GRAY, so luminance here is the evaluation's
LUMA = (0.299, 0.587, 0.114)


def luminance(pixels: torch.Tensor) -> torch.Tensor:
    """(…, 3, H, W) → (…, H, W)."""
    weights = pixels.new_tensor(LUMA).view(3, 1, 1)
    return (pixels * weights).sum(dim=-3)


def warp_backward(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample image (N, C, H, W) at x + flow[x], flow (N, H, W, 2) in pixels; border pixels repeat
    outside the frame, like temporal.backward_warp (bilinear, differentiable in the image)."""
    _, _, height, width = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=flow.dtype, device=flow.device), torch.arange(width, dtype=flow.dtype, device=flow.device), indexing="ij"
    )
    x = (xs + flow[..., 0]) / max(width - 1, 1) * 2 - 1
    y = (ys + flow[..., 1]) / max(height - 1, 1) * 2 - 1
    grid = torch.stack([x, y], dim=-1).to(image.dtype)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def clip_flows(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward flows t→t+1 (F−1, H, W, 2) and their occlusion masks (F−1, H, W) of one uint8 clip:
    the evaluation's DIS flow and forward–backward test, on frames the gradient does not see."""
    forward = temporal.forward_flows(clip)
    return np.stack(forward), np.stack(temporal.occlusion_masks(clip, forward))


def flow_warping_error(pixels: torch.Tensor, flows: np.ndarray, masks: np.ndarray) -> torch.Tensor:
    """Occlusion-masked warping error (0–255) of one clip's pixels (F, 3, H, W) along given forward
    flows (F−1, H, W, 2) and masks (F−1, H, W): frame t+1 warped back onto t, mean |residual| over the
    unoccluded pixels, averaged over the frame pairs that have any. Differentiable in the pixels."""
    flows = torch.from_numpy(flows).to(pixels.device)
    masks = torch.from_numpy(masks).to(pixels.device, pixels.dtype)
    warped = warp_backward(pixels[1:], flows)
    residual = (pixels[:-1] - warped).abs().mean(dim=1)  # (F−1, H, W)
    counted = masks.flatten(1).sum(dim=1)
    per_pair = (residual * masks).flatten(1).sum(dim=1) / counted.clamp(min=1)
    kept = counted > 0
    return per_pair[kept].mean() if kept.any() else pixels.new_zeros(())


def temporal_consistency(frames: torch.Tensor, context: RewardContext | None = None) -> torch.Tensor:
    """Negative occlusion-masked warping error of each clip (0–255), temporal.warping_error's
    measure: flow from the detached frames, the warp and the error differentiable in the frames."""
    pixels = to_pixels(frames)
    return torch.stack([-flow_warping_error(clip, *clip_flows(clip_uint8)) for clip, clip_uint8 in zip(pixels, to_uint8_clips(frames))])


def brightness_consistency(frames: torch.Tensor, context: RewardContext | None = None) -> torch.Tensor:
    """Negative mean |change of a frame's mean luminance| between consecutive frames (0–255).

    Needs no flow, so it cannot be won by pleasing a flow estimator; a shape moving over a still
    background keeps its frames' mean luminance, so motion does not cost it."""
    means = luminance(to_pixels(frames)).mean(dim=(-2, -1))  # (B, F)
    return -(means[:, 1:] - means[:, :-1]).abs().mean(dim=1)


def vjepa_consistency(frames: torch.Tensor, context: RewardContext) -> torch.Tensor:
    """Negative masked-prediction loss of a V-JEPA 2 model (videodpo.rewards.vjepa): VADER's temporal-consistency reward."""
    from videodpo.rewards import vjepa

    return vjepa.consistency_reward(context.scorer("vjepa"), frames)


def clip_text_similarity(frames: torch.Tensor, context: RewardContext) -> torch.Tensor:
    """CLIP similarity of the frames with their prompts (videodpo.rewards.clip_text): prompt adherence."""
    from videodpo.rewards import clip_text

    return clip_text.text_similarity(context.scorer("clip_text"), frames, context.prompts)


def flow_warping(frames: torch.Tensor, context: RewardContext | None = None) -> torch.Tensor:
    """Negative warping error of each clip exactly as the evaluation measures it: DIS flow, warp and
    occlusion mask all on the uint8 clip (temporal.warping_error). No gradient: a reward for GRPO."""
    clips = to_uint8_clips(frames.detach())
    return torch.tensor([-temporal.warping_error(clip) for clip in clips], dtype=torch.float32)


def oracle_adherence(frames: torch.Tensor, context: RewardContext) -> torch.Tensor:
    """The share of the prompt's colour, shape and direction the toy world's oracle reads in each clip
    (toyworld.read_clip): prompt adherence on the embedded default. No gradient."""
    from videodpo import toyworld

    if len(context.prompts) != len(frames):
        raise ValueError(f"the oracle reward reads each clip's prompt: {len(frames)} clips, {len(context.prompts)} prompts")
    scores = []
    for clip, prompt in zip(to_uint8_clips(frames.detach()), context.prompts):
        matches = toyworld.read_clip(clip).matches(toyworld.Caption.parse(prompt))
        scores.append(np.mean([bool(matches[key]) for key in ("colour", "shape", "direction")]))
    return torch.tensor(scores, dtype=torch.float32)


REWARDS: dict[str, Reward] = {
    "temporal": Reward(temporal_consistency, differentiable=True),
    "brightness": Reward(brightness_consistency, differentiable=True),
    "vjepa": Reward(vjepa_consistency, differentiable=True),
    "clip_text": Reward(clip_text_similarity, differentiable=True),
    "flow_warping": Reward(flow_warping, differentiable=False),
    "oracle": Reward(oracle_adherence, differentiable=False),  # toy-world prompts only
}
# params name rewards by settings' lists (which import no model code): they are exactly the registry's
assert tuple(name for name, reward in REWARDS.items() if reward.differentiable) == REWARD_NAMES
assert tuple(name for name, reward in REWARDS.items() if not reward.differentiable) == SCORED_REWARDS


def user_reward(name: str) -> Reward:
    """The user's `module:function` as a reward: it gets uint8 clips (B, F, H, W, 3) and the prompts and
    returns one number per clip, higher is better; it has no gradient."""
    import importlib

    module_name, _, function_name = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"reward {name!r}: cannot import {module_name!r} ({error}); put it on PYTHONPATH (src/ is)") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"reward {name!r}: {module_name} has no function {function_name!r}")

    def score(frames: torch.Tensor, context: RewardContext) -> torch.Tensor:
        values = np.asarray(function(to_uint8_clips(frames.detach()), list(context.prompts)), dtype=np.float64).reshape(-1)
        if len(values) != len(frames) or not np.isfinite(values).all():
            raise ValueError(f"reward {name!r} must return one finite number per clip ({len(frames)}); got {values.tolist()}")
        return torch.tensor(values, dtype=torch.float32)

    return Reward(score, differentiable=False)


def check_reward_names(weights: dict[str, float], differentiable: bool = False) -> None:
    problem = reward_weights_problem(weights, differentiable)
    if problem:
        raise ValueError(problem)


def resolve(name: str) -> Reward:
    return REWARDS[name] if name in REWARDS else user_reward(name)


def load_scorers(
    weights: dict[str, float], vjepa_dir: str | Path, clip_hub: str, clip_revision: str, device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """The frozen scorer model of each weighted model reward, on `device`: `vjepa` from the vjepa
    stage's folder, `clip_text` from the hub at its revision."""
    scorers: dict[str, Any] = {}
    if weights.get("vjepa"):
        from videodpo.rewards import vjepa

        scorers["vjepa"] = vjepa.load_scorer(Path(vjepa_dir)).to(device)
    if weights.get("clip_text"):
        from videodpo.rewards import clip_text

        scorer = clip_text.load_clip_scorer(clip_hub, clip_revision)
        scorer.model.to(device)
        scorers["clip_text"] = scorer
    assert set(scorers) == {name for name in MODEL_REWARDS if weights.get(name)}
    return scorers


def combined(
    frames: torch.Tensor, weights: dict[str, float], context: RewardContext = RewardContext(),
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Σ weight · reward per clip, and each named reward (B,) for logging. A reward without a gradient
    is scored on the detached frames, on their device."""
    check_reward_names(weights)
    parts = {}
    for name, weight in weights.items():
        if weight:
            reward = resolve(name)
            parts[name] = reward.score(frames if reward.differentiable else frames.detach(), context).to(frames.device)
    total = sum(weights[name] * value for name, value in parts.items())
    return total, parts


def appearance_guard(frames: torch.Tensor, reference: torch.Tensor, layout_pool: int = 4) -> dict[str, torch.Tensor]:
    """Per-clip penalties (B,) for drifting from the reference model's clip from the same noise.

    - contrast: relative change of the clip's RMS luminance contrast (appearance.contrast's measure);
    - colour: mean |change| of the clip's mean colour (0–255);
    - layout: mean |change| of the frames blurred by `layout_pool`× with each frame's own mean removed,
      which holds where things are and how they move, while leaving each frame's overall brightness
      (the flicker the rewards remove) and the finest detail free.
    """
    pixels, anchor = to_pixels(frames), to_pixels(reference).detach()
    contrast = luminance(pixels).flatten(-2).std(dim=-1).mean(dim=1)
    anchor_contrast = luminance(anchor).flatten(-2).std(dim=-1).mean(dim=1)
    colour = (pixels.mean(dim=(1, 3, 4)) - anchor.mean(dim=(1, 3, 4))).abs().mean(dim=1)

    def layout(clip: torch.Tensor) -> torch.Tensor:
        blurred = F.avg_pool2d(clip.flatten(0, 1), layout_pool).unflatten(0, clip.shape[:2])
        return blurred - blurred.mean(dim=(-2, -1), keepdim=True)

    return {
        "contrast": (contrast / anchor_contrast.clamp(min=1e-3) - 1.0).abs(),
        "colour": colour,
        "layout": (layout(pixels) - layout(anchor)).abs().mean(dim=(1, 2, 3, 4)),
    }
