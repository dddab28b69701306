"""Prompt sets: the training prompts (pairs, and the queries reward methods train on) and the
evaluation prompts (the test split's, and the dev split's unless `prompts.dev` names others), as
text files the pipeline tracks.

A set is a file of one prompt per line; blank lines and lines starting with `#` are skipped. params
`prompts.train`, `prompts.eval` and `prompts.dev` each name a file, or a folder of built-in sets from
which the model picks its own: `toy.txt` for the embedded default, `hub.txt` for the hub tiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from videodpo.core import integrity
from videodpo.core.params import Section

BUILT_IN_PROMPT_SETS = {"toy": "toy.txt", "hub": "hub.txt"}  # model source → its set in a folder of built-in sets


def prompt_set_file(setting: str | Path, source: str) -> Path:
    """The file a `prompts.<role>` setting names: the file itself, or a folder's built-in set for
    the model `source` (toy | hub)."""
    path = Path(setting)
    return path / BUILT_IN_PROMPT_SETS[source] if path.is_dir() else path


class PromptSettings(Section):
    """params `prompts`: each set a file of one prompt per line, or a folder of built-in sets from which
    the model picks its own (toy.txt on the embedded default, hub.txt on the hub tiers)."""

    train: str = Field(default="prompts/train", min_length=1)  # pairs, and the queries reward methods train on
    eval: str = Field(default="prompts/eval", min_length=1)  # the evaluation samples: test split, and dev's unless `dev` names others
    dev: str = Field(default="prompts/eval", min_length=1)  # the dev split's prompts (with seeds of its own)

    def for_split(self, split: str) -> str:
        """The prompt set the evaluation split `split` samples."""
        return self.dev if split == "dev" else self.eval


class PromptError(integrity.InputError):
    """A prompt set the stages cannot use: missing, empty, too long for the text encoder, or shared
    between training and evaluation."""


@dataclass(frozen=True)
class PromptSet:
    path: Path
    prompts: list[str]
    lines: list[int]  # each prompt's line number in the file, from 1

    def where(self, index: int) -> str:
        return f"{self.path}:{self.lines[index]}"


def parse_prompt_lines(text: str) -> tuple[list[str], list[int]]:
    """Prompts and their line numbers (from 1): surrounding space stripped, blank and `#` lines skipped."""
    prompts, lines = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        prompt = line.strip()
        if prompt and not prompt.startswith("#"):
            prompts.append(prompt)
            lines.append(number)
    return prompts, lines


def read_prompt_set(setting: str | Path, source: str, key: str) -> PromptSet:
    """The set params `key` names, or PromptError naming the file and the fix."""
    path = prompt_set_file(setting, source)
    if not path.is_file():
        folder = f" (a folder needs {BUILT_IN_PROMPT_SETS[source]}, the set for {source} models)" if Path(setting).is_dir() else ""
        raise PromptError(f"{key}: {path} does not exist{folder}; write one prompt per line there, or point {key} at another file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise PromptError(f"{key}: {path} is not UTF-8 text ({error}); save it as UTF-8, one prompt per line") from error
    prompts, lines = parse_prompt_lines(text)
    if not prompts:
        raise PromptError(f"{key}: {path} holds no prompts (blank lines and # comments do not count); write one prompt per line")
    return PromptSet(path, prompts, lines)


def require_disjoint(train: PromptSet, evaluation: PromptSet) -> None:
    """Evaluation measures prompts the model was not aligned on: no prompt may be in both sets."""
    first_line = {prompt: i for i, prompt in reversed(list(enumerate(train.prompts)))}
    for i, prompt in enumerate(evaluation.prompts):
        if prompt in first_line:
            raise PromptError(
                f"{evaluation.where(i)}: {prompt!r} is also a training prompt ({train.where(first_line[prompt])}); "
                "evaluation prompts must be unseen in training: remove it from one of the two files"
            )


def require_untruncated(prompt_set: PromptSet, tokenizer) -> None:
    """Every prompt fits the text encoder whole: the pipeline would silently cut a longer one."""
    limit = tokenizer.model_max_length
    for i, prompt in enumerate(prompt_set.prompts):
        count = len(tokenizer(prompt, truncation=False).input_ids)
        if count > limit:
            raise PromptError(
                f"{prompt_set.where(i)}: {count} tokens, more than the text encoder's {limit}; the pipeline would cut "
                "the end of this prompt off: shorten it"
            )


def training_prompts(setting: str | Path, source: str, tokenizer) -> PromptSet:
    """The training prompt set, every prompt checked against the base model's `tokenizer`
    (families.load_base_tokenizer: no weights) before the model loads (evaluation prompts never make pairs)."""
    prompt_set = read_prompt_set(setting, source, "prompts.train")
    require_untruncated(prompt_set, tokenizer)
    return prompt_set


def split_prompts(settings: PromptSettings, split: str, source: str, tokenizer) -> list[str]:
    """The prompts of evaluation split `split` (dev: `prompts.dev`; test: `prompts.eval`), checked
    before a model loads: none is a training prompt, and each fits the base model's text encoder whole
    (`tokenizer`: families.load_base_tokenizer)."""
    key = "prompts.dev" if split == "dev" else "prompts.eval"
    evaluation = read_prompt_set(settings.for_split(split), source, key)
    require_disjoint(read_prompt_set(settings.train, source, "prompts.train"), evaluation)
    require_untruncated(evaluation, tokenizer)
    return evaluation.prompts
