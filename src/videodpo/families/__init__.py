"""Model families: the only code that knows how a kind of text-to-video model is built, conditioned,
noised, sampled and fine-tuned. Stages, methods, metrics and rewards reach a model through the seam
every family's model object offers (videodpo.families.animatediff.AnimateDiff,
videodpo.families.wan.Wan):

- parts: `denoiser` (what LoRA and accelerate wrap), `device`, `dtype`, `to(device)`, `save(folder)`;
- LoRA: `add_lora(rank, alpha, targets)`, `save_lora(config, folder)`, `load_lora(folder)`,
  `adapters_disabled(denoiser)` (the reference model is the policy with its LoRA off);
- prompts: `encode_prompts(prompts)` (training conditioning), `guidance_embeddings(prompts)`,
  `keep_prompt_embeddings(prompts)` (encode them once and release the text encoder, where it is big);
- clips: `encode_clips(uint8 clips)` → latents, `decode(latents, window)` → frames in [-1, 1]
  (differentiable; a window of latent frames gives the pixel frames `window_frames(window)`),
  `latent_frames(pixel_frames)` and `latent_segments(segments, pixel_frames)` (pixel frames →
  latent frames), `initial_latents(frames, seed, shared_noise, resolution)`;
- training: `predict(denoiser, noisy, timesteps, conditioning)`, `training_draw(latents, noise,
  timesteps)` → (noisy latents, target: AnimateDiff's v, Wan's velocity ε − x0), `num_train_timesteps`;
- sampling: `generate(...)` → uint8 clips, `denoise(...)` (a sampler loop that can keep its graph for
  reward back-propagation), `sampler(steps)` and `sampler_step(scheduler, prediction, timestep,
  latents, eta)` → (next latents, their log-probability at eta > 0: DDIM's, or the flow SDE's),
  `denoise_from(...)` and `strength_for(count, steps)` (SDEdit).

A base folder (models/<family>/base) is opened by the family whose pipeline class wrote it. Each
family's package also offers PACKAGE: its NAME, the PIPELINE class name its base folders hold, MODEL
(its class), load/load_tokenizer of a base folder, and make_base(config, log, clock) for the base
stage. Its light `settings` module (no model code: params checks import it) holds SETTINGS, the
class of its params section, LORA_TARGETS, frame_segments(frames, segment_frames),
latent_segments(segments, frames), noise_timestep(eta, steps) and, optionally, check(config) and
frames_key(tier). The families are the packages of this folder (known()); none is imported until used.
"""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
from pathlib import Path

from videodpo.core import layout
from videodpo.core.integrity import DamagedFileError, remake_hint

FOLDER = Path(__file__).parent
# what every family's model offers (see above)
SEAM = (
    "denoiser", "device", "dtype", "to", "save", "enable_gradient_checkpointing",
    "add_lora", "save_lora", "load_lora", "adapters_disabled",
    "encode_prompts", "guidance_embeddings", "keep_prompt_embeddings",
    "encode_clips", "decode", "window_frames", "latent_frames", "latent_segments", "initial_latents",
    "predict", "training_draw", "num_train_timesteps",
    "generate", "denoise", "sampler", "sampler_step", "denoise_from", "strength_for",
)
# what every family's package offers beside its model class
PACKAGE = ("NAME", "PIPELINE", "MODEL", "load", "load_tokenizer", "make_base")


def known() -> tuple[str, ...]:
    """The families: the packages in this folder, in name order (none is imported)."""
    return tuple(sorted(info.name for info in pkgutil.iter_modules([str(FOLDER)]) if info.ispkg))


class PipelineModel:
    """The parts of the seam that every family takes alike from its diffusers pipeline (`pipe`) and its
    `denoiser`: where it runs, its precision, moving it, saving it."""

    @property
    def device(self) -> "torch.device":
        return self.denoiser.device

    @property
    def dtype(self) -> "torch.dtype":
        return self.denoiser.dtype

    def to(self, device):
        self.pipe.to(device)
        return self

    def save(self, folder: Path) -> None:
        self.pipe.save_pretrained(folder, safe_serialization=True)

    def sampler(self, steps: int):
        """A fresh copy of the model's scheduler (AnimateDiff's DDIM, Wan's flow-matching Euler) set to
        `steps` sampling steps; its `.timesteps` run from the highest noise down (Wan's `.sigmas` hold one
        noise level more, 0 at the end)."""
        scheduler = copy.deepcopy(self.pipe.scheduler)
        scheduler.set_timesteps(steps)
        return scheduler


def model_on_first_use(package: str):
    """A family package's module `__getattr__`: package.X is its `model` module's X, imported on the
    first use of any such name, so a stage that only reads the family's light `settings` module, as
    every stage does to check params, loads no model library. A submodule (settings, toy, hub …) is
    imported as itself."""
    folder = FOLDER / package.rsplit(".", 1)[-1]

    def __getattr__(name: str):
        if name.startswith("__"):  # Python's own probes (__path__, __file__ …) are the package's, never the model's
            raise AttributeError(name)
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


def load_base_tokenizer(folder: str | Path):
    """The tokenizer of the base model saved in `folder`, without its weights (to check prompts early)."""
    return family_module(family_of(folder)).load_tokenizer(Path(folder))


def load_base(folder: str | Path, dtype=None):
    """The base model saved in `folder`, opened by its family (fp32 unless dtype is given)."""
    import torch

    return family_module(family_of(folder)).load(Path(folder), dtype or torch.float32)
