import numpy as np
import pytest

from videodpo import toyworld
from videodpo.toyworld import Caption


def test_held_out_split_is_a_quarter_and_disjoint_from_training():
    train, held = toyworld.train_captions(), toyworld.held_out_captions()
    assert len(held) / (len(train) + len(held)) >= 0.20
    assert not {c.text for c in train} & {c.text for c in held}
    assert len(toyworld.all_captions()) == 3 * 4 * 4


def test_every_word_of_a_held_out_caption_is_seen_in_training():
    seen = {word for c in toyworld.train_captions() for word in c.text.split()}
    for caption in toyworld.held_out_captions():
        assert set(caption.text.split()) <= seen


def test_rendering_is_deterministic_per_seed_and_varies_across_seeds():
    caption = Caption("circle", "red", "left")
    a = toyworld.render_clip(caption, np.random.default_rng(7))
    b = toyworld.render_clip(caption, np.random.default_rng(7))
    c = toyworld.render_clip(caption, np.random.default_rng(8))
    assert a.dtype == np.uint8 and a.shape == (8, 32, 32, 3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_oracle_reads_ground_truth_correctly_at_least_95_percent():
    clips, texts = toyworld.render_dataset(toyworld.all_captions(), 5, seed=123)
    scores = toyworld.adherence(clips, texts)
    for key in ("colour", "shape", "direction", "colour_and_direction"):
        assert scores[key] >= 0.95, (key, scores)


def test_oracle_finds_no_direction_in_a_static_clip_and_the_reverse_in_a_reversed_one():
    clip = toyworld.render_clip(Caption("square", "blue", "right"), np.random.default_rng(0))
    assert toyworld.read_clip(np.repeat(clip[:1], 8, axis=0)).direction is None
    assert toyworld.read_clip(clip[::-1]).direction == "left"


def test_oracle_sees_no_colour_in_grey_noise():
    grey = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 1), dtype=np.uint8).repeat(3, axis=-1)
    assert toyworld.read_clip(grey).colour is None


def test_caption_parse_rejects_text_outside_the_world():
    assert Caption.parse("a green triangle moving up") == Caption("triangle", "green", "up")
    with pytest.raises(ValueError, match="unknown word"):
        Caption.parse("a purple square moving left")
