import cv2
import numpy as np
import pytest

from videodpo.evaluation import temporal


def textured_translation(step: int = 2, frames: int = 8, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size + 8, size + step * frames, 3)).astype(np.uint8), (5, 5), 1.5)
    return np.stack([texture[4 : 4 + size, step * t : step * t + size] for t in range(frames)])


def test_warping_error_is_near_zero_for_pure_translation_while_frame_difference_is_large():
    clip = textured_translation()
    assert temporal.warping_error(clip) < 1.0
    assert temporal.frame_difference(clip) > 8.0
    assert abs(temporal.motion_magnitude(clip) - 2.0) < 0.3


def test_warping_error_is_high_for_per_frame_noise():
    clip = textured_translation()
    noisy = np.clip(clip + np.random.default_rng(1).normal(0, 20, clip.shape), 0, 255).astype(np.uint8)
    assert temporal.warping_error(noisy) > 10 * max(temporal.warping_error(clip), 0.5)


def test_static_clip_has_no_flicker_and_no_motion():
    clip = np.repeat(textured_translation()[:1], 8, axis=0)
    assert temporal.warping_error(clip) == 0.0
    assert temporal.frame_difference(clip) == 0.0
    assert temporal.motion_magnitude(clip) < 0.05


def test_backward_warp_reconstructs_the_first_frame_from_the_second():
    clip = textured_translation()
    flow = temporal.optical_flow(clip[0], clip[1])
    rebuilt = temporal.backward_warp(clip[1], flow)
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(rebuilt[inner].astype(float) - clip[0][inner]).mean() < 2.0


def test_consistency_check_masks_pixels_where_flows_disagree():
    forward = np.zeros((16, 16, 2), np.float32)
    backward = np.zeros_like(forward)
    backward[:8] = 5.0  # the top half does not come back where it started
    mask = temporal.consistent_pixels(forward, backward)
    assert mask[8:].all() and not mask[:8].any()


def test_seed_warping_error_grows_with_motion_where_ours_does_not():
    slow, fast = textured_translation(step=1), textured_translation(step=3)
    assert temporal.warping_error_seed(fast) > 2 * temporal.warping_error_seed(slow) > 0
    assert temporal.warping_error(fast) < 1.5 and temporal.warping_error(slow) < 1.5


def test_dynamic_degree_tells_moving_clips_from_still_and_barely_moving_ones():
    from videodpo import toyworld

    moving = toyworld.render_clip(toyworld.Caption("circle", "blue", "right"), np.random.default_rng(0))  # 2 px/frame
    still = np.repeat(moving[:1], len(moving), axis=0)
    creeping = np.stack([np.roll(textured_translation(step=0)[0], t // 4, axis=1) for t in range(8)])  # 1 px in 4 frames
    assert temporal.is_dynamic(moving) == 1.0
    assert temporal.is_dynamic(still) == 0.0
    assert temporal.is_dynamic(creeping) == 0.0
    # at 32 px the threshold is 6 · 32 / 256 = 0.75 px on round(4 · 8 / 16) = 2 frame pairs
    two_jumps = np.stack([np.roll(textured_translation(step=0)[0], 2 * (t >= 3) + 2 * (t >= 6), axis=1) for t in range(8)])
    one_jump = np.stack([np.roll(textured_translation(step=0)[0], 2 * (t >= 3), axis=1) for t in range(8)])
    assert temporal.is_dynamic(two_jumps) == 1.0 and temporal.is_dynamic(one_jump) == 0.0


def test_temporal_flickering_is_one_for_a_still_clip_and_falls_with_frame_to_frame_change():
    still = np.repeat(textured_translation()[:1], 8, axis=0)
    moving = textured_translation()
    assert temporal.temporal_flickering(still) == 1.0
    assert temporal.temporal_flickering(moving) < 1.0
    assert temporal.temporal_flickering(moving) == pytest.approx(1.0 - temporal.frame_difference(moving) / 255.0)
