"""The model rewards: V-JEPA 2 masked prediction (`vjepa`) and CLIP image–text similarity (`clip_text`),
on tiny random models the tests build and save, offline."""

import json

import numpy as np
import pytest
import torch
from transformers import CLIPConfig, CLIPModel

from stage_scripts import load_stage
from videodpo import toyworld
from videodpo.rewards import registry as rewards
from videodpo.core import model_card
from videodpo.pairs import jitter
from videodpo.rewards import clip_text, vjepa
from videodpo.core.clips import clips_to_tensor
from videodpo.families.animatediff import toy
from committed import committed_params


@pytest.fixture(scope="module")
def toy_clips() -> np.ndarray:
    clips, _ = toyworld.render_dataset(toyworld.train_captions(), 1, seed=3)
    return clips


def test_masks_split_the_tokens_and_the_future_mask_hides_the_later_half():
    grid = (4, 4, 4)
    for kind in vjepa.MASK_KINDS:
        context, target = vjepa.prediction_masks(grid, kind, torch.Generator().manual_seed(1))
        assert len(set(context.tolist()) & set(target.tolist())) == 0
        assert sorted(context.tolist() + target.tolist()) == list(range(64))
    context, target = vjepa.prediction_masks(grid, "future")
    assert target.min() == 32 and context.max() == 31  # time slots 2 and 3 of 4
    _, tube = vjepa.prediction_masks(grid, "tube", torch.Generator().manual_seed(1))
    assert len(tube) == 4 * 2 * 2 and len({int(i) % 16 for i in tube}) == 4  # one 2×2 block, the same in every time slot
    with pytest.raises(ValueError, match="vjepa mask 'random'; known: future, tube"):
        vjepa.prediction_masks(grid, "random")


@pytest.fixture(scope="module")
def trained_vjepa(toy_clips):
    """A tiny V-JEPA 2 trained briefly on toy clips: (model, score before training, losses)."""
    torch.manual_seed(0)
    model = vjepa.build_tiny_vjepa(8, 32)
    before = vjepa.clip_scores(model, toy_clips).mean()
    losses = vjepa.train_vjepa(model, clips_to_tensor(toy_clips), vjepa.VjepaTraining(steps=40, batch_clips=12, learning_rate=3e-3, ema=0.95))
    return model, before, losses


def test_training_lowers_the_prediction_loss_and_the_reward_is_differentiable_in_the_frames(trained_vjepa, toy_clips):
    model, before, losses = trained_vjepa
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert vjepa.clip_scores(model, toy_clips).mean() < before
    assert not any(p.requires_grad for p in model.parameters())  # a frozen scorer once trained
    batch = clips_to_tensor(toy_clips[:2]).requires_grad_(True)
    reward = rewards.combined(batch, {"vjepa": 1.0}, rewards.RewardContext(scorers={"vjepa": model}))[0]
    reward.sum().backward()
    assert batch.grad is not None and batch.grad.abs().sum() > 0
    # the same clip always gets the same score (fixed scoring masks)
    np.testing.assert_array_equal(vjepa.clip_scores(model, toy_clips[:3]), vjepa.clip_scores(model, toy_clips[:3]))


def test_the_trained_scorer_ranks_flickering_clips_below_their_originals(trained_vjepa, toy_clips):
    """What the vjepa stage checks at full size, in miniature: added flicker raises the loss."""
    model = trained_vjepa[0]
    flickering = np.stack([jitter.noise_jitter(clip, 0.5, np.random.default_rng(i)) for i, clip in enumerate(toy_clips)])
    assert (vjepa.clip_scores(model, flickering) > vjepa.clip_scores(model, toy_clips)).mean() > 0.8


def test_a_hub_vjepa_loads_offline_from_the_source_the_stage_names(tmp_path, toy_clips):
    """The hub path: source.json names a repository and its revision (here a local folder holding a
    tiny random V-JEPA 2 saved in safetensors), and the scorer loads it frozen."""
    torch.manual_seed(1)
    saved = vjepa.build_tiny_vjepa(8, 64)  # a crop size other than the clips': frames are resized to it
    saved.save_pretrained(tmp_path / "hub_vjepa", safe_serialization=True)
    assert not list((tmp_path / "hub_vjepa").glob("*.bin"))
    stage_dir = tmp_path / "models_vjepa"
    stage_dir.mkdir()
    (stage_dir / vjepa.HUB_SOURCE).write_text(json.dumps({"hub": str(tmp_path / "hub_vjepa"), "revision": "main"}))
    loaded = vjepa.load_scorer(stage_dir)
    assert not any(p.requires_grad for p in loaded.parameters())
    np.testing.assert_allclose(vjepa.clip_scores(loaded, toy_clips[:2]), vjepa.clip_scores(saved.eval(), toy_clips[:2]), rtol=1e-5)
    with pytest.raises(FileNotFoundError, match="made by the vjepa stage"):
        vjepa.load_scorer(tmp_path / "empty")


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    tokenizer = toy.build_toy_tokenizer()
    config = CLIPConfig(
        text_config=dict(vocab_size=tokenizer.vocab_size + 2, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=toy.TEXT_LENGTH, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=16,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_clip")
    CLIPModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def test_clip_text_reward_scores_each_clip_against_its_own_prompt_and_its_gradient_raises_it(tiny_clip, toy_clips):
    scorer = clip_text.load_clip_scorer(tiny_clip, revision="main")
    frames = clips_to_tensor(toy_clips[:2])
    prompts = ["a red square moving left", "a blue circle moving up"]
    context = rewards.RewardContext(prompts, {"clip_text": scorer})
    score = rewards.clip_text_similarity(frames, context)
    assert score.shape == (2,) and bool(((score >= -1) & (score <= 1)).all())
    swapped = rewards.clip_text_similarity(frames, rewards.RewardContext(prompts[::-1], {"clip_text": scorer}))
    assert not torch.allclose(score, swapped)  # the prompt matters: each clip is scored with its own
    ascending = frames.clone().requires_grad_(True)
    rewards.clip_text_similarity(ascending, context).sum().backward()
    stepped = (ascending + 0.2 * ascending.grad / ascending.grad.abs().max()).detach().clamp(-1, 1)
    assert rewards.clip_text_similarity(stepped, context).sum() > score.sum()
    with pytest.raises(ValueError, match="1 prompts for 2 clips"):
        clip_text.text_similarity(scorer, frames, prompts[:1])


def test_a_model_reward_without_its_scorer_says_how_to_load_it(toy_clips):
    with pytest.raises(ValueError, match="reward 'vjepa' needs its scorer model; load it with rewards.load_scorers"):
        rewards.combined(clips_to_tensor(toy_clips[:1]), {"vjepa": 1.0})


def test_load_scorers_loads_only_the_weighted_model_rewards(tmp_path, tiny_clip):
    assert rewards.load_scorers({"temporal": 1.0, "vjepa": 0.0}, tmp_path, str(tiny_clip), "main") == {}
    scorers = rewards.load_scorers({"clip_text": 0.5}, tmp_path, str(tiny_clip), "main")
    assert set(scorers) == {"clip_text"}
    with pytest.raises(FileNotFoundError, match="vjepa stage"):
        rewards.load_scorers({"vjepa": 1.0}, tmp_path, str(tiny_clip), "main")


def test_evaluation_adherence_off_the_toy_world_is_clip_similarity_when_the_weights_are_there(tiny_clip, toy_clips, monkeypatch):
    from videodpo.rewards.settings import ClipSettings

    stage = load_stage("evaluate")
    scorer, reason = stage.clip_scorer_or_reason(ClipSettings(hub=str(tiny_clip), revision="main"))
    assert scorer is not None and reason is None
    prompts = ["a red square moving left", "a blue circle moving up", "a green triangle moving down"]
    scores = clip_text.clip_adherence(scorer, toy_clips[:3], prompts, batch=2)
    direct = clip_text.text_similarity(scorer, clips_to_tensor(toy_clips[:3]), prompts).numpy()
    assert scores.shape == (3,) and np.allclose(scores, direct, atol=1e-5)  # per clip, whatever the batching
    assert not np.allclose(scores, clip_text.clip_adherence(scorer, toy_clips[:3], prompts[::-1]))  # each clip against its own prompt

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scorer, reason = stage.clip_scorer_or_reason(ClipSettings(hub="nobody/no-such-clip", revision="v1"))
    assert scorer is None and "huggingface-cli download nobody/no-such-clip --revision v1" in reason


def test_evaluate_off_the_toy_world_reports_clip_adherence_or_says_what_is_not_available(tiny_clip, toy_clips, tmp_path, monkeypatch):
    """The evaluate stage on prompts the toy-world oracle cannot read: travel is listed as not
    available; adherence is CLIP similarity with the weights at hand, else listed with how to fetch them."""
    from pathlib import Path

    import yaml
    from safetensors.numpy import save_file

    stage = load_stage("evaluate")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    Path("models/animatediff/base").mkdir(parents=True)
    model_card.ModelCard(source="toy", frames=8, frame_size=32, shared_noise=0.5).save(Path("models/animatediff/base"))
    samples = [{"prompt": prompt, "seed": seed} for seed, prompt in enumerate(["a dog on a beach", "a campfire at night"] * 2)]
    for variant, clips in (("base", toy_clips[:4]), ("dpo", toy_clips[4:8])):
        folder = Path("results/animatediff/samples/test") / variant
        folder.mkdir(parents=True)
        save_file({"clips": clips}, str(folder / "clips.safetensors"))
        (folder / "samples.json").write_text(json.dumps(samples))
    params = committed_params()
    params.update(families=["animatediff"], methods=["dpo"], evaluate={"bootstrap_samples": 20})

    def evaluate_with(clip_hub: str) -> dict:
        params["reward_models"]["clip"] = {"hub": clip_hub, "revision": "main"}
        Path("params.yaml").write_text(yaml.safe_dump(params))
        stage.main("animatediff", "test")
        return json.loads(Path("metrics/animatediff/eval_test.json").read_text())

    with_clip = evaluate_with(str(tiny_clip))
    assert set(with_clip["not_available"]) == {"travel"} and "toy-world" in with_clip["not_available"]["travel"]
    assert -1 <= with_clip["base"]["adherence"] <= 1 and "adherence" in with_clip["methods"]["dpo"]["change"]
    assert with_clip["adherence_scorer"].startswith("CLIP")
    without = evaluate_with("nobody/no-such-clip")
    assert set(without["not_available"]) == {"travel", "adherence"} and "adherence" not in without["base"]
    assert "huggingface-cli download nobody/no-such-clip" in without["not_available"]["adherence"]
    assert without["base"]["warping_error"] == with_clip["base"]["warping_error"]  # the rest is measured either way
