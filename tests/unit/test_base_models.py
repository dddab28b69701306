import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from diffusers import (
    AnimateDiffPipeline,
    UNetMotionModel,
)

from videodpo import families, toyworld
from videodpo.core import model_card
from videodpo.core.integrity import DamagedFileError
from videodpo.families.animatediff import hub as animatediff_hub
from videodpo.families.animatediff import toy


def test_tokenizer_gives_each_toy_word_one_token_and_distinct_captions_distinct_ids():
    tokenizer = toy.build_toy_tokenizer()
    ids = {c.text: tuple(tokenizer(c.text).input_ids) for c in toyworld.all_captions()}
    assert len(set(ids.values())) == len(ids)
    for text, token_ids in ids.items():
        assert len(token_ids) == len(text.split()) + 2  # each word one token, plus start and end
        assert tokenizer.unk_token_id not in token_ids[1:-1]


def test_tokenizer_round_trips_through_its_folder(tmp_path):
    tokenizer = toy.build_toy_tokenizer()
    tokenizer.save_pretrained(tmp_path)
    reloaded = type(tokenizer).from_pretrained(tmp_path)
    text = "a yellow triangle moving down"
    assert reloaded(text).input_ids == tokenizer(text).input_ids


def test_saved_base_reloads_and_reproduces_its_output_exactly(toy_model, tmp_path):
    toy_model.save(tmp_path / "base")
    assert isinstance(AnimateDiffPipeline.from_pretrained(tmp_path / "base", local_files_only=True).unet, UNetMotionModel)  # diffusers' own format
    reloaded = families.load_base(tmp_path / "base")
    prompts, seeds = ["a red square moving left", "a blue circle moving up"], [3, 4]
    before = toy_model.generate(prompts, seeds, frames=8, steps=3, guidance_scale=4.0, shared_noise=0.5)
    after = reloaded.generate(prompts, seeds, frames=8, steps=3, guidance_scale=4.0, shared_noise=0.5)
    assert before.shape == (2, 8, 32, 32, 3) and before.dtype == np.uint8
    assert np.array_equal(before, after)
    # a different seed gives a different clip, so the equality above is not vacuous
    other = toy_model.generate(prompts[:1], [5], frames=8, steps=3, guidance_scale=4.0, shared_noise=0.5)
    assert not np.array_equal(before[:1], other)


def test_the_model_card_round_trips_through_its_folder(tmp_path):
    card = model_card.ModelCard("toy", frames=8, frame_size=32, shared_noise=0.5)
    card.save(tmp_path)
    assert model_card.ModelCard.load(tmp_path) == card


def test_a_missing_model_card_says_how_to_remake_it(tmp_path):
    with pytest.raises(DamagedFileError, match="dvc repro --force base"):
        model_card.ModelCard.load(tmp_path / "elsewhere")


def test_loading_a_missing_base_says_which_stage_makes_it(tmp_path):
    with pytest.raises(DamagedFileError, match="dvc repro --force base"):
        families.load_base(tmp_path)


def test_hub_path_joins_checkpoint_and_motion_adapter_offline(tiny_hub_models, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = animatediff_hub.HubModel(str(tiny_hub_models / "sd15"), "main", str(tiny_hub_models / "adapter"), "main")
    model = animatediff_hub.load_hub_model(hub)
    assert isinstance(model.pipe, AnimateDiffPipeline)
    assert isinstance(model.denoiser, UNetMotionModel)
    assert any("motion_modules" in name for name, _ in model.denoiser.named_parameters())
    clips = model.generate(["a red square moving left"], [0], frames=8, steps=2, guidance_scale=2.0, shared_noise=0.0)
    assert clips.shape == (1, 8, 32, 32, 3)


def test_hub_path_offline_without_the_model_names_what_to_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    hub = animatediff_hub.HubModel("nobody/no-such-model", "0123abc", "nobody/no-such-adapter", "main")
    with pytest.raises(RuntimeError, match="huggingface-cli download nobody/no-such-model --revision 0123abc"):
        animatediff_hub.load_hub_model(hub)


def test_an_unreachable_hub_is_said_as_such_with_the_two_ways_out(tmp_path):
    """The hub's address is a local port nothing listens on: every request is refused, as behind a
    firewall. The error must not send the user to check names that are right."""
    with socket.socket() as probe:  # a free port, closed again: connections to it are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = (
        "import time; time.sleep = lambda seconds: None\n"  # huggingface_hub's retries back off for ~25 s
        "from videodpo.families.animatediff import hub\n"
        "hub.load_hub_model(hub.HubModel('someone/sd15', 'main', 'someone/adapter', 'v1'))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path), "HF_ENDPOINT": f"http://127.0.0.1:{port}",
           "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert f"the model hub (http://127.0.0.1:{port}) could not be reached" in message
    assert "huggingface-cli download someone/sd15 --revision main" in message
    assert "huggingface-cli download someone/adapter --revision v1" in message
    assert "HF_HUB_OFFLINE=1" in message
    assert "check the repository names" not in message


def test_a_hub_that_answers_not_found_keeps_the_names_message():
    from huggingface_hub.errors import (
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        Response,  # of the HTTP library the hub client uses
    )
    from huggingface_hub.utils import get_session

    hub = animatediff_hub.HubModel("someone/sd15", "main", "someone/adapter", "v1")
    try:
        try:
            url = "https://huggingface.co/someone/adapter/resolve/v1/config.json"
            response = Response(404, request=get_session().build_request("HEAD", url))
            raise RepositoryNotFoundError(f"404 Client Error: Repository Not Found for url {url}", response=response)
        except RepositoryNotFoundError:
            raise OSError("someone/adapter is not a local folder and is not a valid model identifier")
    except OSError as error:
        answered = error
    assert not animatediff_hub.hub_unreachable(answered)
    assert "check the repository names and revisions under `animatediff.hub`" in animatediff_hub.hub_failure_hint(answered, hub, offline=False)
    try:
        try:
            raise LocalEntryNotFoundError("cannot find the requested files in the local cache")
        except LocalEntryNotFoundError:
            raise OSError("someone/adapter does not appear to have a file named config.json.")
    except OSError as error:
        unanswered = error
    assert animatediff_hub.hub_unreachable(unanswered)
    assert "could not be reached" in animatediff_hub.hub_failure_hint(unanswered, hub, offline=False)


def test_a_branch_resolves_to_the_commit_the_local_cache_holds(monkeypatch, tmp_path):
    """The hub cache layout: refs/<branch> names a commit, snapshots/<commit>/ holds its files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--someone--some-model"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "model_index.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert animatediff_hub.resolved_commit("someone/some-model", "main", "model_index.json") == commit
    assert animatediff_hub.resolved_commit("someone/some-model", "v9", "model_index.json") is None  # a ref the cache lacks
    assert animatediff_hub.resolved_commit("someone/other", commit.upper(), "config.json") == commit  # a commit is its own pin
    assert animatediff_hub.resolved_commit(str(tmp_path), "main", "model_index.json") is None  # a local folder has no commits
