"""Bad inputs, as tables: each damaged file a stage reads must end that reader with an error naming
the file and the stage that makes it; each NaN or inf in training must stop the loop at that step,
saying where, with the last good checkpoint kept. A new stage or method adds rows here.

The pristine project is built once (tiny untrained pipeline, one shard of each kind) and each row
damages its own copy."""

import copy
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from algorithms import dpo_loop, vader_loop, vader_objective, vader_sampling

from videodpo import families
from videodpo.core import model_card
from videodpo.pairs import store
from videodpo.training import dpo, vader
from videodpo.families.animatediff import add_lora, save_lora, toy
from videodpo.core.checkpoints import STATE
from videodpo.core.integrity import DamagedFileError, NonFiniteError

FRAMES, SIZE = 4, 32


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, toy_model) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    toy_model.save(root / "models/animatediff/base")
    model_card.ModelCard("toy", FRAMES, SIZE, 0.5).save(root / "models/animatediff/base")
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 255, (3, FRAMES, SIZE, SIZE, 3), dtype=np.uint8)
    pairs = root / "data/animatediff/pairs/dpo"
    pairs.mkdir(parents=True)
    shard = store.write_pair_shard(pairs, 0, clips, clips[::-1].copy())
    store.write_manifest(pairs, [{"caption": "a red square moving left", "shard": shard, "row": i} for i in range(3)])
    encoded = root / "data/animatediff/latents/dpo"
    encoded.mkdir(parents=True)
    store.write_latent_shard(encoded, "latents-00000.safetensors", torch.randn(3, 4, FRAMES, 8, 8), torch.randn(3, 4, FRAMES, 8, 8), torch.randn(3, 16, 32))
    queries = root / "data/animatediff/latents/vader"
    queries.mkdir(parents=True)
    vader.write_query_tensors(
        queries, vader.VaderQueries([1, 2], ["a", "b"], torch.zeros(2, 16, 32), torch.zeros(2, 16, 32), torch.zeros(2, FRAMES, 3, SIZE, SIZE))
    )
    lora_model = copy.deepcopy(toy_model)
    config = lora_model.add_lora(rank=4, alpha=4)
    lora_model.save_lora(config, root / "models/animatediff/lora/dpo")
    return root


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def scramble_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8:40] = b"\xff" * 32  # the JSON header right after its 8-byte length
    path.write_bytes(bytes(data))


def drop_manifest_row(project: Path) -> None:
    manifest = project / "data/animatediff/pairs/dpo/manifest.jsonl"
    manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[:-1]))


def disagreeing_latents(project: Path) -> None:
    path = project / "data/animatediff/latents/dpo/latents-00000.safetensors"
    tensors = load_file(str(path))
    tensors["text"] = tensors["text"][:2].contiguous()
    save_file(tensors, str(path))


def lora_of_another_base(project: Path) -> None:
    """A LoRA trained on a toy base of other widths, saved in this project's LoRA folder."""
    from diffusers import UNetMotionModel

    arch = toy.ToyArchitecture(unet_channels=(16, 32))
    other = UNetMotionModel.from_unet2d(toy.build_toy_unet2d(arch), toy.build_toy_motion_adapter(arch))
    folder = project / "models/animatediff/lora/dpo"
    shutil.rmtree(folder)
    save_lora(other, add_lora(other, rank=4, alpha=4), folder)


def lora_weights_of_another_rank(project: Path) -> None:
    """Rank-8 weights under adapter metadata that says rank 4."""
    folder = project / "models/animatediff/lora/dpo"
    [weights] = folder.glob("*.safetensors")
    tensors = load_file(str(weights))
    widened = {k: torch.cat([v, v], dim=0 if "lora_A" in k else 1).contiguous() for k, v in tensors.items()}
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        metadata = handle.metadata()
    save_file(widened, str(weights), metadata=metadata)


def read_pairs(project: Path):
    folder = project / "data/animatediff/pairs/dpo"
    manifest = store.read_manifest(folder, "make_pairs@animatediff-dpo")
    for shard, arrays in store.iter_pair_arrays(folder, "make_pairs@animatediff-dpo"):
        store.shard_records(manifest, shard, len(arrays["winners"]), folder, "make_pairs@animatediff-dpo")


def read_base(project: Path):
    model_card.ModelCard.load(project / "models/animatediff/base")
    families.load_base(project / "models/animatediff/base")


def read_lora(project: Path):
    families.load_base(project / "models/animatediff/base").load_lora(project / "models/animatediff/lora/dpo")


BAD_FILES = [  # (what is wrong, how to make it so, who reads it, what the error must name)
    ("truncated pair shard", lambda p: truncate(p / "data/animatediff/pairs/dpo/pairs-00000.safetensors"), read_pairs,
     ["data/animatediff/pairs/dpo/pairs-00000.safetensors", "make_pairs@animatediff-dpo"]),
    ("pair shard with a corrupted header", lambda p: scramble_header(p / "data/animatediff/pairs/dpo/pairs-00000.safetensors"), read_pairs,
     ["pairs-00000.safetensors", "damaged", "make_pairs@animatediff-dpo"]),
    ("manifest rows that do not match the shard", drop_manifest_row, read_pairs,
     ["data/animatediff/pairs/dpo/manifest.jsonl", "pairs-00000.safetensors", "2 records for its 3 pairs", "make_pairs@animatediff-dpo"]),
    ("manifest that is not JSON", lambda p: (p / "data/animatediff/pairs/dpo/manifest.jsonl").write_text("{caption"), read_pairs,
     ["manifest.jsonl", "damaged", "make_pairs@animatediff-dpo"]),
    ("missing pair shards", lambda p: (p / "data/animatediff/pairs/dpo/pairs-00000.safetensors").unlink(), read_pairs,
     ["no pair shards in", "make_pairs@animatediff-dpo"]),
    ("truncated latent shard", lambda p: truncate(p / "data/animatediff/latents/dpo/latents-00000.safetensors"),
     lambda p: store.load_latents(p / "data/animatediff/latents/dpo", "encode_latents@animatediff-dpo"),
     ["data/animatediff/latents/dpo/latents-00000.safetensors", "encode_latents@animatediff-dpo"]),
    ("latent shard whose tensors disagree on the pairs", disagreeing_latents,
     lambda p: store.load_latents(p / "data/animatediff/latents/dpo", "encode_latents@animatediff-dpo"),
     ["latents-00000.safetensors", "winners 3, losers 3, text 2", "encode_latents@animatediff-dpo"]),
    ("truncated vader query tensors", lambda p: truncate(p / "data/animatediff/latents/vader" / vader.QUERY_TENSORS),
     lambda p: vader.load_query_tensors(p / "data/animatediff/latents/vader", "encode_latents@animatediff-vader"), [vader.QUERY_TENSORS, "encode_latents@animatediff-vader"]),
    ("missing models/animatediff/base", lambda p: shutil.rmtree(p / "models/animatediff/base"), read_base, ["models/animatediff/base", "`base@animatediff`"]),
    ("models/animatediff/base without its model card", lambda p: (p / "models/animatediff/base" / model_card.MODEL_CARD).unlink(), read_base,
     [model_card.MODEL_CARD, "`base@animatediff`"]),
    ("half-written models/animatediff/base: UNet weights cut short", lambda p: truncate(next((p / "models/animatediff/base/unet").glob("*.safetensors"))), read_base,
     ["models/animatediff/base", "incomplete or damaged", "`base@animatediff`"]),
    ("half-written models/animatediff/base: no VAE weights", lambda p: next((p / "models/animatediff/base/vae").glob("*.safetensors")).unlink(), read_base,
     ["models/animatediff/base", "incomplete or damaged", "`base@animatediff`"]),
    ("LoRA folder from another base", lora_of_another_base, read_lora, ["models/animatediff/lora/dpo", "does not fit this base", "train@animatediff-dpo"]),
    ("LoRA weights of another rank than their metadata", lora_weights_of_another_rank, read_lora,
     ["models/animatediff/lora/dpo", "does not fit this base", "train@animatediff-dpo"]),
    ("truncated LoRA weights", lambda p: truncate(next((p / "models/animatediff/lora/dpo").glob("*.safetensors"))), read_lora,
     ["models/animatediff/lora/dpo", "train@animatediff-dpo"]),
]


@pytest.mark.parametrize("damage, read, named", [row[1:] for row in BAD_FILES], ids=[row[0] for row in BAD_FILES])
def test_a_damaged_input_names_the_file_and_the_stage_that_makes_it(pristine, tmp_path, damage, read, named):
    project = tmp_path / "project"
    shutil.copytree(pristine, project)
    read(project)  # the pristine copy reads cleanly: the error below is the damage's
    damage(project)
    with pytest.raises(DamagedFileError) as raised:
        read(project)
    for words in named:
        assert words in str(raised.value)
    assert "dvc repro --force" in str(raised.value)  # and says how to remake it


# ---------------------------------------------------------------------------------------------
# NaN and inf in training

def dpo_data(rows: int = 6) -> dict:
    g = torch.Generator().manual_seed(3)
    winners = torch.randn(rows, 4, FRAMES, 8, 8, generator=g)
    return {"winners": winners, "losers": winners + 0.3 * torch.randn(winners.shape, generator=g), "text": torch.randn(rows, 16, 32, generator=g)}


def latest_drawn_row(settings: dpo.LoopSettings, data: dict) -> tuple[int, int]:
    """(row, the step that first draws it), for the row drawn last: poisoned, it leaves good steps before it."""
    first = {}
    for step in range(settings.max_steps):
        for row in dpo.batch_for_step(data, step, 0, settings).rows.tolist():
            first.setdefault(row, step)
    row = max(first, key=first.get)
    return row, first[row]


def nan_in_a_pair(monkeypatch, data, settings):
    row, step = latest_drawn_row(settings, data)
    data["losers"][row, 0, 0, 0, 0] = float("nan")
    return step, ["losers (1 values)", "the batch of pairs", str(row)]


def inf_in_the_text(monkeypatch, data, settings):
    row, step = latest_drawn_row(settings, data)
    data["text"][row, 0, :3] = float("inf")
    return step, ["text (3 values)"]


def nan_loss_at_step_two(monkeypatch, data, settings):
    calls = []
    original = dpo.dpo_step

    def dpo_step(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:  # step 2
            terms = dataclasses.replace(result.terms, loss=result.terms.loss * float("nan"))
            result = dataclasses.replace(result, terms=terms)
        return result

    monkeypatch.setattr(dpo, "dpo_step", dpo_step)
    return 2, ["loss (1 values)"]


NON_FINITE_DPO = [("NaN in a pair's latents", nan_in_a_pair), ("inf in a caption's embedding", inf_in_the_text), ("NaN loss", nan_loss_at_step_two)]


@pytest.mark.parametrize("poison", [row[1] for row in NON_FINITE_DPO], ids=[row[0] for row in NON_FINITE_DPO])
def test_a_non_finite_batch_or_loss_stops_dpo_at_that_step_and_keeps_the_last_checkpoint(toy_model, tmp_path, monkeypatch, poison):
    settings = dpo_loop(max_steps=8, batch_size=2, learning_rate=1e-3, beta=500, checkpoint_every=1)
    data = dpo_data()
    step, named = poison(monkeypatch, data, settings)
    assert step > 0  # so there is a good checkpoint to keep
    model = copy.deepcopy(toy_model)
    model.add_lora(rank=4, alpha=4)
    with pytest.raises(NonFiniteError) as raised:
        dpo.train_dpo_lora(model, None, data, settings, tmp_path)
    message = str(raised.value)
    assert f"step {step}," in message and f"last checkpoint kept: step {step}" in message
    for words in named:
        assert words in message
    state = json.loads((tmp_path / STATE).read_text())
    assert state["step"] == step  # the poisoned step was never saved
    saved = load_file(str(tmp_path / state["tensors"]))
    assert all(torch.isfinite(t).all() for t in saved.values())


def test_a_nan_reward_stops_vader_at_that_step_and_keeps_the_last_checkpoint(toy_model, tmp_path, monkeypatch):
    model = copy.deepcopy(toy_model)  # the session's model stays without adapters
    torch.manual_seed(0)
    model.add_lora(4, 4)
    sampling = vader_sampling(frames=FRAMES, shared_noise=0.5, num_inference_steps=2, backprop="all")
    objective = vader_objective({"brightness": 1.0}, {"contrast": 1.0})
    prompts, seeds = ["a red square moving left"] * 2, [5, 6]
    unconditional, conditional = model.guidance_embeddings(prompts)
    queries = vader.VaderQueries(seeds, prompts, unconditional, conditional, vader.reference_clips(model, prompts, seeds, sampling))
    original, calls = vader.rewards.combined, []

    def combined(*args, **kwargs):
        reward, parts = original(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # step 1
            parts = {**parts, "brightness": parts["brightness"] * float("nan")}
            reward = reward * float("nan")
        return reward, parts

    monkeypatch.setattr(vader.rewards, "combined", combined)
    loop = vader_loop(max_steps=3, clips_per_step=1, learning_rate=1e-2, checkpoint_every=1)
    with pytest.raises(NonFiniteError) as raised:
        vader.train_vader_lora(model, queries, sampling, objective, loop, checkpoint_dir=tmp_path)
    message = str(raised.value)
    assert "step 1," in message and "reward" in message and "brightness" in message and "last checkpoint kept: step 1" in message
    assert json.loads((tmp_path / STATE).read_text())["step"] == 1
