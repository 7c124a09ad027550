"""Pages are thin: widgets, calls into explorer/, charts; no tensor code, hashing or caches of their own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

FORBIDDEN_IMPORTS = {"torch", "numpy", "hashlib", "re"}
FORBIDDEN_CACHES = {"cache_data", "cache_resource"}
PAGES = sorted((REPO_ROOT / "pages").glob("*.py"))


def offences(source: str) -> list[str]:
    """Imports of tensor, hashing or regex modules and uses of Streamlit's caches in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_IMPORTS:
            found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_CACHES:
            found.append(f"st.{node.attr}")
    return found


def test_the_check_finds_each_kind_of_offence() -> None:
    source = "import numpy as np\nimport torch.nn\nfrom re import sub\nimport streamlit as st\n@st.cache_data\ndef f(): pass\n"
    assert offences(source) == ["import numpy", "import torch.nn", "from re import …", "st.cache_data"]
    assert offences("import streamlit as st\nfrom explorer import ui\nui.remembered('k', 1, int)\n") == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.stem)
def test_a_page_holds_no_logic_of_its_own(page: Path) -> None:
    assert offences(page.read_text(encoding="utf-8")) == []
