"""Streamlit entry point: ``streamlit run explorer/app.py``.

``streamlit run`` puts this file's folder (``explorer/``), not the repository root, on
``sys.path``; without an installed package ``import explorer`` would fail. So the root is
added when the package is not importable, and a plain checkout with the dependencies runs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("explorer") is None:
    sys.path.insert(0, str(ROOT))

# plotly imports pandas lazily through a sys.modules lookup, which can hand a concurrent
# session a half-imported module (seen with 12 sessions on a fresh server). Importing it
# here, through the import system and its module locks, makes every session wait for it.
import pandas  # noqa: E402, F401
import streamlit as st  # noqa: E402

from explorer import ui  # noqa: E402

st.set_page_config(page_title="ResNet Explorer", page_icon="🧱", layout="wide")
page = st.navigation(list(ui.pages().values()))

# One model picker for every page that studies one model (Compare has two of its own).
if page.url_path != "compare":
    st.sidebar.header("Model")
    choice = ui.model_picker("model", "resnet50")
    st.session_state["sidebar_choice"] = choice
    if choice is not None:
        table = ui.table_or_error(choice, st.sidebar)
        if table is not None:
            ui.glance(table)
ui.device_caption()
page.run()
