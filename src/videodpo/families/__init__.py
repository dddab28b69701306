"""Model families: the only code that knows how a kind of text-to-video model is built, conditioned,
noised, sampled and fine-tuned. Stages, methods, metrics and rewards reach a model through the seam,
written as code in families.seam: `FamilyModel`, what every family's model object offers
(videodpo.families.animatediff.AnimateDiff, videodpo.families.wan.Wan), and `FamilyPackage`, what
its package offers beside it (its name, the pipeline class its base folders hold, load), and
`FamilyBase`, its `base` module's make_base for the base stage.

A base folder (models/<family>/base) is opened by the family whose pipeline class wrote it. Each
family's light `settings` module (no model code: params checks import it) holds SETTINGS, the
class of its params section, LORA_TARGETS, frame_segments(frames, segment_frames),
latent_segments(segments, frames), noise_timestep(eta, steps) and, optionally, check(config) and
frames_key(tier). The families are the packages of this folder (known()); none is imported until
used. The modules beside them (seam, pretraining) are what the families share.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

from videodpo.core import layout, phases
from videodpo.core.integrity import DamagedFileError, remake_hint

FOLDER = Path(__file__).parent


def known() -> tuple[str, ...]:
    """The families: the packages in this folder, in name order (none is imported)."""
    return tuple(sorted(info.name for info in pkgutil.iter_modules([str(FOLDER)]) if info.ispkg))


def model_on_first_use(package: str):
    """A family package's module `__getattr__`: package.X is its `model` module's X, imported on the
    first use of any such name, so a stage that only reads the family's light `settings` module, as
    every stage does to check params, loads no model library. A submodule (settings, toy, hub …) is
    imported as itself."""
    folder = FOLDER / package.rsplit(".", 1)[-1]

    def __getattr__(name: str):
        if name.startswith("__"):  # Python's own probes (__path__, __file__ …) are the package's, never the model's
            raise AttributeError(name)
        with phases.importing():  # the model libraries a stage loads late are start-up, not work
            if (folder / f"{name}.py").is_file():
                return importlib.import_module(f"{package}.{name}")
            return getattr(importlib.import_module(f"{package}.model"), name)

    return __getattr__


def family_module(name: str):
    """The package of family `name`, or a ValueError naming the known ones."""
    if name not in known():
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(known())}")
    return importlib.import_module(f"{__name__}.{name}")


def settings_module(name: str):
    """Family `name`'s light `settings` module (no model code), or a ValueError naming the known families."""
    if name not in known():
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(known())}")
    return importlib.import_module(f"{__name__}.{name}.settings")


def family_settings(name: str):
    """The Section class of family `name`'s params section."""
    return settings_module(name).SETTINGS


def check_config(config) -> None:
    """The checks of config.family's settings module (`check(config)`, if it has one): what the family
    cannot run, refused before any model loads."""
    module = settings_module(config.family)
    if hasattr(module, "check"):
        module.check(config)


def frame_segments(family: str, frames: int, segment_frames: int) -> list[range]:
    """The labelled segments of a clip of `frames` pixel frames in family `family` (its settings
    module's rule: each segment holds whole latent frames), or a ValueError naming the key and the fix."""
    return settings_module(family).frame_segments(frames, segment_frames)


def latent_segments(family: str, frames: int, segment_frames: int) -> list[tuple[int, int]]:
    """Each labelled segment's latent frames [start, stop) in family `family` (frame_segments mapped
    through its VAE's grouping of frames)."""
    module = settings_module(family)
    mapped = module.latent_segments(module.frame_segments(frames, segment_frames), frames)
    return [(part.start, part.stop) for part in mapped]


def lora_targets(family: str) -> tuple[str, ...]:
    """The names of the attention a LoRA of family `family` may adapt (its model's add_lora targets)."""
    return settings_module(family).LORA_TARGETS


def noise_timestep(family: str, eta: float, steps: int) -> int:
    """The training timestep of the noise level SDEdit starts from when it denoises the last
    round(η · steps) of `steps` sampling steps (dense_dpo's copies): DPO on its pairs trains below it."""
    return settings_module(family).noise_timestep(eta, steps)


def frames_key(family: str, tier: str) -> str:
    """The params key that sets the frames of family `family`'s clips on tier `tier`."""
    module = settings_module(family)
    return module.frames_key(tier) if hasattr(module, "frames_key") else f"tiers.{tier}.data.frames"


def family_of(folder: str | Path) -> str:
    """The family whose pipeline class wrote the base folder (its model_index.json names the class)."""
    index = Path(folder) / "model_index.json"
    try:
        pipeline = json.loads(index.read_text())["_class_name"]
    except (OSError, ValueError, KeyError) as error:
        raise DamagedFileError(f"{index} is missing or damaged ({error}): {folder} is not a whole base model; {remake_hint(layout.base_stage(folder))}") from error
    for name in known():
        if family_module(name).PIPELINE == pipeline:
            return name
    raise DamagedFileError(f"{folder} holds a {pipeline}, which no model family opens (known: {', '.join(known())})")


def make_base(family: str, config, log, clock):
    """The base stage's model of family `family` (its `base` module's make_base): (model, model card,
    summary for the stage's metrics)."""
    family_module(family)  # a ValueError naming the known families if it is none
    with phases.importing():
        base = importlib.import_module(f"{__name__}.{family}.base")
    return base.make_base(config, log, clock)


def load_base_tokenizer(folder: str | Path):
    """The tokenizer of the base model saved in `folder`, without its weights (to check prompts early)."""
    return family_module(family_of(folder)).load_tokenizer(Path(folder))


@phases.timed("load")
def load_base(folder: str | Path, dtype=None):
    """The base model saved in `folder`, opened by its family (fp32 unless dtype is given)."""
    import torch

    return family_module(family_of(folder)).load(Path(folder), dtype or torch.float32)
