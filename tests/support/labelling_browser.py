"""The labelling page as a person uses it: `python -m videodpo.label` in its own process, and headless
Chromium (Debian's, which .ci/run installs) driven through Playwright."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
SCREENSHOT = ROOT / "docs" / "labelling_page.png"  # VIDEODPO_SCREENSHOT=1 pytest tests/browser refreshes it


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "no Chromium: .ci/run installs Debian's (apt-get install chromium)"
    return found


class LabellingServer:
    """The page's server for one branch and annotator, started as a person starts it."""

    def __init__(self, workspace: Path, family: str, method: str, annotator: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "videodpo.label", family, method, "--annotator", annotator, "--port", "0"],
            cwd=workspace, env={**os.environ, "PYTHONPATH": str(workspace / "src") if (workspace / "src").is_dir() else str(ROOT / "src")},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.first_line = self.process.stdout.readline()
        address_line = self.process.stdout.readline()
        if "http://127.0.0.1:" not in address_line:
            self.process.kill()
            raise AssertionError(f"the labelling server did not start: {self.first_line}{address_line}{self.process.stderr.read()}")
        self.url = address_line.split()[1]

    def kill(self) -> None:
        """As a crash or a closed terminal would: no chance to clean up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def wait_for_count(page, labelled: int) -> None:
    page.wait_for_function(f"document.querySelector('#count').textContent.startsWith('{labelled} /')")


def keep_screenshot(page) -> None:
    if os.environ.get("VIDEODPO_SCREENSHOT"):
        page.screenshot(path=str(SCREENSHOT))
