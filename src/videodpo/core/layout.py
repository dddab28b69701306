"""Where every stage reads and writes: one tree per model family, and in it one branch per method.

    models/<family>/base                the family's base model (base@<family>)
    models/<family>/vjepa               the vjepa reward's scorer (vjepa@<family>)
    models/<family>/lora/<method>       a method's LoRA (train@<family>-<method>)
    data/<family>/settings/<method>/    each step's settings and code digest (settings@<family>-<method>)
    data/<family>/pairs/<method>        what the method trains on (make_pairs@<family>-<method>)
    data/<family>/latents/<method>      its VAE latents (encode_latents@<family>-<method>)
    labels/<family>/<method>.jsonl      people's labels of its pairs (python -m videodpo.label; kept in git)
    results/<family>/samples/<split>/<variant>   the base's or a method's samples of a split
    metrics/<family>/…                           their figures
    plots/{base,train,eval}/<family>/…           their charts (one folder per kind: a chart across
                                                 families, such as validation_curves, reads one)

dvc.yaml spells the same paths with ${item.family} and ${item.method}; tests/unit/test_layout.py checks
that the two agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Family:
    """A model family's tree: its base, its reward scorer, its samples and its figures."""

    name: str

    @property
    def base(self) -> Path:
        return Path("models") / self.name / "base"

    @property
    def vjepa(self) -> Path:
        return Path("models") / self.name / "vjepa"

    @property
    def metrics(self) -> Path:
        return Path("metrics") / self.name

    def plots(self, kind: str) -> Path:
        """The family's charts of one kind: base, train or eval."""
        return Path("plots") / kind / self.name

    def samples(self, split: str, variant: str) -> Path:
        """The samples of `variant` (`base` or a method) in an evaluation split."""
        return Path("results") / self.name / "samples" / split / variant

    def stage(self, name: str, *parts: str) -> str:
        """A DVC stage's name, e.g. stage("sample", "dpo", "test") → sample@<family>-dpo-test."""
        return f"{name}@{'-'.join((self.name, *parts))}"

    def sample_stage(self, variant: str, split: str) -> str:
        """The DVC stage that samples `variant` (base or a method) in evaluation split `split`."""
        return self.stage("sample_base", split) if variant == "base" else self.stage("sample", variant, split)

    def branch(self, method: str) -> "Branch":
        return Branch(self, method)


@dataclass(frozen=True)
class Branch:
    """A method's branch in a family's tree."""

    family: Family
    method: str

    def stage(self, name: str) -> str:
        return self.family.stage(name, self.method)

    @property
    def settings(self) -> Path:
        return Path("data") / self.family.name / "settings" / self.method

    @property
    def pairs(self) -> Path:
        return Path("data") / self.family.name / "pairs" / self.method

    @property
    def latents(self) -> Path:
        return Path("data") / self.family.name / "latents" / self.method

    @property
    def labels(self) -> Path:
        """People's labels of the branch's pairs, given on the labelling page (videodpo.labelling)."""
        return Path("labels") / self.family.name / f"{self.method}.jsonl"

    @property
    def lora(self) -> Path:
        return Path("models") / self.family.name / "lora" / self.method

    @property
    def checkpoint(self) -> Path:
        """Where an interrupted training resumes from (not a DVC output: removed once the LoRA is saved)."""
        return Path("models") / self.family.name / "checkpoints" / f"train_{self.method}"

    @property
    def pairs_metrics(self) -> Path:
        return self.family.metrics / f"pairs_{self.method}.json"

    @property
    def train_metrics(self) -> Path:
        return self.family.metrics / f"train_{self.method}.json"

    @property
    def train_plots(self) -> Path:
        return self.family.plots("train") / self.method


def branch(family: str, method: str) -> Branch:
    return Family(family).branch(method)


def lora_stage(folder: str | Path) -> str:
    """The stage that writes a LoRA folder: train@<family>-<method> for models/<family>/lora/<method>
    (a folder elsewhere is named as if it were its family's)."""
    folder = Path(folder)
    family = folder.parent.parent.name if folder.parent.name == "lora" else "<family>"
    return f"train@{family}-{folder.name}"


def base_stage(folder: str | Path) -> str:
    """The stage that writes a base folder: base@<family> for models/<family>/base."""
    folder = Path(folder)
    return f"base@{folder.parent.name if folder.name == 'base' and folder.parent.parent.name == 'models' else '<family>'}"
