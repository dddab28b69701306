"""Why the hub model could not be loaded, said so the user can act: a hub that cannot be reached (no
network, a proxy, a firewall) is not a wrong repository name. diffusers reports both as "does not
appear to have a file named ..."; huggingface_hub's error underneath tells them apart."""

from __future__ import annotations

import os

import torch
from diffusers import AnimateDiffPipeline

from videodpo.models import HubModel, first_line, hub_offline, resolve_hub_pipeline


def load_hub_pipeline(model: HubModel, dtype: torch.dtype = torch.float32) -> AnimateDiffPipeline:
    """models.resolve_hub_pipeline, failing with what to do about the failure's real cause."""
    try:
        return resolve_hub_pipeline(model, dtype)
    except RuntimeError as error:
        cause = error.__cause__
        if not isinstance(cause, OSError):
            raise
        raise RuntimeError(f"could not load the hub model ({first_line(cause)}); {hub_failure_hint(cause, model, hub_offline())}") from cause


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
