import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_readme_results_are_generated_from_the_committed_metrics():
    done = subprocess.run(
        [sys.executable, "scripts/readme_results.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_readme_names_the_test_command_that_ci_runs():
    assert "pytest" in (ROOT / ".ci/run").read_text()
    assert "\npytest\n" in (ROOT / "README.md").read_text()
