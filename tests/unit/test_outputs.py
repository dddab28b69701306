import pytest

from videodpo.core import outputs


def test_an_output_folder_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out"
    with outputs.atomic_directory(target) as staging:
        (staging / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with outputs.atomic_directory(target) as staging:
            (staging / "a.txt").write_text("half")
            raise RuntimeError("killed mid-write")
    assert (target / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_staging_left_by_a_killed_run_is_cleared_by_the_next(tmp_path):
    leftover = tmp_path / ".out.k1ll3d"  # what SIGKILL leaves: the staging folder, never renamed
    leftover.mkdir()
    (leftover / "partial.safetensors").write_bytes(b"\0" * 10)
    sibling = tmp_path / ".out_other.keep"  # another output's staging name is not ours to clear
    sibling.mkdir()
    with outputs.atomic_directory(tmp_path / "out") as staging:
        (staging / "a.txt").write_text("whole")
    assert not leftover.exists() and sibling.exists()
    assert (tmp_path / "out/a.txt").read_text() == "whole"


def test_the_same_tensors_and_metadata_always_give_the_same_bytes(tmp_path):
    """safetensors writes metadata in hash-map order (it varies between saves); canonical_safetensors
    fixes it, so a DVC hash changes only when the content does."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    tensors = {"b.weight": torch.arange(6.0).reshape(2, 3), "a.weight": torch.ones(4, dtype=torch.float16)}
    metadata = {f"key{i}": f"value {i}" for i in range(8)}
    saved = []
    for i in range(6):
        path = tmp_path / f"{i}.safetensors"
        save_file(tensors, str(path), metadata=metadata)
        outputs.canonical_safetensors(path)
        saved.append(path.read_bytes())
        assert all(torch.equal(load_file(str(path))[k], v) for k, v in tensors.items())
        with safe_open(str(path), framework="pt") as handle:
            assert handle.metadata() == metadata
    assert len(set(saved)) == 1
    assert (len(saved[0]) - 8 - int.from_bytes(saved[0][:8], "little")) == 6 * 4 + 4 * 2  # the data section untouched


def test_written_samples_read_back_as_the_clips_whatever_their_memory_order(tmp_path):
    """safetensors writes an array's memory as it lies: a transposed view (a pipeline's frames) would come
    back scrambled and every figure scored on it would be wrong."""
    import numpy as np
    from safetensors.numpy import load_file

    from stage_scripts import load_stage

    channels_first = np.random.default_rng(0).integers(0, 256, (4, 9, 3, 8, 8), dtype=np.uint8)
    clips = channels_first.transpose(0, 1, 3, 4, 2)  # (N, F, H, W, 3), not C-contiguous
    load_stage("sample").write_samples(tmp_path / "samples", clips, [("a red square moving left", s) for s in range(4)], 2)
    assert np.array_equal(load_file(str(tmp_path / "samples" / "clips.safetensors"))["clips"], clips)
