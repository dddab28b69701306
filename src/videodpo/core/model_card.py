"""What a saved base model folder says about itself beyond its weights: the model card every stage
reads to sample it the way it was trained (its family opens the weights: videodpo.families)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from videodpo.core import layout
from videodpo.core.integrity import DamagedFileError, remake_hint

MODEL_CARD = "videodpo.json"


@dataclass(frozen=True)
class ModelCard:
    """Sampling facts a pipeline folder cannot hold itself; written beside model_index.json."""

    source: str
    frames: int
    frame_size: int
    shared_noise: float
    commits: dict[str, str | None] | None = None  # hub: the commit each repository was loaded at

    def save(self, folder: Path) -> None:
        fields = {key: value for key, value in asdict(self).items() if value is not None}
        (Path(folder) / MODEL_CARD).write_text(json.dumps(fields, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> "ModelCard":
        path = Path(folder) / MODEL_CARD
        if not path.is_file():
            raise DamagedFileError(f"{path} is missing: {folder} was not written whole by the base stage; {remake_hint(layout.base_stage(folder))}")
        try:
            return cls(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as error:
            raise DamagedFileError(f"{path} is damaged ({error}); {remake_hint(layout.base_stage(folder))}") from error
