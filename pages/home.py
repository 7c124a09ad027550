"""Home: what a ResNet is, what each page teaches, and where the work runs.

It loads no torch, so it is the page a fresh server shows first and fast.
"""

import streamlit as st

from explorer import picker

st.title("ResNet Explorer")
st.markdown(
    "A **ResNet** is a deep convolutional network built from *residual blocks*: each block "
    "computes a correction F(x) and adds it to its input through a shortcut, so it outputs "
    "x + F(x). Because a block can fall back to the identity, networks of 50, 152 or even 1,000 "
    "layers still train, where the same network without shortcuts gets *worse* as it gets "
    "deeper (He et al. 2016, [arXiv:1512.03385](https://arxiv.org/abs/1512.03385)). "
    "Every model here is built live from torchvision's own ResNet classes, so the numbers you "
    "read are the numbers of the real thing."
)
st.subheader("What each page teaches")
st.page_link(picker.pages()["architecture"], label="**Architecture** — the layer table (shapes, strides, padding, "
             "shortcuts, params, MACs, receptive field), a block diagram, the shape flow, the paper's Table 1 "
             "recomputed, how torchinfo/thop/PyTorch count differently, and measured per-layer latency.", icon=":material/account_tree:")
st.page_link(picker.pages()["compare"], label="**Compare** — two models side by side (ResNet-18 vs ResNet-50 by default): "
             "where the extra parameters, MACs and memory of the deeper model go.", icon=":material/compare_arrows:")
st.markdown(
    "Pick a model in the sidebar — a preset or **custom…** to change depth, block type, width, stem, "
    "stride placement, shortcuts or dilation. The choice stays with you across pages and is kept in "
    "the page address, so you can share a link to exactly this model."
)
st.info("Models run on the server's GPU when it has one (CUDA or Apple MPS), otherwise on its CPU: everything "
        "works either way, and measured timings are that device's. Every other page names the device at the foot "
        "of its sidebar.")
