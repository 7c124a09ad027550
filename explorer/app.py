"""Streamlit entry point: ``streamlit run explorer/app.py``.

``streamlit run`` puts this file's folder (``explorer/``), not the repository root, on
``sys.path``; without an installed package ``import explorer`` would fail. So the root is
added when the package is not importable, and a plain checkout with the dependencies runs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("explorer") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from explorer.anatomy import human_count, layer_table  # noqa: E402
from explorer.devices import describe_device  # noqa: E402
from explorer.spec import PRESETS  # noqa: E402

st.set_page_config(page_title="ResNet Explorer", page_icon="🧱", layout="wide")
st.title("ResNet Explorer")
st.write(
    "Build any ResNet, read its layer table, and compare depths. "
    "The full multi-page app is under construction; the library and CLI are ready."
)
spec = PRESETS[st.selectbox("Model", list(PRESETS), index=list(PRESETS).index("resnet50"), key="home_preset")]
totals = layer_table(spec, 32 if spec.is_cifar else 224).totals
left, middle, right = st.columns(3)
left.metric("Depth", totals.depth)
middle.metric("Parameters", f"{totals.params:,}")
right.metric("MACs (conv+linear)", human_count(totals.macs))
st.caption(f"Compute device: {describe_device().label}")
