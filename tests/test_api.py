"""One public API: `from explorer import …` names each thing once, loads lazily, and is what the
pages and the CLI use."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import explorer
from tests.conftest import REPO_ROOT

# The app's own users of the library: they import it through the API (Streamlit pieces from ui/).
USERS = [*sorted((REPO_ROOT / "pages").glob("*.py")), REPO_ROOT / "explorer" / "cli.py", REPO_ROOT / "explorer" / "app.py"]


@pytest.mark.parametrize("name", explorer.__all__)
def test_each_name_is_the_object_its_module_defines(name: str) -> None:
    module = importlib.import_module(f"explorer.{explorer._API[name]}")
    value = getattr(explorer, name)
    assert value is getattr(module, name)
    if inspect.isfunction(value) or inspect.isclass(value):
        assert value.__module__ == module.__name__  # defined there, not passed on from elsewhere


def test_importing_the_api_loads_no_torch_and_a_name_loads_its_module() -> None:
    probe = ("import sys, explorer; before = 'torch' in sys.modules or 'streamlit' in sys.modules;"
             "explorer.ResNetSpec; spec_only = 'torch' in sys.modules;"
             "explorer.layer_table; print(before, spec_only, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.split() == ["False", "False", "True"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'layer_tabel'"):
        explorer.layer_tabel  # noqa: B018


def library_imports(source: str) -> list[str]:
    """Imports of the library that go around the API: ``from explorer.<layer below ui> import …``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("explorer.") \
                and not node.module.startswith("explorer.ui"):
            found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("explorer.")]
    return found


def test_the_check_finds_an_import_around_the_api() -> None:
    source = "from explorer import layer_table\nfrom explorer.ui import picker\ndef f():\n    from explorer.model.spec import ResNetSpec\n"
    assert library_imports(source) == ["from explorer.model.spec import …"]


@pytest.mark.parametrize("path", USERS, ids=lambda p: p.name)
def test_pages_and_the_cli_use_the_api(path: Path) -> None:
    assert library_imports(path.read_text(encoding="utf-8")) == []
