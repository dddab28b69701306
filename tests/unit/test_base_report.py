import numpy as np
import torch
import pytest

from videodpo.evaluation.base_report import reconstruction_psnr
from videodpo.core.clips import clips_to_tensor


class _OffsetAutoencoder:
    """A model whose latents are the clip's frames themselves (in [-1, 1]) and which decodes them
    shifted by a constant."""

    device = torch.device("cpu")

    def __init__(self, offset: float):
        self.offset = offset

    def encode_clips(self, clips):
        return clips_to_tensor(clips)

    def decode(self, latents):
        return latents + self.offset


def test_reconstruction_psnr_is_that_of_the_error_on_a_minus_one_to_one_scale():
    clips = np.full((3, 4, 8, 8, 3), 128, np.uint8)
    # error 0.1 everywhere on [-1, 1]: PSNR = 10·log10(2² / 0.1²) = 26.02 dB
    assert reconstruction_psnr(_OffsetAutoencoder(0.1), clips, batch=5) == pytest.approx(26.02, abs=0.01)
    assert reconstruction_psnr(_OffsetAutoencoder(0.2), clips) == pytest.approx(26.02 - 6.02, abs=0.01)


def test_reconstruction_psnr_clamps_the_decoded_frames_to_the_image_range():
    white = np.full((1, 2, 4, 4, 3), 255, np.uint8)
    assert reconstruction_psnr(_OffsetAutoencoder(5.0), white) == float("inf")
    assert reconstruction_psnr(_OffsetAutoencoder(-0.1), white) == pytest.approx(26.02, abs=0.01)
