"""The toy Wan's builders: clips of 4k + 1 frames, 4× compression in space and time, and a saved
pipeline that samples as the one built (offline)."""

import numpy as np
import pytest
import torch

from videodpo.families.animatediff.toy import build_toy_tokenizer
from videodpo.families.wan import toy


def sample(pipe, seed: int = 0) -> np.ndarray:
    return pipe(
        ["a red square moving left"], num_frames=9, height=32, width=32, num_inference_steps=3, guidance_scale=4.0,
        output_type="np", max_sequence_length=16, generator=torch.Generator().manual_seed(seed),
    ).frames


def test_the_toy_wan_vae_compresses_space_and_time_four_times_keeping_the_first_frame_alone():
    vae = toy.build_toy_vae(toy.ToyWanArchitecture()).eval()
    clips = torch.rand(2, 3, 9, 32, 32) * 2 - 1
    with torch.no_grad():
        latents = vae.encode(clips).latent_dist.mode()
        assert latents.shape == (2, 8, 3, 8, 8)
        assert vae.decode(latents).sample.shape == clips.shape
        changed_first = clips.clone()
        changed_first[:, :, 0] = 0.0
        moved = (vae.encode(changed_first).latent_dist.mode() - latents).abs().amax(dim=(0, 1, 3, 4))
    assert moved[0] > 0 and moved[1:].max() > 0  # causal: a change to frame 0 reaches the later groups too
    with pytest.raises(ValueError, match="4k \\+ 1 frames, not 8: use 5"):
        toy.ToyWanArchitecture(frames=8)


def test_a_saved_toy_wan_pipeline_samples_as_the_one_built(tmp_path):
    from diffusers import WanPipeline

    torch.manual_seed(0)
    pipe = toy.build_toy_pipeline(build_toy_tokenizer())
    made = sample(pipe)
    assert made.shape == (1, 9, 32, 32, 3)
    pipe.save_pretrained(tmp_path, safe_serialization=True)
    loaded = sample(WanPipeline.from_pretrained(tmp_path))
    assert np.abs(loaded - made).max() < 1e-5  # every weight equal; the loaded transformer's outputs round differently (~4e-7)
    assert not np.array_equal(sample(pipe, seed=1), made)
