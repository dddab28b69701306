"""The hub model: an SD1.5 checkpoint and a motion adapter at pinned revisions, joined into one
AnimateDiff pipeline, and what to do when they cannot be loaded. A hub that cannot be reached (no
network, a proxy, a firewall) is not a wrong repository name: diffusers reports both as "does not
appear to have a file named ..."; huggingface_hub's error underneath tells them apart."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter

from videodpo.core.hub import failure_hint, hub_offline, hub_unreachable, is_commit, resolved_commit  # noqa: F401  (is_commit, hub_unreachable: below)  # noqa: F401
from videodpo.core.integrity import first_line
from videodpo.families.animatediff.model import AnimateDiff


@dataclass(frozen=True)
class HubModel:
    base: str
    revision: str
    motion_adapter: str
    motion_adapter_revision: str


def load_hub_model(model: HubModel, dtype: torch.dtype = torch.float32):
    """Load an SD1.5 checkpoint and a motion adapter at pinned revisions into one AnimateDiff pipeline.

    Honours HF_HUB_OFFLINE: offline, a model missing from the local cache fails with what to fetch; a
    hub that cannot be reached is said as such, with the two ways out (hub_failure_hint).
    Local folders are accepted for both (the tests build tiny ones). The scheduler becomes DDIM as
    AnimateDiff samples it (linear betas, linspace timesteps, no sample clipping).
    """
    offline = hub_offline()
    common = dict(torch_dtype=dtype, use_safetensors=True, local_files_only=offline)
    try:
        adapter = MotionAdapter.from_pretrained(model.motion_adapter, revision=model.motion_adapter_revision, **common)
        pipe = AnimateDiffPipeline.from_pretrained(
            model.base, revision=model.revision, motion_adapter=adapter, **common
        )
    except OSError as error:
        raise RuntimeError(f"could not load the hub model ({first_line(error)}); {hub_failure_hint(error, model, offline)}") from error
    pipe.scheduler = DDIMScheduler.from_config(
        pipe.scheduler.config, beta_schedule="linear", timestep_spacing="linspace", clip_sample=False, steps_offset=1
    )
    pipe.set_progress_bar_config(disable=True)
    return AnimateDiff(pipe)


def hub_commits(model: HubModel) -> dict[str, str | None]:
    """{repository: commit} of the base model and the motion adapter, as loaded."""
    return {
        model.base: resolved_commit(model.base, model.revision, "model_index.json"),
        model.motion_adapter: resolved_commit(model.motion_adapter, model.motion_adapter_revision, "config.json"),
    }


def hub_failure_hint(error: BaseException, model: HubModel, offline: bool) -> str:
    repos = [(model.base, model.revision), (model.motion_adapter, model.motion_adapter_revision)]
    return failure_hint(error, repos, offline, "animatediff.hub")
