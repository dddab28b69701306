"""Loading published weights from the model hub, whatever the family: offline mode, pinned commits,
and telling a hub that cannot be reached from a name that is wrong."""

from __future__ import annotations

import os
import warnings
from pathlib import Path


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


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


def failure_hint(error: BaseException, repos: list[tuple[str, str]], offline: bool, params_key: str) -> str:
    """What to do when the repositories (repo, revision) of params `params_key` could not be loaded."""
    downloads = " and ".join(f"`huggingface-cli download {repo} --revision {revision}`" for repo, revision in repos)
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
    return f"check the repository names and revisions under `{params_key}` in params.yaml"


def warn_unpinned(params_key: str, repos: list[tuple[str, str]], commits: dict[str, str | None]) -> None:
    """Warn for each (repo, revision) of params `params_key` loaded at a branch or tag: a later run may load other weights."""
    for repo, revision in repos:
        if not is_commit(revision) and not Path(repo).is_dir():
            warnings.warn(
                f"{params_key}: {repo} at {revision!r} is a branch or tag, so a later run may load other weights "
                f"(loaded now: commit {commits[repo]}); pin commits with `python scripts/pin_hub_revisions.py`",
                stacklevel=2,
            )
