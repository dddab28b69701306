import numpy as np
import pytest
import torch

from videodpo import toyworld
from videodpo.rewards import registry as rewards
from videodpo.evaluation import appearance, temporal
from videodpo.pairs import jitter
from videodpo.core.clips import clips_to_tensor


def _as_frames(clips: np.ndarray) -> torch.Tensor:
    """uint8 (B, F, H, W, 3) → float (B, F, 3, H, W) in [-1, 1], the decoder's range."""
    return clips_to_tensor(clips)


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    captions = toyworld.train_captions()[:3]
    clean, _ = toyworld.render_dataset(captions, 1, seed=4, size=32, frames=8)
    rng = np.random.default_rng(0)
    jittered = np.stack([jitter.noise_jitter(clip, 0.3, rng) for clip in clean])
    shaken = np.stack([jitter.shake(clip, 0.5, rng) for clip in clean])
    return np.concatenate([clean, jittered, shaken])


def test_temporal_reward_is_the_evaluations_warping_error(clips):
    reward = rewards.temporal_consistency(_as_frames(clips))
    expected = np.array([temporal.warping_error(clip) for clip in clips])
    # the evaluation warps uint8 frames (rounded) with cv2's fixed-point bilinear weights
    np.testing.assert_allclose(-reward.numpy(), expected, rtol=0.05, atol=0.3)
    assert expected[3:6].mean() > expected[:3].mean() + 1.0  # the check above compares distinct values


def test_temporal_reward_gradient_points_to_less_flicker(clips):
    frames = _as_frames(clips[3:4]).requires_grad_(True)
    rewards.temporal_consistency(frames).sum().backward()
    stepped = (frames + 0.5 * frames.grad / frames.grad.abs().max()).detach().clamp(-1, 1)
    before = rewards.temporal_consistency(frames.detach()).item()
    assert rewards.temporal_consistency(stepped).item() > before


def test_brightness_reward_sees_frame_brightness_not_motion():
    clean, _ = toyworld.render_dataset(toyworld.train_captions()[:4], 1, seed=2, size=32, frames=8)
    flickered = clean.astype(np.float32) * np.array([1.0, 0.8, 1.0, 0.8, 1.0, 0.8, 1.0, 0.8])[None, :, None, None, None]
    clean_reward = rewards.brightness_consistency(_as_frames(clean))
    flicker_reward = rewards.brightness_consistency(_as_frames(flickered.round().astype(np.uint8)))
    assert (flicker_reward < clean_reward - 5.0).all()
    assert (clean_reward > -1.0).all()  # a shape gliding over a still background costs almost nothing


def test_combined_weighs_named_rewards_and_names_unknown_ones(clips):
    frames = _as_frames(clips[:2])
    total, parts = rewards.combined(frames, {"temporal": 1.0, "brightness": 0.5})
    torch.testing.assert_close(total, parts["temporal"] + 0.5 * parts["brightness"])
    with pytest.raises(ValueError, match="unknown reward.*sharpness.*known rewards are temporal"):
        rewards.combined(frames, {"sharpness": 1.0})


def test_appearance_guard_catches_washing_out_recolouring_and_moving_elsewhere(clips):
    reference = _as_frames(clips[:3])
    zero = rewards.appearance_guard(reference, reference)
    assert all(torch.allclose(value, torch.zeros(3)) for value in zero.values())

    washed_clips = ((clips[:3].astype(np.float32) - 127.5) * 0.5 + 127.5).round().astype(np.uint8)
    washed = rewards.appearance_guard(_as_frames(washed_clips), reference)
    expected = 1 - np.array([appearance.contrast(w) / appearance.contrast(c) for w, c in zip(washed_clips, clips[:3])])
    np.testing.assert_allclose(washed["contrast"].numpy(), expected, atol=0.03)  # cv2 rounds luminance to uint8

    frozen = reference[:, :1].expand_as(reference)  # the first frame held: nothing moves any more
    assert (rewards.appearance_guard(frozen, reference)["layout"] > 1.0).all()

    brightened = (reference + 0.2).clamp(-1, 1)  # each frame's brightness is the rewards' to change
    guard = rewards.appearance_guard(brightened, reference)
    assert (guard["layout"] < 0.5 * rewards.appearance_guard(frozen, reference)["layout"]).all()
    assert (guard["colour"] > 10).all()


def test_the_guard_terms_params_may_weigh_are_the_ones_the_guard_returns(clips):
    frames = clips_to_tensor(np.stack(clips))
    assert tuple(rewards.appearance_guard(frames, frames)) == rewards.GUARD_TERMS
    assert set(rewards.REWARD_NAMES) | set(rewards.SCORED_REWARDS) == set(rewards.REWARDS)
    assert all(rewards.REWARDS[name].differentiable for name in rewards.REWARD_NAMES)


def test_the_flow_warping_reward_is_the_evaluations_warping_error_and_has_no_gradient(clips):
    frames = _as_frames(clips).requires_grad_(True)
    reward = rewards.REWARDS["flow_warping"].score(frames)
    np.testing.assert_allclose(-reward.numpy(), [temporal.warping_error(clip) for clip in clips], rtol=1e-6)
    assert not reward.requires_grad and not rewards.REWARDS["flow_warping"].differentiable
    total, parts = rewards.combined(frames, {"flow_warping": 1.0, "brightness": 1.0})
    total.sum().backward()  # the differentiable part still reaches the frames
    assert frames.grad.abs().sum() > 0 and not parts["flow_warping"].requires_grad


def test_the_oracle_reward_reads_the_prompts_colour_shape_and_direction():
    captions = toyworld.train_captions()[:2]
    clean, texts = toyworld.render_dataset(captions, 1, seed=3, size=32, frames=8)
    context = rewards.RewardContext(prompts=texts)
    right = rewards.REWARDS["oracle"].score(_as_frames(clean), context)
    swapped = rewards.REWARDS["oracle"].score(_as_frames(clean), rewards.RewardContext(prompts=texts[::-1]))
    assert (right == 1.0).all() and (swapped < 1.0).all()
    with pytest.raises(ValueError, match="each clip's prompt"):
        rewards.REWARDS["oracle"].score(_as_frames(clean), rewards.RewardContext())


def test_a_users_reward_is_module_function_on_uint8_clips_and_prompts(clips, tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text(
        "import numpy as np\n"
        "def mean_red(clips, prompts):\n    return [float(c[..., 0].mean()) + len(p) for c, p in zip(clips, prompts)]\n"
        "def one_number(clips, prompts):\n    return [1.0]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    frames = _as_frames(clips[:2])
    total, parts = rewards.combined(frames, {"my_rewards:mean_red": 2.0}, rewards.RewardContext(prompts=["ab", "abc"]))
    np.testing.assert_allclose(parts["my_rewards:mean_red"].numpy(), [clips[0][..., 0].mean() + 2, clips[1][..., 0].mean() + 3], rtol=1e-5)
    torch.testing.assert_close(total, 2 * parts["my_rewards:mean_red"])
    with pytest.raises(ValueError, match="one finite number per clip"):
        rewards.combined(frames, {"my_rewards:one_number": 1.0}, rewards.RewardContext(prompts=["a", "b"]))
    with pytest.raises(ValueError, match="cannot import 'no_such_module'"):
        rewards.combined(frames, {"no_such_module:score": 1.0})
    assert rewards.reward_weights_problem({"my_rewards:mean_red": 1.0}, differentiable=False) is None
    assert "have no gradient" in rewards.reward_weights_problem({"my_rewards:mean_red": 1.0}, differentiable=True)
