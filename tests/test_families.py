"""The model-family seam: only a family's own package knows its classes."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
FAMILY_CLASSES = {"UNetMotionModel", "MotionAdapter", "DDIMScheduler", "AnimateDiffPipeline"}


def names_imported(path: Path) -> set[str]:
    """Every name a file imports (`from x import Name`, `import x.Name`), at any depth in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(part for alias in node.names for part in alias.name.split("."))
    return names


def test_only_the_animatediff_family_imports_animatediffs_classes():
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "stages").glob("*.py")]
    importers = sorted(
        str(path.relative_to(ROOT)) for path in files if names_imported(path) & FAMILY_CLASSES
    )
    assert importers and all(name.startswith("src/videodpo/families/animatediff/") for name in importers), importers


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from diffusers import AnimateDiffPipeline\n    return AnimateDiffPipeline\n")
    assert "AnimateDiffPipeline" in names_imported(module)
