"""DenseDPO's data: the user's captioned video folder, guided pairs made from it by make_pairs, and a
labeller plugged in by name, all on the tiny untrained pipeline (offline, in this process)."""

import json
import types
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from safetensors.numpy import load_file

from videodpo.core import model_card
from videodpo.pairs import guided, store, user_videos
from videodpo.methods.dense_dpo import DenseDPOSettings
from videodpo.toyworld import ToyworldSettings
from videodpo.methods.dense_dpo import LabelledPairSettings

ROOT = Path(__file__).parents[2]


def moving_square(frames: int, size: int, colour=(220, 40, 40), channels: int = 3) -> np.ndarray:
    video = np.full((frames, size, size, channels), 30, np.uint8)
    for t in range(frames):
        video[t, 10:20, 4 + 2 * t : 14 + 2 * t, :3] = colour[:channels] if channels >= 3 else colour[0]
    if channels == 4:
        video[..., 3] = 255
    return video


def write_video_folder(folder: Path) -> None:
    """Two tiny captioned videos, of other sizes than the model's: an mp4 and a gif."""
    folder.mkdir()
    iio.imwrite(folder / "a_red_square.mp4", moving_square(10, 48), plugin="pyav", codec="libx264", fps=8)
    (folder / "a_red_square.txt").write_text("a red square moving right\n")
    iio.imwrite(folder / "b_blue_square.gif", moving_square(9, 40, colour=(40, 40, 220)), duration=100, loop=0)
    (folder / "b_blue_square.txt").write_text("a blue square moving right")


def test_a_captioned_video_folder_reads_as_clips_of_the_model_size(tmp_path):
    write_video_folder(tmp_path / "videos")
    clips, captions, names = user_videos.read_captioned_videos(tmp_path / "videos", frames=8, resolution=32)
    assert clips.shape == (2, 8, 32, 32, 3) and clips.dtype == np.uint8
    assert captions == ["a red square moving right", "a blue square moving right"]
    assert names == ["a_red_square.mp4", "b_blue_square.gif"]
    # the square keeps its colour and moves right
    red = clips[0, ..., 0].astype(int) - clips[0, ..., 2]
    columns = [np.argwhere(red[t] > 80)[:, 1].mean() for t in (0, 7)]
    assert columns[1] > columns[0] + 5


@pytest.mark.parametrize(
    "problem, message",
    [
        ("no caption", "no caption; write it in clip.txt"),
        ("too short", r"4 frames, shorter than the clips' 8 \(data.frames\)"),
        ("not a video", "cannot be decoded"),
        ("empty folder", "holds no videos"),
    ],
)
def test_a_bad_video_folder_names_the_file_and_the_fix(tmp_path, problem, message):
    folder = tmp_path / "videos"
    folder.mkdir()
    if problem == "no caption":
        iio.imwrite(folder / "clip.gif", moving_square(8, 32), duration=100, loop=0)
    elif problem == "too short":
        iio.imwrite(folder / "clip.gif", moving_square(4, 32), duration=100, loop=0)
        (folder / "clip.txt").write_text("a red square moving right")
    elif problem == "not a video":
        (folder / "clip.mp4").write_bytes(b"not a video at all")
        (folder / "clip.txt").write_text("a red square moving right")
    with pytest.raises(user_videos.VideoFolderError, match=message):
        user_videos.read_captioned_videos(folder, frames=8, resolution=32)


def test_greyscale_and_alpha_videos_become_rgb(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    iio.imwrite(folder / "grey.gif", moving_square(8, 32, channels=1)[..., 0], duration=100, loop=0)
    (folder / "grey.txt").write_text("a white square moving right")
    clips, _, _ = user_videos.read_captioned_videos(folder, frames=8, resolution=32)
    assert clips.shape == (1, 8, 32, 32, 3)
    assert np.array_equal(clips[..., 0], clips[..., 2])


def test_an_alpha_channel_is_dropped_and_the_colours_kept(tmp_path, monkeypatch):
    """Decoders hand RGBA to the reader for some files (VP9 or PNG-coded video with alpha); fake one,
    since the writers here cannot encode alpha."""
    folder = tmp_path / "videos"
    folder.mkdir()
    rgba = moving_square(8, 32, channels=4)
    rgba[..., 3] = 7  # a translucent alpha must not leak into the colours
    (folder / "clip.mov").write_bytes(b"stands for a video with alpha")
    (folder / "clip.txt").write_text("a red square moving right")
    monkeypatch.setattr(user_videos.iio, "imread", lambda path, index=None: rgba)
    clips, _, _ = user_videos.read_captioned_videos(folder, frames=8, resolution=32)
    assert clips.shape == (1, 8, 32, 32, 3)
    assert np.array_equal(clips[0], rgba[..., :3])


def test_eta_sets_how_many_sampling_steps_denoise_a_copy():
    assert guided.denoising_steps(0.6, 20) == 12 and guided.denoising_steps(0.35, 20) == 7
    assert guided.denoising_steps(1.0, 20) == 20 and guided.denoising_steps(0.01, 20) == 1
    with pytest.raises(ValueError, match=r"eta must be in \(0, 1\]"):
        guided.denoising_steps(1.5, 20)


def plain_labels(clip_a, clip_b, segments):
    """A plug-in labeller: a where its segment is brighter, b where it is darker, else a tie."""
    return [int(np.sign(int(clip_a[list(s)].mean()) - int(clip_b[list(s)].mean()))) for s in segments]


@pytest.fixture(scope="module")
def pair_maker():
    from videodpo.pairs import labelled

    return labelled


def run_dense_make_pairs(
    stage, project: Path, toy_model, labeller: str, num_pairs: int = 3, copy_shared_noise: float | None = None,
    label_budget: int | None = None,
) -> tuple[list[dict], dict, dict]:
    toy_model.save(project / "models/animatediff/base")
    model_card.ModelCard(source="hub", frames=8, frame_size=32, shared_noise=0.5).save(project / "models/animatediff/base")
    dense = DenseDPOSettings(eta=0.5, segment_frames=4, labeller=labeller, copy_shared_noise=copy_shared_noise)
    settings = LabelledPairSettings(
        kind="dense", num_pairs=num_pairs, seed=0, dense=dense,
        label_budget=label_budget, train_prompts="prompts/train/hub.txt", source="hub", gt_videos=str(project / "videos"), frames=8, resolution=32,
        toyworld=ToyworldSettings(), num_inference_steps=2, guidance_scale=1.0, mixed_precision="fp32",
    )
    from videodpo.core import layout

    stage.make_labelled_pairs(layout.branch("animatediff", "dense_dpo"), settings, types.SimpleNamespace(device="cpu"))
    pairs_dir = project / "data/animatediff/pairs/dense_dpo"
    shard = load_file(str(pairs_dir / "pairs-00000.safetensors"))
    return store.read_manifest(pairs_dir), shard, json.loads((project / "metrics/animatediff/pairs_dense_dpo.json").read_text())


def test_make_pairs_makes_guided_pairs_from_the_users_videos_with_a_plugged_in_labeller(
    pair_maker, toy_model, tmp_path, monkeypatch
):
    """make_pairs@animatediff-dense_dpo on a hub tier: each pair's two copies come from one of the user's videos
    (taken in turn), differ from each other, and carry the plugged-in labeller's labels; the
    manifest records the ground truth, η and both seeds. No pipeline change names the labeller:
    params do (`dense_dpo.labeller: module:function`)."""
    write_video_folder(tmp_path / "videos")
    monkeypatch.chdir(tmp_path)
    manifest, shard, report = run_dense_make_pairs(pair_maker, tmp_path, toy_model, "test_dense_pairs:plain_labels")
    a, b, labels = shard["winners"], shard["losers"], shard["labels"]
    assert a.shape == b.shape and a.shape[1:] == (8, 32, 32, 3) and labels.shape == (len(a), 2)
    names = ["a_red_square.mp4", "b_blue_square.gif"]
    assert len(manifest) == len(a) >= 1  # pairs the labeller tied everywhere are dropped
    assert all(r["ground_truth"] == names[r["pair"] % 2] for r in manifest)
    assert all(r["eta"] == 0.5 and len(set(r["seeds"])) == 2 for r in manifest)
    assert len({tuple(r["seeds"]) for r in manifest}) == len(manifest)  # every pair its own noise
    assert not np.array_equal(a, b)
    for i, record in enumerate(manifest):  # the plug-in's labels, as it would give them
        assert record["labels"] == labels[i].tolist() == plain_labels(a[i], b[i], [range(0, 4), range(4, 8)])
    assert report["labels_asked"] == 3 * 2 and report["segments_per_pair"] == 2
    assert report["labeller"] == "test_dense_pairs:plain_labels"


def test_the_copies_noise_is_the_models_unless_dense_dpo_sets_its_share(pair_maker, toy_model, tmp_path, monkeypatch):
    """`dense_dpo.copy_shared_noise` unset: the copies are noised as the model samples (its card's
    share of noise common to all frames, 0.5 here); set to 0: ε ~ N(0, I) per frame, as in DenseDPO.
    Same seeds, so only the noise's make-up can change the copies; the manifest records the share."""
    write_video_folder(tmp_path / "videos")
    monkeypatch.chdir(tmp_path)
    always_a = "test_dense_pairs:prefer_a"
    model_share, _, _ = run_dense_make_pairs(pair_maker, tmp_path, toy_model, always_a, num_pairs=2)
    model_clips = load_file(str(tmp_path / "data/animatediff/pairs/dense_dpo/pairs-00000.safetensors"))["winners"]
    independent, shard, _ = run_dense_make_pairs(pair_maker, tmp_path, toy_model, always_a, num_pairs=2, copy_shared_noise=0.0)
    assert [r["copy_shared_noise"] for r in model_share] == [0.5, 0.5]
    assert [r["copy_shared_noise"] for r in independent] == [0.0, 0.0]
    assert [r["seeds"] for r in model_share] == [r["seeds"] for r in independent]
    assert not np.array_equal(model_clips, shard["winners"])


def prefer_a(clip_a, clip_b, segments):
    """A plug-in labeller that keeps every pair: a wins every segment."""
    return [1] * len(segments)


def test_a_labeller_that_is_not_there_fails_before_the_model_loads(pair_maker, toy_model, tmp_path, monkeypatch):
    write_video_folder(tmp_path / "videos")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="has no function 'missing'"):
        run_dense_make_pairs(pair_maker, tmp_path, toy_model, "test_dense_pairs:missing")
    assert not (tmp_path / "data/animatediff/pairs/dense_dpo").exists()


def test_a_label_budget_makes_only_the_pairs_it_labels_and_each_as_without_one(pair_maker, toy_model, tmp_path, monkeypatch):
    """dense_dpo_third: with 3 labels drawn over 6 pairs × 2 segments, only the pairs holding a drawn
    segment are denoised, and each comes out as the same pair does when every pair is made (its
    seeds and ground truth alone decide it; the batch around it may move a pixel by one level)."""
    write_video_folder(tmp_path / "videos")
    monkeypatch.chdir(tmp_path)
    denoised = []
    real_copies = guided.corrupted_copies
    monkeypatch.setattr(guided, "corrupted_copies", lambda model, clips, *rest, **options: denoised.append(len(clips)) or real_copies(model, clips, *rest, **options))
    always_a = "test_dense_pairs:prefer_a"
    every, every_shard, _ = run_dense_make_pairs(pair_maker, tmp_path, toy_model, always_a, num_pairs=6)
    budget, budget_shard, report = run_dense_make_pairs(pair_maker, tmp_path, toy_model, always_a, num_pairs=6, label_budget=3)
    drawn = sorted({r["pair"] for r in budget})
    assert 1 <= len(drawn) <= 3 and denoised == [6, 6, len(drawn), len(drawn)]  # clips a, then b
    assert report["pairs_made"] == len(drawn) and report["labels_asked"] == report["labels"] == 3
    assert sum(abs(label) for r in budget for label in r["labels"]) == 3
    full = {r["pair"]: r["row"] for r in every}
    for record in budget:
        row = full[record["pair"]]
        assert record["seeds"] == every[row]["seeds"] and record["ground_truth"] == every[row]["ground_truth"]
        for clips in ("winners", "losers"):
            gap = np.abs(budget_shard[clips][record["row"]].astype(int) - every_shard[clips][row].astype(int))
            assert gap.max() <= 1
