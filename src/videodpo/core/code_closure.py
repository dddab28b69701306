"""Which of the project's modules a piece of code runs: its videodpo imports, followed through every
module they import, read from the source (nothing is imported). A stage's DVC dependencies and a
method step's code digest both come from here, so neither is a hand-kept list that can miss a module."""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

SRC = Path(__file__).parents[2]  # the folder that holds the videodpo package


def module_file(dotted: str) -> Path | None:
    """The file of a videodpo module or package (videodpo.a.b → src/videodpo/a/b.py or its __init__.py)."""
    base = SRC.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_packages(dotted: str) -> set[str]:
    """A module and the packages Python runs first to import it (videodpo's own __init__ aside)."""
    parts = dotted.split(".")
    return {".".join(parts[:i]) for i in range(2, len(parts) + 1)}


def imports_in(nodes) -> set[str]:
    """The videodpo modules that these syntax trees import (at any depth within them), with the
    packages they sit in, as dotted names."""
    found = set()
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "videodpo":
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)  # a submodule, where the name is one
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "videodpo")
    return {package for name in found for package in _with_packages(name) if module_file(package)}


@cache
def _syntax(path: Path) -> ast.Module:
    """A source file's syntax tree, read and parsed once per process."""
    return ast.parse(path.read_text())


@cache
def _module_imports(name: str) -> frozenset[str]:
    """What a whole module imports (imports_in of its file)."""
    return frozenset(imports_in([_syntax(module_file(name))]))


FAMILIES = "videodpo.families"  # opens each family's package by its name: no import names it


def in_a_family(name: str) -> bool:
    """Whether a module is one family's own code (videodpo.families.<name>…, a family's package), not
    what the families share (videodpo.families.pretraining)."""
    parts = name.split(".")
    return name.startswith(FAMILIES + ".") and (SRC / "videodpo" / "families" / parts[2]).is_dir()


@cache
def _family_imports() -> frozenset[str]:
    """What the families' own code imports from the rest of the project. A stage that opens a model
    runs it, whichever family; each family's own files are that family's stages' folder dependency
    (src/videodpo/families/<name> in dvc.yaml), so an edit to one family reruns its stages alone."""
    names = set()
    for path in sorted((SRC / "videodpo" / "families").glob("*/**/*.py")):
        names |= imports_in([_syntax(path)])
    return frozenset(name for name in names if not in_a_family(name))


def closure(modules: set[str]) -> set[str]:
    """`modules` and every videodpo module they import, transitively (dotted names). Through
    videodpo.families, what the families' own code imports outside them (not the families' files)."""
    todo, seen = set(modules), set()
    while todo:
        name = todo.pop()
        seen.add(name)
        todo |= (_module_imports(name) | (_family_imports() if name == FAMILIES else frozenset())) - seen
    return seen


def script_closure(script: Path) -> set[Path]:
    """The module files that running `script` imports."""
    return {module_file(name) for name in closure(imports_in([ast.parse(Path(script).read_text())]))}


METHODS = "videodpo.methods."  # method modules import their step code inside the step


def function_closure(module: str, function: str | None, steps: frozenset[str] = frozenset()) -> set[Path]:
    """The module files that calling `module.function` runs: the module itself, what it imports at
    its top level and what the function imports inside itself, followed through (the module's other
    functions' imports aside). From another method module only what is taken is followed: a function
    of its (or a name it takes from a third), or its top level; a step (one of `steps`) taken from it
    counts for that step alone.
    None: the module's top level alone."""
    tree = _syntax(module_file(module))
    files, plain = {module_file(module)}, []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(METHODS):
            for alias in node.names:
                followed = alias.name not in steps or alias.name == function
                files |= function_closure(node.module, alias.name if followed else None, steps)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            plain.append(node)
        elif isinstance(node, ast.FunctionDef) and node.name == function:
            plain.append(node)
    return files | {module_file(name) for name in closure(imports_in(plain))}


def digest(files: set[Path]) -> str:
    """A digest of these files' names (within src/) and contents."""
    hashed = hashlib.sha256()
    for path in sorted(files):
        hashed.update(str(path.relative_to(SRC)).encode() + b"\0" + path.read_bytes())
    return hashed.hexdigest()[:16]
