"""What the tests read of the project's results and parameters is what is committed (git HEAD),
not what an experiment left in the workspace: after `dvc exp run -S training.beta=3000` the
workspace's params.yaml, metrics and plots are that experiment's, and the suite must still pass."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True)


def committed_text(relative: str) -> str:
    """A file of the project as of git HEAD."""
    return git("show", f"HEAD:{relative}").stdout.decode("utf-8")


def committed_params() -> dict:
    return yaml.safe_load(committed_text("params.yaml"))


def export_committed(paths: list[str], into: Path) -> Path:
    """Write these files and folders as of git HEAD under `into` (paths HEAD lacks are skipped)."""
    present = [path for path in paths if subprocess.run(["git", "cat-file", "-e", f"HEAD:{path}"], cwd=ROOT, capture_output=True).returncode == 0]
    archive = git("archive", "--format=tar", "HEAD", *present).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into
