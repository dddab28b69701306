"""The hub model: an SD1.5 checkpoint and a motion adapter at pinned revisions, joined into one
AnimateDiff pipeline, and what to do when they cannot be loaded. A hub that cannot be reached (no
network, a proxy, a firewall) is not a wrong repository name: diffusers reports both as "does not
appear to have a file named ..."; huggingface_hub's error underneath tells them apart."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter

from videodpo.families.animatediff import AnimateDiff
from videodpo.integrity import first_line


@dataclass(frozen=True)
class HubModel:
    base: str
    revision: str
    motion_adapter: str
    motion_adapter_revision: str


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


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


def is_commit(revision: str) -> bool:
    return len(revision) == 40 and all(c in "0123456789abcdef" for c in revision.lower())


def resolved_commit(repo: str, revision: str, filename: str) -> str | None:
    """The commit a revision (branch, tag or commit) of a hub repository resolved to, read from the
    local cache after loading; None for a local folder, which has no commits."""
    from huggingface_hub import try_to_load_from_cache

    if Path(repo).is_dir():
        return None
    if is_commit(revision):
        return revision.lower()
    cached = try_to_load_from_cache(repo, filename, revision=revision)
    return Path(cached).parent.name if isinstance(cached, str) else None


def hub_commits(model: HubModel) -> dict[str, str | None]:
    """{repository: commit} of the base model and the motion adapter, as loaded."""
    return {
        model.base: resolved_commit(model.base, model.revision, "model_index.json"),
        model.motion_adapter: resolved_commit(model.motion_adapter, model.motion_adapter_revision, "config.json"),
    }


def error_chain(error: BaseException) -> list[BaseException]:
    """The error and those it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def hub_unreachable(error: BaseException) -> bool:
    """Whether loading failed because the hub could not be reached (no network, a proxy, a
    firewall), not because a repository, revision or file is not there. diffusers reports both as
    "does not appear to have a file named ..."; huggingface_hub's error underneath tells them apart."""
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    for link in error_chain(error):
        if isinstance(link, HfHubHTTPError):  # the hub answered: a name, revision or access problem
            return False
        if isinstance(link, (LocalEntryNotFoundError, ConnectionError, TimeoutError)):
            return True
        if type(link).__name__ in ("ConnectError", "ConnectTimeout", "ProxyError", "ReadTimeout"):  # httpx / requests
            return True
    return False


def hub_failure_hint(error: BaseException, model: HubModel, offline: bool) -> str:
    downloads = (
        f"`huggingface-cli download {model.base} --revision {model.revision}` and "
        f"`huggingface-cli download {model.motion_adapter} --revision {model.motion_adapter_revision}`"
    )
    if offline:
        return f"HF_HUB_OFFLINE is set and the model is not in the local cache: fetch it once with {downloads}"
    if hub_unreachable(error):
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
        return (
            f"the model hub ({endpoint}) could not be reached from this machine (no network, a proxy or a "
            f"firewall), and the model is not in the local cache. Either fetch the weights where there is "
            f"network, with {downloads}, copy the cache (~/.cache/huggingface/hub, or HF_HOME) here and run "
            f"with HF_HUB_OFFLINE=1; or give this machine access to the hub (HTTPS_PROXY for a proxy)"
        )
    return "check the repository names and revisions under `model.hub` in params.yaml"
