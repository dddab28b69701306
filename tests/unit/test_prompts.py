"""Prompt sets as files: parsing, the built-in sets, and bad sets failing before any model loads."""

import re
from pathlib import Path

import pytest

from videodpo import families, toyworld
from videodpo.core import model_card, prompts
from videodpo.core.prompts import PromptSettings, prompt_set_file
from videodpo.families.animatediff import toy

ROOT = Path(__file__).parents[2]


def test_blank_lines_and_comments_are_skipped_and_each_prompt_keeps_its_line_number():
    text = "# a heading\n\n  a dog running on a beach  \n#another\na cat asleep\n\n"
    assert prompts.parse_prompt_lines(text) == (["a dog running on a beach", "a cat asleep"], [3, 5])


def test_a_folder_setting_picks_the_models_own_built_in_set_and_a_file_is_taken_as_it_is(tmp_path):
    assert prompt_set_file(ROOT / "prompts/train", "toy") == ROOT / "prompts/train/toy.txt"
    assert prompt_set_file(ROOT / "prompts/eval", "hub") == ROOT / "prompts/eval/hub.txt"
    mine = tmp_path / "mine.txt"
    mine.write_text("a boat on a lake\n")
    assert prompt_set_file(mine, "hub") == mine
    assert prompts.read_prompt_set(mine, "hub", "prompts.train").prompts == ["a boat on a lake"]


def test_the_toy_sets_are_the_toy_worlds_training_and_held_out_captions_in_order():
    """The embedded default keeps its prompts (and so its metrics) from before prompt files."""
    defaults = PromptSettings()
    train = prompts.read_prompt_set(ROOT / defaults.train, "toy", "prompts.train")
    evaluation = prompts.read_prompt_set(ROOT / defaults.eval, "toy", "prompts.eval")
    assert train.prompts == [c.text for c in toyworld.train_captions()]
    assert evaluation.prompts == [c.text for c in toyworld.held_out_captions()]
    prompts.require_untruncated(train, toy.build_toy_tokenizer())
    prompts.require_untruncated(evaluation, toy.build_toy_tokenizer())


def grouped(path: Path) -> dict[str, list[str]]:
    """The hub sets' prompts under their `# <group>` headings."""
    groups, current = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("# ") and not line[2:].strip().endswith(".") and len(line.split()) <= 5:
            current = line[2:].strip()
            groups[current] = []
        elif line.strip() and not line.startswith("#"):
            groups[current].append(line.strip())
    return groups


def test_the_hub_sets_are_disjoint_and_cover_every_kind_of_scene_in_both():
    train = prompts.read_prompt_set(ROOT / "prompts/train", "hub", "prompts.train")
    evaluation = prompts.read_prompt_set(ROOT / "prompts/eval", "hub", "prompts.eval")
    assert len(train.prompts) >= 40 and len(evaluation.prompts) >= 20
    assert len(set(train.prompts)) == len(train.prompts) and len(set(evaluation.prompts)) == len(evaluation.prompts)
    prompts.require_disjoint(train, evaluation)
    kinds = {"camera moves", "people", "animals", "vehicles", "water", "fire and smoke", "nearly static scenes"}
    for path in (train.path, evaluation.path):
        groups = grouped(path)
        assert set(groups) == kinds, path
        assert all(groups[kind] for kind in kinds), path
    # CLIP's text encoder takes 77 tokens; short prompts stay far below it (most words are one token)
    assert max(len(p.split()) for p in train.prompts + evaluation.prompts) <= 12


BASE = "models/animatediff/base"


def save_base_tokenizer(folder: Path) -> None:
    """What a prompt check reads of a base folder: its pipeline's class and its tokenizer (no weights)."""
    toy.build_toy_tokenizer().save_pretrained(folder / "tokenizer")
    (folder / "model_index.json").write_text('{"_class_name": "AnimateDiffPipeline"}')


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# Bad sets: (what, train file, eval file, what the error must name). A new check adds a row.
TOO_LONG = "a " + " ".join(["very"] * 20) + " long prompt"
BAD_SETS = [
    ("missing file", None, "a cat asleep\n", [r"prompts\.train", r"train\.txt does not exist"]),
    ("no prompts", "# only a comment\n\n", "a cat asleep\n", [r"prompts\.train", r"train\.txt holds no prompts"]),
    ("too long for the text encoder", "a dog\n", f"a cat asleep\n{TOO_LONG}\n", [r"eval\.txt:2: \d+ tokens", r"than the text encoder's 16"]),
    ("in both sets", "a dog\n\na cat asleep\n", "# heading\na cat asleep\n", [r"eval\.txt:2: 'a cat asleep' is also a training prompt \(\S*train\.txt:3\)"]),
]


@pytest.mark.parametrize("split", ["dev", "test"])
@pytest.mark.parametrize("what, train, evaluation, named", BAD_SETS, ids=[row[0] for row in BAD_SETS])
def test_a_bad_prompt_set_stops_sampling_before_any_model_loads_naming_the_file_and_line(
    tmp_path, monkeypatch, what, train, evaluation, named, split,
):
    """models/animatediff/base here holds only its card and tokenizer: had the stage reached the model, it would
    fail on the missing weights instead. Each split reads its own set (test: prompts.eval, dev: prompts.dev)."""
    monkeypatch.chdir(tmp_path)
    save_base_tokenizer(tmp_path / BASE)
    model_card.ModelCard(source="toy", frames=8, frame_size=32, shared_noise=0.5).save(tmp_path / "models/animatediff/base")
    if train is not None:
        write(tmp_path / "train.txt", train)
    files = {"test": "eval.txt", "dev": "dev.txt"}
    for name, file in files.items():
        write(tmp_path / file, evaluation if name == split else "a horse in a field\n")
    with pytest.raises(prompts.PromptError) as error:
        prompts.split_prompts(PromptSettings(train="train.txt", eval=files["test"], dev=files["dev"]), split, "toy", families.load_base_tokenizer(BASE))
    for pattern in named:  # the split's own file is named
        pattern = pattern.replace(r"eval\.txt", re.escape(files[split]))
        assert re.search(pattern, str(error.value)), (pattern, str(error.value))
    other = files["test" if split == "dev" else "dev"]
    assert other not in str(error.value)


def test_make_pairs_checks_the_training_set_before_the_model_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_base_tokenizer(tmp_path / BASE)
    card = model_card.ModelCard(source="toy", frames=8, frame_size=32, shared_noise=0.5)
    write(tmp_path / "train.txt", f"a dog\n{TOO_LONG}\n")
    with pytest.raises(prompts.PromptError, match=r"train\.txt:2: \d+ tokens"):
        prompts.training_prompts("train.txt", card.source, families.load_base_tokenizer(BASE))
    write(tmp_path / "train.txt", "a dog\n# fine\na cat\n")
    assert prompts.training_prompts("train.txt", card.source, families.load_base_tokenizer(BASE)).prompts == ["a dog", "a cat"]


def test_dense_pairs_on_the_toy_model_name_a_training_prompt_the_toy_world_cannot_render(tmp_path):
    from videodpo.pairs import labelled as stage

    path = write(tmp_path / "train.txt", "a red square moving left\na dog on a beach\n")
    prompt_set = prompts.read_prompt_set(path, "toy", "prompts.train")

    class Settings:
        source = "toy"
        toyworld = toyworld.ToyworldSettings()

    with pytest.raises(prompts.PromptError, match=r"train\.txt:2: not a toy-world caption"):
        stage.ground_truth(Settings, [1, 2], prompt_set)
    write(path, "a red square moving left\na blue circle moving up\n")
    truth = stage.ground_truth(Settings, [1, 2, 3], prompts.read_prompt_set(path, "toy", "prompts.train"))
    assert truth.captions == ["a red square moving left", "a blue circle moving up", "a red square moving left"]
    assert truth.clips.shape == (3, 8, 32, 32, 3)


def test_validation_takes_the_first_prompts_in_turn_and_refuses_none():
    from videodpo.training.validation import validation_prompts

    assert validation_prompts(["a", "b", "c"], 2) == ["a", "b"]
    assert validation_prompts(["a", "b", "c"], 8) == ["a", "b", "c", "a", "b", "c", "a", "b"]
    with pytest.raises(ValueError, match="at least one"):
        validation_prompts([], 8)
