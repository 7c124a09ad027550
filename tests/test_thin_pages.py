"""Pages are thin: widgets, calls into explorer/, charts. A page holds no tensor code, hashing or
caches of its own, and no logic: its functions are fragments or short callbacks, it shapes no
table rows, joins nothing by key and runs no state machine across reruns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

FORBIDDEN_IMPORTS = {"torch", "numpy", "hashlib", "re"}
FORBIDDEN_CACHES = {"cache_data", "cache_resource"}
MAX_HELPER_STATEMENTS = 3  # a function that is not an st.fragment: a callback or a label, no more
PAGES = sorted((REPO_ROOT / "pages").glob("*.py"))


def _is_fragment(function: ast.FunctionDef) -> bool:
    """An `st.fragment`, or class mode's `page_fragment` (an st.fragment that also publishes the view)."""
    return any(ast.unparse(d).split("(")[0] in ("st.fragment", "page_fragment") for d in function.decorator_list)


def _statements(function: ast.FunctionDef) -> int:
    """The statements of ``function``'s body, its docstring not counted."""
    body = function.body
    docstring = body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    return len(body) - bool(docstring)


def _builds_rows(node: ast.AST) -> bool:
    """A comprehension over more than one line whose elements are dicts: table rows shaped in the page."""
    if not isinstance(node, (ast.ListComp, ast.GeneratorExp)) or node.end_lineno == node.lineno:
        return False
    element = node.elt
    return isinstance(element, ast.Dict) or isinstance(element, ast.Call) and ast.unparse(element.func) == "dict"


def offences(source: str) -> list[str]:
    """What ``source`` does that belongs in the library: tensor, hashing or regex imports, Streamlit's
    caches, helper functions (anything but an `st.fragment` or a function of at most
    `MAX_HELPER_STATEMENTS` statements), table rows shaped by a multi-line comprehension, a join
    by a compound key (a dict comprehension keyed by a tuple), and state carried across reruns
    by hand (`st.session_state.pop`, `st.rerun`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_IMPORTS:
            found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_CACHES:
            found.append(f"st.{node.attr}")
        elif isinstance(node, ast.FunctionDef) and not _is_fragment(node) and _statements(node) > MAX_HELPER_STATEMENTS:
            found.append(f"helper {node.name}()")
        elif _builds_rows(node):
            found.append(f"rows built on line {node.lineno}")
        elif isinstance(node, ast.DictComp) and isinstance(node.key, ast.Tuple):
            found.append(f"join by key on line {node.lineno}")
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("st.session_state.pop", "st.rerun"):
            found.append(ast.unparse(node.func))
    return found


def test_the_check_finds_each_kind_of_offence() -> None:
    source = "import numpy as np\nimport torch.nn\nfrom re import sub\nimport streamlit as st\n@st.cache_data\ndef f(): pass\n"
    assert offences(source) == ["import numpy", "import torch.nn", "from re import …", "st.cache_data"]
    assert offences("import streamlit as st\nfrom explorer import ui\nui.remembered('k', 1, int)\n") == []


def test_the_check_finds_logic_that_belongs_in_the_library() -> None:
    # What pages held before it moved: a helper that loads a model, table rows shaped inline,
    # latencies joined by (name, call), and a follow/stop/reseed state machine.
    source = '''
import streamlit as st

def model_column(prefix, spec, box):
    """Weights, names and the model."""
    spec, source, checkpoint = weights_picker(prefix, spec, box)
    loaded = cached_model(spec, source, checkpoint)
    if loaded is None:
        return None
    return spec, loaded

@st.fragment
def run_training(key):
    if st.session_state.pop(f"{key}_again", False):
        st.rerun()

def new_seed(key):
    """A callback: short, so it may stay."""
    st.session_state["zi_seed"] = 1
    st.session_state[f"{key}_again"] = True

rows = [{
    "stage": p.name, "A blocks": p.a_blocks,
} for p in pairs]
latency = {(c.name, c.call): c.milliseconds for c in report.layers}
one_line = [{"name": n} for n in names]
'''
    assert offences(source) == ["helper model_column()", "rows built on line 22", "join by key on line 25",
                                "st.session_state.pop", "st.rerun"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.stem)
def test_a_page_holds_no_logic_of_its_own(page: Path) -> None:
    assert offences(page.read_text(encoding="utf-8")) == []
