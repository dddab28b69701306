import numpy as np
import pytest

from videodpo import toyworld
from videodpo.evaluation import appearance, temporal
from videodpo.pairs import jitter


@pytest.fixture()
def clip():
    return toyworld.render_clip(toyworld.Caption("circle", "blue", "right"), np.random.default_rng(0))


@pytest.fixture()
def flickering_clip(clip):
    """A ground-truth clip with a little per-frame brightness and detail flicker, like a base sample."""
    rng = np.random.default_rng(1)
    frames = clip.astype(np.float32) + rng.normal(0, 3, size=clip.shape) + rng.normal(0, 4, size=(len(clip), 1, 1, 1))
    return np.clip(frames, 0, 255).round().astype(np.uint8)


@pytest.mark.parametrize("method", list(jitter.CLIP_MAKERS))
def test_every_clip_maker_is_reproducible_from_its_seed_and_keeps_shape_and_dtype(flickering_clip, method):
    _, a = jitter.make_jitter_pair(flickering_clip, method, 0.1, seed=5)
    _, b = jitter.make_jitter_pair(flickering_clip, method, 0.1, seed=5)
    assert a.dtype == np.uint8 and a.shape == flickering_clip.shape
    assert np.array_equal(a, b) and not np.array_equal(a, flickering_clip)


def test_noise_jitter_makes_the_loser_flicker_more_than_the_winner(clip):
    winner, loser = jitter.make_jitter_pair(clip, "noise", 0.1, seed=0)
    assert temporal.warping_error(loser) > temporal.warping_error(winner) + 3
    assert temporal.frame_difference(loser) > temporal.frame_difference(winner)


def test_noise_jitter_of_strength_zero_returns_the_clip(clip):
    _, loser = jitter.make_jitter_pair(clip, "noise", 0.0, seed=0)
    assert np.array_equal(loser, clip)


def test_renormalised_jitter_flickers_but_keeps_every_frames_mean_and_spread(clip):
    winner, loser = jitter.make_jitter_pair(clip, "renormalised", 0.1, seed=0)
    assert temporal.warping_error(loser) > temporal.warping_error(winner) + 2
    np.testing.assert_allclose(loser.mean(axis=(1, 2)), winner.mean(axis=(1, 2)), atol=1.0)
    assert appearance.contrast(loser) == pytest.approx(appearance.contrast(winner), rel=0.02)
    assert appearance.saturation(loser) == pytest.approx(appearance.saturation(winner), rel=0.05)
    # the seed's jitter on the same clip changes them: renormalising is what makes it contrast-neutral
    _, noisy = jitter.make_jitter_pair(clip, "noise", 0.1, seed=0)
    assert abs(appearance.contrast(noisy) / appearance.contrast(winner) - 1) > 3 * abs(
        appearance.contrast(loser) / appearance.contrast(winner) - 1
    )


def test_shake_moves_each_frame_by_one_or_two_pixels(clip):
    winner, loser = jitter.make_jitter_pair(clip, "shake", 0.0, seed=3)
    for w, l in zip(winner, loser):
        # find the integer shift that maps the winner frame onto the loser frame
        errors = {
            (dx, dy): np.abs(np.roll(w, (dy, dx), axis=(0, 1))[3:-3, 3:-3].astype(int) - l[3:-3, 3:-3]).mean()
            for dx in range(-3, 4) for dy in range(-3, 4)
        }
        dx, dy = min(errors, key=errors.get)
        assert errors[(dx, dy)] < 0.5 and 1 <= max(abs(dx), abs(dy)) <= 2
    assert abs(appearance.contrast(loser) / appearance.contrast(winner) - 1) < 0.02


def test_stutter_repeats_or_swaps_neighbouring_frames_only(clip):
    winner, loser = jitter.make_jitter_pair(clip, "stutter", 0.0, seed=2)
    order = [next(s for s in range(len(winner)) if np.array_equal(frame, winner[s])) for frame in loser]
    assert all(abs(s - t) <= 1 for t, s in enumerate(order))
    assert order != list(range(len(winner)))


def test_amplify_strengthens_the_clips_own_flicker_and_keeps_its_motion(clip):
    # a moving shape whose frames flicker in brightness, as the base model's do
    gains = 1 + np.random.default_rng(4).normal(0, 0.06, size=(len(clip), 1, 1, 1))
    flickering_clip = np.clip(clip * gains, 0, 255).round().astype(np.uint8)
    winner, loser = jitter.make_jitter_pair(flickering_clip, "amplify", 1.0, seed=0)
    assert temporal.warping_error(loser) > 1.5 * temporal.warping_error(winner)
    assert temporal.motion_magnitude(loser) == pytest.approx(temporal.motion_magnitude(winner), rel=0.1)
    assert appearance.contrast(loser) == pytest.approx(appearance.contrast(winner), rel=0.05)
    assert appearance.saturation(loser) == pytest.approx(appearance.saturation(winner), rel=0.02)
    _, unchanged = jitter.make_jitter_pair(flickering_clip, "amplify", 0.0, seed=0)
    assert np.array_equal(unchanged, winner)


def test_a_mix_of_makers_is_taken_in_turn_and_img2img_is_not_a_clip_maker():
    assert jitter.methods_for_pairs("shake", 3) == ["shake"] * 3
    assert jitter.methods_for_pairs(["amplify", "img2img"], 5) == ["amplify", "img2img", "amplify", "img2img", "amplify"]
    with pytest.raises(ValueError, match="img2img needs the model"):
        jitter.make_jitter_pair(np.zeros((2, 4, 4, 3), np.uint8), "img2img", 0.5, seed=0)


def test_the_data_section_accepts_exactly_the_makers_that_exist_and_names_the_key_of_another():
    from committed import committed_params

    from videodpo.config import ConfigError, config_from_params
    from videodpo.pairs.settings import DataSettings

    assert set(jitter.JITTER_METHODS) == set(jitter.CLIP_MAKERS) | {jitter.IMG2IMG}
    assert [DataSettings(jitter_method=name).jitter_method for name in jitter.JITTER_METHODS] == list(jitter.JITTER_METHODS)
    params = committed_params()
    params["data"] = {**params["data"], "jitter_method": ["amplify", "blur"]}
    with pytest.raises(ConfigError, match=r"data\.jitter_method: Value error, \['blur'\] is not a loser maker; name one of noise, renormalised"):
        config_from_params(params)


def test_verification_keeps_only_pairs_whose_loser_flickers_more_and_looks_the_same(clip):
    methods = ["renormalised", "noise", "stutter"]
    made = [jitter.make_jitter_pair(clip, m, 0.1, seed=0) for m in methods]
    brighter = np.clip(clip.astype(int) * 1.3, 0, 255).astype(np.uint8)  # no more flicker, more contrast
    made.append((clip, brighter))
    methods.append("brighter")
    checks = [jitter.check_pair(w, l) for w, l in made]
    assert [c.keep(0.05) for c in checks] == [True, False, False, False]
    assert checks[1].flicker_ordered() and not checks[1].appearance_matched(0.05)  # the seed's jitter washes out
    report = jitter.verification_report(checks, methods, 0.05)
    assert (report["pairs"], report["kept"], report["dropped"]) == (4, 1, 3)
    assert report["by_method"]["renormalised"]["kept"] == 1 and report["by_method"]["noise"]["dropped"] == 1
    assert report["winner_beats_loser"] == pytest.approx(0.5)


def test_img2img_regenerates_each_frame_on_its_own_and_reproducibly(toy_model, clip):
    from videodpo.pairs.img2img import regenerate_frames

    clips = np.stack([clip, clip[::-1]])
    prompts = ["a blue circle moving right"] * 2
    first = regenerate_frames(toy_model, clips, prompts, [7, 8], strength=0.5, steps=4, guidance_scale=1.0)
    again = regenerate_frames(toy_model, clips, prompts, [7, 8], strength=0.5, steps=4, guidance_scale=1.0)
    assert first.shape == clips.shape and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, clips)
    # frames are independent: changing frame 3 of the input changes frame 3 of the output only
    edited = clips.copy()
    edited[0, 3] = 255 - edited[0, 3]
    changed = regenerate_frames(toy_model, edited, prompts, [7, 8], strength=0.5, steps=4, guidance_scale=1.0)
    differs = [not np.array_equal(changed[0, f], first[0, f]) for f in range(len(clip))]
    assert differs == [f == 3 for f in range(len(clip))]
    with pytest.raises(ValueError, match="data.jitter_strength"):
        regenerate_frames(toy_model, clips, prompts, [7, 8], strength=0.0, steps=4, guidance_scale=1.0)
