"""Streamlit entry point: ``streamlit run explorer/app.py``.

``streamlit run`` puts this file's folder (``explorer/``), not the repository root, on
``sys.path``; without an installed package ``import explorer`` would fail. So the root is
added when the package is not importable, and a plain checkout with the dependencies runs.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("explorer") is None:
    sys.path.insert(0, str(ROOT))

from explorer import use_cpu_threads  # noqa: E402

use_cpu_threads()  # before any page loads torch: OpenMP and torch read these once, as they load

import streamlit as st  # noqa: E402
from streamlit.runtime.scriptrunner_utils.exceptions import StopException  # noqa: E402

from explorer import _  # noqa: E402
from explorer.ui import choices, class_follow, classroom, picker  # noqa: E402

st.set_page_config(page_title="ResNet Explorer", page_icon="🧱", layout="wide")
# The language first: the page titles in the navigation (drawn above it) are already in it.
picker.language_switch()
page = st.navigation(list(picker.pages().values()))
page_name = class_follow.page_name(page)
whole_run = choices.whole_run_started(partial(class_follow.is_setting, page_name))
# Class mode first: a student's page and model follow the teacher's before the pickers run.
classroom.class_sidebar()
classroom.before_page(page_name)

# One model picker for every page that studies one model (Compare has two of its own).
choice = None
if page.url_path != "compare":
    st.sidebar.header(_("Model"))
    choice = picker.model_picker("model", "resnet50")
    st.session_state[picker.SIDEBAR_CHOICE] = choice
# Home needs no torch, so it opens before torch has loaded (~3 s here); the other pages load it.
if page.url_path:
    from explorer.ui.class_runs import page_style
    from explorer.ui.tables import device_caption, glance, table_or_error

    page_style()
    if choice is not None:
        table = table_or_error(choice, st.sidebar)
        if table is not None:
            glance(table)
    device_caption()
if classroom.membership() is not None:  # the class's live panel over the page; it needs torch (its tables)
    from explorer.ui.class_panel import class_panel

    class_panel()
try:
    page.run()
except (StopException, Exception):  # st.stop, or an error: the widgets not drawn stay, which the browser drops
    whole_run.stopped = True
    raise
classroom.after_page(page_name)
