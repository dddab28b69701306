from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from videodpo import toyworld
from videodpo.config import config_from_params, load_config
from videodpo.core.clips import clips_to_tensor
from videodpo.core.params import ConfigError
from videodpo.evaluation import temporal
from videodpo.methods import dpo
from videodpo.pairs import latent_losers


class PixelLatents:
    """A family model whose VAE is the identity: latents are the frames themselves (N, 3, F, H, W)."""

    device, dtype = torch.device("cpu"), torch.float32

    def encode_clips(self, clips):
        return clips_to_tensor(clips).transpose(1, 2).contiguous()

    def decode(self, latents):
        return latents.transpose(1, 2)


class LossyLatents(PixelLatents):
    """A VAE that keeps each frame's mean brightness only, as one that folds away detail would."""

    def encode_clips(self, clips):
        return super().encode_clips(clips).mean(dim=(3, 4), keepdim=True).expand(-1, -1, -1, *clips.shape[2:4]).contiguous()


@pytest.fixture()
def flickering_clips():
    rng = np.random.default_rng(1)
    clips = []
    for direction in ("right", "down"):
        clip = toyworld.render_clip(toyworld.Caption("circle", "blue", direction), rng).astype(np.float32)
        clip += rng.normal(0, 3, size=clip.shape) + rng.normal(0, 4, size=(len(clip), 1, 1, 1))
        clips.append(np.clip(clip, 0, 255).round().astype(np.uint8))
    return np.stack(clips)


def test_latent_losers_amplify_the_flicker_the_latents_hold_and_strength_zero_gives_the_winner(flickering_clips):
    winners, losers = latent_losers.latent_amplified_pairs(PixelLatents(), flickering_clips, 1.0)
    assert np.abs(winners.astype(int) - flickering_clips).max() <= 1  # an identity VAE renders the winner as it is
    for winner, loser in zip(winners, losers):
        assert temporal.warping_error(loser) > 1.5 * temporal.warping_error(winner)
        assert abs(temporal.motion_magnitude(loser) / temporal.motion_magnitude(winner) - 1) < 0.15
    _, unchanged = latent_losers.latent_amplified_pairs(PixelLatents(), flickering_clips, 0.0)
    assert np.array_equal(unchanged, winners)


def test_latent_losers_differ_only_in_what_the_latents_hold(flickering_clips):
    """With a VAE that keeps each frame's mean alone, winner and loser are flat frames that differ in brightness only."""
    winners, losers = latent_losers.latent_amplified_pairs(LossyLatents(), flickering_clips, 2.0)
    for clip in (*winners, *losers):
        assert clip.reshape(len(clip), -1, 3).std(axis=1).max() < 1.0  # every frame flat: detail is not in these latents
    assert not np.array_equal(winners, losers)


def test_dpo_losers_are_made_in_pixels_by_default_and_latents_need_the_amplify_maker():
    config = load_config()
    assert config.method_section("dpo").loser_space == "pixels"
    assert dpo.settings(config)["pairs"].dpo.loser_space == "pixels"
    raw = yaml.safe_load(Path("params.yaml").read_text())
    raw["dpo"] = {"loser_space": "latents"}
    assert dpo.settings(config_from_params(raw))["pairs"].dpo.loser_space == "latents"
    raw["data"] = {**raw["data"], "jitter_method": "shake"}
    with pytest.raises(ValueError, match="dpo.loser_space.*data.jitter_method"):
        dpo.settings(config_from_params(raw))
    raw["dpo"] = {"loser_space": "voxels"}
    with pytest.raises(ConfigError, match="dpo.loser_space"):
        config_from_params(raw).method_section("dpo")
