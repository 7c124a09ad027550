"""Feature maps: what every layer does to a picture, and per-layer activations to browse.

A class browses click by click, so each interactive part is an `st.fragment`: a click in
the layer browser, the one-channel view or the augmentation preview reruns only that part.
The page around them (picture, preprocessing, weights, the capture) runs when one of its
own widgets changes, and then reuses what this session already computed.
"""

from functools import partial

import streamlit as st

from explorer import (
    AUGMENT_POLICIES, CHANNELS_PER_PAGE, N_, TOP_K_DEFAULT, CaptureKey, CaptureTooLarge, ColourScale, DoesNotFit,
    ImageError, SourceKind, _,
    augmentation_samples, capture_activations, capture_budget, capture_bytes, capture_points, channel_grid,
    channel_values, channel_zoom, denormalize, depth_statistics, file_stem, filter_tiles, first_conv_filters, overlay, preprocess,
    preprocessing_for, residual_parts, side_by_side, value_range, viridis_png,
)
from explorer.ui import picker
from explorer.ui.choices import clamped_number, valid_choice
from explorer.ui.class_runs import class_or_session_result
from explorer.ui.classroom import page_fragment
from explorer.ui.inputs import image_picker, weights_picker
from explorer.ui.models import cached_model, weights_notice
from explorer.ui.picker import sidebar_model
from explorer.ui.receptive_field import receptive_field_view
from explorer.ui.session_memo import remembered
from explorer.ui.tables import table_or_error
from explorer.ui.text import inert

# Options compared in code stay English values; they are shown through _() (labels made during the run).
CHANNEL_CHOICES = (N_("top-k by mean"), N_("all, paged"))


@page_fragment
def augmentation_preview(picked, crop: int) -> None:
    """Eight random training views, computed only while the expander is open, once per roll."""
    expander = st.expander(_("Training augmentation preview (RandomResizedCrop + flip, as torchvision's "
                             "ClassificationPresetTrain)"), key="fm_augment", on_change="rerun")
    if not expander.open:
        return
    with expander:
        a, b = st.columns([3, 1])
        policy_labels = {policy: _(policy) if policy == "none" else policy for policy in AUGMENT_POLICIES}
        valid_choice("fm_policy", AUGMENT_POLICIES, label=policy_labels.get)
        policy = a.selectbox(_("Policy"), AUGMENT_POLICIES, key="fm_policy", format_func=policy_labels.get)
        if b.button(_("Re-roll"), key="fm_reroll"):
            st.session_state["fm_roll"] = st.session_state.get("fm_roll", 0) + 1
        roll = st.session_state.get("fm_roll", 0)
        views = remembered("fm_views", (picked.digest, roll, policy, crop),
                           lambda: augmentation_samples(picked.decoded.image, 8, seed=roll, policy=policy, crop=crop))
        for column, view in zip(st.columns(4) * 2, views):
            column.image(view, width="stretch")
        st.caption(_("Random views, roll {roll}: what one training image looks like across epochs.").format(roll=roll))


@page_fragment
def layer_browser(spec, activations, cropped, detail: bool, capture_key) -> None:
    """The layer picker and everything that shows the chosen layer: grid, statistics, downloads,
    one channel, the block's residual parts and the depth chart's mark. ``capture_key`` names the
    capture (picture, weights, preprocessing): the one-channel view starts afresh for another."""
    layers = [a for a in activations if not a.point.is_residual_part]  # parts show beside their block
    by_key = {a.point.key: a for a in layers}
    keys = list(by_key)
    labels = {key: layer.point.label for key, layer in by_key.items()}  # in this run's language

    def step(offset: int) -> None:
        index = keys.index(st.session_state["fm_layer"]) + offset
        st.session_state["fm_layer"] = keys[max(0, min(len(keys) - 1, index))]

    st.subheader(_("Browse the layers"))
    # One row: the buttons as wide as their words (in any language), the list takes the rest.
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button(_("◀ prev"), key="fm_prev", on_click=step, args=(-1,), width="content")
    selected = by_key[valid_choice("fm_layer", keys, label=labels.get)]
    row.selectbox(_("Layer (execution order)"), keys, key="fm_layer", format_func=labels.get,
                   label_visibility="collapsed", width="stretch")
    row.button(_("next ▶"), key="fm_next", on_click=step, args=(1,), width="content")
    maps = selected.maps  # (C, H, W)
    if selected.point.is_vector:  # a gate's numbers, (C, 1, 1): one bar each, never a grid of 1x1 maps
        st.plotly_chart(channel_values(maps[:, 0, 0], None, selected.point.label), key="fm_values", width="stretch")
        st.caption(_("One number per channel (the map is 1×1): the gate pools the whole map before it weighs the "
                     "channels."))
        channels, colours = [0], None
    else:
        c1, c2, c3 = st.columns([2, 2, 3])
        scale_labels = {scale: scale.label for scale in ColourScale}  # the language's: re-sent when it changes
        valid_choice("fm_scale", list(ColourScale), label=scale_labels.get)
        scale = ColourScale(c1.radio(_("Colour scale"), list(ColourScale), key="fm_scale", format_func=scale_labels.get,
                                     help=_("CNN Explainer's choice: per channel, layer or globally.")))
        choice_labels = {choice: _(choice) for choice in CHANNEL_CHOICES}
        valid_choice("fm_which", CHANNEL_CHOICES, label=choice_labels.get)
        which = c2.radio(_("Channels"), CHANNEL_CHOICES, key="fm_which", format_func=choice_labels.get)
        if which == "top-k by mean":
            most = min(CHANNELS_PER_PAGE, selected.channels)
            clamped_number("fm_topk", 1, most, min(TOP_K_DEFAULT, most))
            k = c3.slider("k", 1, most, key="fm_topk") if most > 1 else 1  # a slider needs two values
            channels = list(selected.top_channels(k))
        else:
            pages = selected.page_count
            page_label = _("Page (of {pages}, {per_page} channels each)").format(pages=pages, per_page=CHANNELS_PER_PAGE)
            clamped_number("fm_page", 1, pages, 1)
            page = c3.number_input(page_label, 1, pages, key="fm_page")
            channels = list(selected.channel_page(page))
        colour_range = value_range(layers, selected, scale)
        st.plotly_chart(channel_grid(maps, channels, scale, colour_range, selected.point.label), key="fm_grid",
                        width="stretch")
        colours = (scale, colour_range)
    # Each number as wide as it needs; a narrow window wraps them onto a second row rather than cut one.
    m = st.container(horizontal=True, gap="medium")
    m.metric(_("Mean"), f"{selected.mean:.3f}", width="content")
    m.metric(_("Std"), f"{selected.std:.3f}", width="content")
    m.metric(_("Zeros"), f"{selected.zero_fraction:.0%}", help=_("Exact zeros: the sparsity a ReLU leaves."), width="content")
    m.metric(_("Range"), f"{selected.minimum:.2f} … {selected.maximum:.2f}", width="content")
    m.metric(_("Map size"), f"{maps.shape[1]}×{maps.shape[2]}", width="content",
             help=_("{channels} channels").format(channels=maps.shape[0]))

    # The files are made when a button is clicked, not on every layer shown; a click reruns nothing.
    safe_name = file_stem(spec, selected.point)
    d1, d2 = st.columns(2)
    if colours is not None:  # a gate's numbers are no picture
        d1.download_button(_("Download these maps (PNG)"), partial(viridis_png, maps[channels], *colours),
                           file_name=f"{safe_name}.png", mime="image/png", key="fm_png", on_click="ignore")
    d2.download_button(_("Download the layer's tensor (.pt)"), selected.pt_bytes, file_name=f"{safe_name}.pt",
                       mime="application/octet-stream", key="fm_pt", on_click="ignore")

    block = selected.point.block_name
    one_channel(selected, channels[0], cropped, None if block is None else residual_parts(activations, block),
                capture_key)

    st.subheader(_("Across depth"))
    st.plotly_chart(depth_statistics(
        keys, list(labels.values()),
        {"mean": [a.mean for a in layers], "std": [a.std for a in layers],
         "zeros": [a.zero_fraction for a in layers], "size": [a.tensor.shape[1] for a in layers]},
        selected.point.key), key="fm_depth", width="stretch")
    st.caption(_("Along the main path: the stem, every block's output and every layer inside the blocks.") if detail
               else _("Along the main path: the stem, every block's output."))


@page_fragment
def one_channel(selected, first_channel: int, cropped, parts, capture_key) -> None:
    """One channel of the chosen layer, over the input, and (in a block) its shortcut and branch.

    The channel starts at ``first_channel`` for each layer of each capture (``capture_key``)."""
    maps = selected.maps
    st.subheader(_("One channel"))
    channels = list(range(maps.shape[0]))
    valid_choice("fm_channel", channels, first_channel, context=(capture_key, selected.point.key))
    channel = st.selectbox(_("Channel"), channels, key="fm_channel")
    if selected.point.is_vector:  # one number, no map to zoom into
        st.metric(_("{layer}, channel {channel}").format(layer=selected.point.key, channel=channel),
                  f"{maps[channel, 0, 0]:.4f}")
    else:
        z1, z2 = st.columns(2)
        z1.plotly_chart(channel_zoom(maps[channel], _("{layer}, channel {channel}").format(
            layer=selected.point.key, channel=channel)), key="fm_zoom", width="stretch")
        z2.image(overlay(cropped, maps[channel]), width="stretch",
                 caption=_("channel {channel} over the input").format(channel=channel))
    if parts is None:
        return
    channel = min(channel, parts.output.channels - 1)  # a layer inside the block may be narrower than its output
    if parts.gate is not None:
        gate = parts.gate.maps[:, 0, 0]  # (C,): the sigmoid's output, one number in (0, 1) per channel
        st.subheader(_("The {gate} gate of {block}").format(gate=parts.gate.point.kind, block=parts.output.point.block_name))
        if (parts.gate.point.module, parts.gate.point.call) != (selected.point.module, selected.point.call):
            st.plotly_chart(channel_values(gate, channel, parts.gate.point.label), key="fm_gate", width="stretch")
        st.caption(_("One number in (0, 1) per channel, computed from this picture: the gate rescales each channel "
                     "of the residual branch before the add. Channel {channel} is multiplied by {value:.3f}; the "
                     "residual branch F(x) below is already gated.").format(channel=channel, value=gate[channel]))
    block = selected.point.block_name
    if parts.shortcut is None:
        st.subheader(_("{block} is a plain block").format(block=block))
        st.caption(_("No shortcut: the block outputs relu(F(x)). Same channel, one colour range for both maps."))
        titles = (_("residual branch F(x)"), "relu(F(x))")
    else:
        st.subheader(_("What makes {block} a residual block").format(block=block))
        style = parts.kind.style
        output = parts.output.point.output_text
        st.caption(_("The block outputs {output}, where {formula} is its {shortcut}. Same channel, one colour range "
                     "for the three maps.").format(output=output, formula=style.formula, shortcut=_(style.legend))
                   + (" " + _("Pre-activation: nothing follows the add, no ReLU.") if parts.output.point.preact else ""))
        titles = (_("shortcut {formula}").format(formula=style.formula), _("residual branch F(x)"), output)
    st.plotly_chart(side_by_side([part.maps[channel] for part in parts.all], titles, parts.channel_range(channel),
                                        _("{layer}, channel {channel}").format(layer=block, channel=channel)),
                    key="fm_parts", width="stretch")


@page_fragment
def receptive_field_section(model, spec, steps, memo_key) -> None:
    """One position's receptive field, computed only while the toggle is on; its widgets rerun only this part."""
    st.subheader(_("Receptive field"))
    if not st.toggle(_("Show what one position of a stage's map sees in the picture"), key="fm_rf"):
        st.caption(_("The theoretical box and the effective field (the input gradient, Luo et al. 2016) of any "
                     "position, and both sizes for every stage: one forward and a few backward passes."))
        return
    receptive_field_view("fm", model, spec, steps.tensor, steps.cropped, memo_key)


st.title(_("Feature maps"))
notice = st.container()  # weights that could not be had, said under the title
choice = sidebar_model()
if choice is None:
    st.info(_("Fix the model in the sidebar to see its feature maps."))
    st.stop()
spec = choice.spec
if spec.in_channels != 3:
    st.info(_("{model} takes {channels}-channel inputs; feature maps of photos need a 3-channel (RGB) model.").format(
        model=spec.name, channels=spec.in_channels))
    st.stop()

left, right = st.columns(2)
picked = image_picker("fm", left)
spec, source, checkpoint = weights_picker("fm", spec, right)
if picked is None:
    st.stop()

# ---- preprocessing ------------------------------------------------------------------
settings = preprocessing_for(spec, source, choice.input_size)
try:
    steps = remembered("fm_steps", (picked.digest, settings), lambda: preprocess(picked.decoded.image, settings))
except ImageError as error:  # too many pixels once resized to the input size
    st.error(_("{file}: {error}").format(file=picked.name, error=error))
    st.stop()
denormalized = remembered("fm_denormalized", (picked.digest, settings), lambda: denormalize(steps.tensor, settings))
info = picked.decoded
st.subheader(_("What the model sees"))
st.caption(_("{name}: {format}, {width}×{height} px, mode {mode}").format(
               name=inert(picked.name), format=info.format, width=info.size[0], height=info.size[1], mode=info.mode)
           + (_(", {frames} frames (first used)").format(frames=info.frames) if info.frames > 1 else "")
           + (_(", rotated by its EXIF orientation") if info.rotated else ""))
columns = st.columns(4)
columns[0].image(steps.original, width="stretch", caption=_("original {width}×{height}").format(
    width=steps.original.size[0], height=steps.original.size[1]))
columns[1].image(steps.resized, width="stretch", caption=_("resize short side → {side}: {width}×{height}").format(
    side=settings.resize, width=steps.resized.size[0], height=steps.resized.size[1]))
columns[2].image(steps.cropped, width="stretch", caption=_("center crop {crop}×{crop}").format(crop=settings.crop))
columns[3].image(denormalized, width="stretch",
                 caption=_("normalized tensor (shown de-normalized): per channel mean {means}; std {stds}").format(
                     means=", ".join(f"{m:+.2f}" for m in steps.channel_mean),
                     stds=", ".join(f"{s:.2f}" for s in steps.channel_std)))
augmentation_preview(picked, settings.crop)

# ---- capture --------------------------------------------------------------------------
loaded = cached_model(spec, source, checkpoint)
weights_notice([loaded], notice)
if loaded is None:
    st.stop()
model, source = loaded.model, loaded.source
st.caption(_("Weights: **{weights}**").format(weights=source.label))
detail = st.toggle(_("Also every conv / BN / ReLU inside the blocks"), key="fm_detail")
table = table_or_error(picker.ModelChoice(spec, settings.crop))
if table is None:
    st.stop()
# Every block's shortcut and residual branch come in the same forward pass, so browsing blocks runs no model.
points = capture_points(spec, settings.crop, detail, residual_parts=True)
needed = capture_bytes(points)
# The budget's variable is for operators (README), not students: the caption says it in words.
st.caption(_("Capturing {count} maps of one image (with each block's shortcut and residual branch): up to "
             "{needed:,.1f} MiB as float16 (this server allows {budget:,.0f} MiB for one capture).").format(
    count=len(points), needed=needed / 2**20, budget=capture_budget() / 2**20))
capture_key = CaptureKey(spec, source, picked.digest, settings, detail)
try:
    activations = class_or_session_result(
        picked.sample and source.kind is not SourceKind.CHECKPOINT, "fm_capture", capture_key,
        lambda: capture_activations(model, spec, steps.tensor, points), lambda maps: capture_bytes(points),
        _("One forward pass, capturing every chosen layer…"))
except (CaptureTooLarge, DoesNotFit) as error:  # both raised before the forward
    st.error(str(error))
    st.stop()

layer_browser(spec, activations, steps.cropped, detail, capture_key)
receptive_field_section(model, spec, steps, (spec, source, picked.digest, settings))

filters = first_conv_filters(model)  # (out, 3, k, k)
st.subheader(_("The first conv's {count} filters").format(count=filters.shape[0]))
if source.kind is SourceKind.RANDOM:
    filters_caption = _("{height}×{width} RGB filters, each stretched to its own range "
                        "(random init: noise until trained)")
else:
    filters_caption = _("{height}×{width} RGB filters, each stretched to its own range")
st.image(filter_tiles(filters), caption=filters_caption.format(height=filters.shape[2], width=filters.shape[3]))
