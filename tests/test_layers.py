"""The folder tree is the architecture: imports go down the layers, never up or round in a circle.

Layers, lowest first (`LAYERS`). A module may import its own layer and those below; Streamlit
only where the app is drawn (``ui/``, the entry, the pages), plotly only from ``figures/`` up.
Every import counts, a function's lazy one included; ``if TYPE_CHECKING:`` blocks do not (they
never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "explorer"
LAYERS = ("runtime", "data", "model", "analysis", "studies", "figures", "ui", "top")
# Where each outside library may be imported: the first layer allowed, and all above it.
MAX_LINES = 420  # "about 400": a module a reader takes in at one sitting
LOWEST_LAYER_FOR = {"streamlit": "ui", "plotly": "figures", "pandas": "figures"}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """``explorer.model.spec`` -> ``model``; the package's own top-level modules (app, cli, the API) -> ``top``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "top"


def _runtime_nodes(tree: ast.AST):
    """Every node outside ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    """The modules ``source`` imports at run time, as absolute names (``from explorer.model import spec``
    gives ``explorer.model.spec`` when that is a module)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package -> the modules (of the package or outside it) it imports."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        raw = imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
        ours = {m for m in raw if m in modules}
        outside = {m.split(".")[0] for m in raw if not m.startswith(root.name)}
        edges[name] = ours | outside
    return edges


def offences(edges: dict[str, set[str]]) -> list[str]:
    """Upward imports, imports of the public API from inside, and drawing libraries below their layer."""
    found = []
    for module, targets in sorted(edges.items()):
        here = LAYERS.index(layer_of(module))
        for target in sorted(targets):
            if target in LOWEST_LAYER_FOR:
                if here < LAYERS.index(LOWEST_LAYER_FOR[target]):
                    found.append(f"{module} imports {target}")
            elif target == "explorer" and layer_of(module) != "top":
                found.append(f"{module} imports the public API (explorer); import the module itself")
            elif target.startswith("explorer.") and LAYERS.index(layer_of(target)) > here:
                found.append(f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Import circles among the package's modules (Tarjan's strongly connected components).

    A package's ``__init__`` is left out: importing ``explorer.model.spec`` runs it first, so every
    edge into a subpackage would otherwise look like a circle through it.
    """
    inner = {m: {t for t in ts if t in edges and not _is_package(t, edges)} for m, ts in edges.items()
             if not _is_package(m, edges)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in inner[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in inner[node]:
                found.append(sorted(component))

    for node in sorted(inner):
        if node not in index:
            visit(node)
    return found


def _is_package(name: str, edges: dict[str, set[str]]) -> bool:
    return any(other.startswith(name + ".") for other in edges)


def test_imports_go_down_the_layers() -> None:
    assert offences(graph()) == []


def test_no_module_imports_itself_in_a_circle() -> None:
    assert cycles(graph()) == []


def test_every_module_lives_in_a_layer() -> None:
    """Only the entry points and the public API sit beside the layers' folders."""
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert loose <= {"__init__.py", "__main__.py", "app.py", "cli.py"}
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(LAYERS[:-1])


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by what its parts do"


def test_the_checks_find_each_kind_of_offence(tmp_path: Path) -> None:
    """A made-up package with one of each offence: the checks name them all."""
    root = tmp_path / "explorer"
    files = {
        "model/spec.py": "from explorer.analysis.anatomy import x\nimport streamlit\n",
        "analysis/anatomy.py": "def f():\n    from explorer.analysis import compare\nimport plotly\n",
        "analysis/compare.py": "from explorer.analysis.anatomy import y\nfrom explorer import layer_table\n",
        "figures/charts.py": "import plotly\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from explorer.ui import pieces\n",
        "ui/pieces.py": "import streamlit\nfrom explorer.figures import charts\n",
    }
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    for package in ("", "model", "analysis", "figures", "ui"):
        (root / package / "__init__.py").write_text("")
    edges = graph(root)
    assert offences(edges) == [
        "explorer.analysis.anatomy imports plotly",
        "explorer.analysis.compare imports the public API (explorer); import the module itself",
        "explorer.model.spec (model) imports explorer.analysis.anatomy (analysis)",
        "explorer.model.spec imports streamlit",
    ]
    assert cycles(edges) == [["explorer.analysis.anatomy", "explorer.analysis.compare"]]
