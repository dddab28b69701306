import numpy as np
import pytest
import torch

from videodpo import toyworld
from videodpo.pairs import jitter, store
from videodpo.core.integrity import DamagedFileError


@pytest.fixture()
def pair_folder(tmp_path):
    clips, texts = toyworld.render_dataset(toyworld.train_captions()[:3], 2, seed=0)
    records, rows_w, rows_l = [], [], []
    for row, (clip, text) in enumerate(zip(clips, texts)):
        winner, loser = jitter.make_jitter_pair(clip, "noise", 0.1, seed=row)
        rows_w.append(winner)
        rows_l.append(loser)
        records.append({"caption": text, "seed": row, "method": "noise", "strength": 0.1, "row": row})
    name = store.write_pair_shard(tmp_path, 0, np.stack(rows_w), np.stack(rows_l))
    store.write_manifest(tmp_path, [{**r, "shard": name} for r in records])
    return tmp_path, np.stack(rows_w), np.stack(rows_l), texts


def test_pair_shards_and_manifest_round_trip_losslessly(pair_folder):
    folder, winners, losers, texts = pair_folder
    [(name, read_w, read_l)] = list(store.iter_pair_shards(folder))
    assert np.array_equal(read_w, winners) and np.array_equal(read_l, losers)
    manifest = store.read_manifest(folder)
    assert [r["caption"] for r in manifest] == texts and all(r["shard"] == name for r in manifest)


def test_encoded_latents_have_the_unet_layout_and_reload_exactly(pair_folder, toy_model, tmp_path):
    folder, winners, losers, texts = pair_folder
    encoded_w, encoded_l = toy_model.encode_clips(winners), toy_model.encode_clips(losers)
    text = toy_model.encode_prompts(texts)
    assert encoded_w.shape == (6, 4, 8, 8, 8)  # (N, C, F, h, w)
    assert text.shape == (6, 16, 32)
    # frame t of clip n is the VAE encoding of that frame alone
    single = toy_model.encode_clips(winners[1:2, 3:4])
    torch.testing.assert_close(encoded_w[1, :, 3], single[0, :, 0], rtol=1e-4, atol=1e-5)
    out = tmp_path / "latents"
    out.mkdir()
    store.write_latent_shard(out, "latents-00000.safetensors", encoded_w, encoded_l, text)
    loaded = store.load_latents(out)
    assert torch.equal(loaded["winners"], encoded_w) and torch.equal(loaded["text"], text)
    assert not torch.equal(loaded["winners"], loaded["losers"])


def test_missing_inputs_name_the_stage_that_makes_them(tmp_path):
    with pytest.raises(DamagedFileError, match="dvc repro --force make_pairs"):
        store.read_manifest(tmp_path)
    with pytest.raises(DamagedFileError, match="dvc repro --force encode_latents"):
        store.load_latents(tmp_path)


def test_mismatched_shards_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="must match"):
        store.write_pair_shard(tmp_path, 0, np.zeros((2, 8, 32, 32, 3), np.uint8), np.zeros((3, 8, 32, 32, 3), np.uint8))
