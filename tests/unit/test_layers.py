"""The library's folders are layers, and imports run one way, down them:

    config | label → methods → training → labelling → pairs | rewards → families → evaluation → toyworld → core

A module imports from its own folder or from a folder below it: never one above, never the sibling
of its layer (pairs and rewards know nothing of each other), and no modules import one another in a
circle. Imports inside functions count; an import under `if TYPE_CHECKING:` (a type hint) does not run
and does not count. Run `pytest tests/unit/test_layers.py` to see where a change breaks the order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src"
LAYERS = (("core",), ("toyworld",), ("evaluation",), ("families",), ("pairs", "rewards"), ("labelling",), ("training",), ("methods",), ("config", "label"))
RANK = {folder: rank for rank, folders in enumerate(LAYERS) for folder in folders}


def module_of(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(dotted: str) -> bool:
    base = SRC.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def is_family_package(dotted: str) -> bool:
    parts = dotted.split(".")
    return len(parts) == 3 and parts[1] == "families" and (SRC.joinpath(*parts) / "model.py").is_file()


def imported_name(module: str, name: str) -> str:
    """The module a `from module import name` runs: a submodule named so, a family package's model
    (its names are the model module's, imported on first use), or the module itself."""
    if is_module(f"{module}.{name}"):
        return f"{module}.{name}"
    if is_family_package(module):
        return f"{module}.model"
    return module


def runtime_nodes(tree: ast.AST):
    """Every node that runs: the bodies of `if TYPE_CHECKING:` blocks are left out."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "videodpo":
            found |= {imported_name(node.module, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "videodpo"}
    return {name for name in found if name != "videodpo"}


def library_graph(src: Path = SRC) -> dict[str, set[str]]:
    return {module_of(path): imports_of(path) for path in sorted((src / "videodpo").rglob("*.py"))}


def folder(module: str) -> str:
    return module.split(".")[1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import of a folder above the importer's, or of its layer's sibling."""
    wrong = []
    for module, imported in graph.items():
        if module == "videodpo":
            continue
        for target in sorted(imported):
            if folder(target) != folder(module) and RANK[folder(target)] >= RANK[folder(module)]:
                wrong.append(f"{module} imports {target}")
    return wrong


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles among the modules: each strongly connected set of two or more (Tarjan)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def defined_names(module: str) -> set[str]:
    """The names a module binds at its top level (functions, classes, assignments, imports)."""
    base = SRC.joinpath(*module.split("."))
    path = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def unresolved_imports(paths) -> list[str]:
    """Each `from videodpo… import name` (at any depth, in a function too) whose module does not exist or
    neither has a submodule of that name nor binds it: an import that fails only when its code runs."""
    wrong = []
    for path in paths:
        for node in runtime_nodes(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "videodpo"):
                continue
            if not is_module(node.module):
                wrong.append(f"{path.name}:{node.lineno} imports from {node.module}, which does not exist")
                continue
            target = node.module
            known = defined_names(target) | (defined_names(f"{target}.model") if is_family_package(target) else set())
            for alias in node.names:
                if not is_module(f"{target}.{alias.name}") and alias.name not in known:
                    wrong.append(f"{path.name}:{node.lineno} imports {alias.name} from {target}, which has none")
    return wrong


def test_every_import_of_the_project_names_a_module_or_a_name_that_exists():
    """Imports inside functions run only when their code does: each is resolved here, from every
    stage, script, benchmark, library module and test."""
    root = SRC.parent
    paths = [path for folder in ("src", "stages", "scripts", "benchmarks", "tests") for path in sorted((root / folder).rglob("*.py"))]
    assert unresolved_imports(paths) == []


def test_every_folder_of_the_library_has_a_layer():
    folders = {path.name for path in (SRC / "videodpo").iterdir() if path.is_dir() and (path / "__init__.py").is_file()}
    modules = {path.stem for path in (SRC / "videodpo").glob("*.py") if path.stem != "__init__"}
    assert folders | modules == set(RANK)


def test_no_module_imports_one_in_a_folder_above_its_own_or_beside_its_layer():
    assert upward_imports(library_graph()) == []


def test_no_modules_import_one_another_in_a_circle():
    assert circles(library_graph()) == []


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"core/seeds.py": "from videodpo.training import dpo\n", "training/dpo.py": ""}, ["videodpo.core.seeds imports videodpo.training.dpo"]),
        ({"pairs/jitter.py": "def f():\n    from videodpo import rewards\n", "rewards/__init__.py": ""}, ["videodpo.pairs.jitter imports videodpo.rewards"]),
        ({"core/seeds.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from videodpo.config import Config\n", "config.py": ""}, []),
    ],
    ids=["upward", "sibling, inside a function", "a type hint"],
)
def test_the_layer_check_finds_an_upward_or_sibling_import_and_skips_type_hints(tmp_path, files, expected):
    for name, text in files.items():
        path = tmp_path / "videodpo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text)
    global SRC
    real, SRC = SRC, tmp_path
    try:
        assert upward_imports(library_graph(tmp_path)) == expected
    finally:
        SRC = real


def test_the_circle_check_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_import_check_finds_a_gone_module_and_a_name_a_module_lacks(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from videodpo.methods import _gone\n    from videodpo.gone import x\n    from videodpo.families.wan import Wan\n")
    assert unresolved_imports([probe]) == [
        "probe.py:3 imports from videodpo.gone, which does not exist",
        "probe.py:2 imports _gone from videodpo.methods, which has none",
    ]
