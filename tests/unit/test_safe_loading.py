"""The source loads weights safely: no pickle, no torch.load without weights_only=True, no remote code,
and every load from a model hub names its revision (a load of a local folder says so)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SOURCES = sorted(p for folder in ("src", "stages", "scripts", "benchmarks") for p in (ROOT / folder).rglob("*.py"))
HUB_DOWNLOADS = ("hf_hub_download", "snapshot_download")


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            yield name, node


def keyword(node: ast.Call, name: str):
    for item in node.keywords:
        if item.arg == name:
            return item.value
    return None


def problems(source: str) -> list[str]:
    """What a file does that the rules forbid, one line each."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.name for alias in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            if any(name.split(".")[0] in ("pickle", "cPickle", "dill", "joblib") for name in names):
                found.append(f"line {node.lineno}: imports a pickle module")
    for name, node in calls(tree):
        remote = keyword(node, "trust_remote_code")
        if remote is not None and not (isinstance(remote, ast.Constant) and remote.value is False):
            found.append(f"line {node.lineno}: trust_remote_code")
        if name == "load" and isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "torch":
            weights_only = keyword(node, "weights_only")
            if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                found.append(f"line {node.lineno}: torch.load without weights_only=True")
        if name == "from_pretrained" or name in HUB_DOWNLOADS:
            local = keyword(node, "local_files_only")
            if keyword(node, "revision") is None and not (isinstance(local, ast.Constant) and local.value is True):
                found.append(f"line {node.lineno}: {name} names no revision (or local_files_only=True for a local folder)")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_source_loads_weights_safely(path):
    assert problems(path.read_text()) == []


@pytest.mark.parametrize(
    "source, problem",
    [
        ("import pickle", "imports a pickle module"),
        ("from joblib import load", "imports a pickle module"),
        ("import torch\ntorch.load('w.pt')", "torch.load without weights_only=True"),
        ("import torch\ntorch.load('w.pt', weights_only=False)", "torch.load without weights_only=True"),
        ("M.from_pretrained('org/model', trust_remote_code=True, revision='abc')", "trust_remote_code"),
        ("M.from_pretrained('org/model')", "from_pretrained names no revision"),
        ("hf_hub_download('org/model', 'config.json')", "hf_hub_download names no revision"),
    ],
)
def test_the_scan_catches_each_kind_of_unsafe_load(source, problem):
    assert any(problem in line for line in problems(source))


def test_the_scan_lets_safe_loads_through():
    source = (
        "import torch\ntorch.load('w.pt', weights_only=True)\n"
        "M.from_pretrained('org/model', revision='abc', use_safetensors=True)\n"
        "M.from_pretrained('models/animatediff/base', local_files_only=True)\n"
    )
    assert problems(source) == []
