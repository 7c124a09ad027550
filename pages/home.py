"""Home: what a ResNet is, what each page teaches, a lesson path, and where the work runs.

It loads no torch, so it is the page a fresh server shows first and fast.
"""

import streamlit as st

from explorer import _
from explorer.ui import picker
from explorer.ui.lesson import FAMILY_LESSON, LESSON, PAGE_SUMMARIES

st.title(_("ResNet Explorer"))
st.markdown(_(
    "A **ResNet** is a deep convolutional network built from *residual blocks*: each block "
    "computes a correction F(x) and adds it to its input through a shortcut, so it outputs "
    "x + F(x). Because a block can fall back to the identity, networks of 50, 152 or even 1,000 "
    "layers still train, where the same network without shortcuts gets *worse* as it gets "
    "deeper (He et al. 2016, [arXiv:1512.03385](https://arxiv.org/abs/1512.03385)). "
    "Every model here is built live from torchvision's own ResNet classes (and, beyond the 2015 block, small "
    "classes that timm's checkpoints load into), so the numbers you read are the numbers of the real thing."
))
pages = picker.pages()
guide, lesson = st.columns(2, gap="large")
with guide:
    st.subheader(_("What each page teaches"))
    for summary in PAGE_SUMMARIES:
        st.page_link(pages[summary.page], label=f"**{_(summary.title)}**", icon=pages[summary.page].icon)
        st.caption(_(summary.teaches))
with lesson:
    st.subheader(_("A lesson: ResNet-18 vs ResNet-50"))
    st.markdown(_("ResNet-50 costs 2.25× the MACs of ResNet-18: where does that go, and what does it buy? "
                  "Each step opens its page with the right model chosen."))
    for number, step in enumerate(LESSON, start=1):
        st.page_link(pages[step.page], label=f"**{number}. {_(step.label)}**", query_params=step.query_params)
        st.caption(_(step.look_for))
    st.subheader(_("Then: beyond the 2015 block"))
    st.markdown(_("Pre-activation (ResNet v2) and squeeze-and-excitation gates: what they change, what they cost."))
    for number, step in enumerate(FAMILY_LESSON, start=1):
        st.page_link(pages[step.page], label=f"**{number}. {_(step.label)}**", query_params=step.query_params)
        st.caption(_(step.look_for))
st.markdown(_(
    "Pick a model in the sidebar — a preset or **custom…** to change depth, block type, width, stem, "
    "stride placement, shortcuts, dilation, pre-activation, channel attention or the bottleneck's 3x3. The choice stays with you across pages and is kept in "
    "the page address, so you can share a link to exactly this model."
))
st.info(_("Models run on the server's GPU when it has one (CUDA or Apple MPS), otherwise on its CPU: everything "
          "works either way, and measured timings are that device's. Every other page names the device at the foot "
          "of its sidebar."))
