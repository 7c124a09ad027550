"""Compare: two ResNets side by side (ResNet-18 vs ResNet-50 by default), or three (a toggle adds C):
where the cost goes and what it buys.

The layer tables and torchvision's published accuracies are cheap and shown at once. The
measured speed and the same image through both run models, so each is a fragment inside an
expander, computed only while it is open; a click there reruns only that part.
"""

from functools import partial

import streamlit as st

from explorer import (
    CIFAR, IMAGENET, N_, THROUGHPUT_REPEATS, THROUGHPUT_WARMUPS, TRAINING_REPEATS, TRAINING_WARMUPS,
    CaptureTooLarge, DeviceKind, DoesNotFit, ImageError, SourceKind, ZooAxis, _, accuracy_lines, accuracy_table,
    accuracy_vs_cost, aligned_stages, anatomy_table, block_words, chart_highlights, class_names_for, comparison_html,
    convention_text, describe_device, explain_difference, family_lines, format_shape, handout_name, image_through, language,
    latency_lines, measure_speeds, ops_convention, overlay, preprocess, preprocessing_for, published_weights, shown,
    speed_table, stage_bars, stage_bars_of, stage_outputs, stages_table, stages_table_of, throughput_batches, topk_bars, totals_table, training_lines,
    training_memory, training_memory_table, training_memory_text, training_speed_table, training_step_batch,
    weights_of,
)
from explorer.ui import picker
from explorer.ui.choices import valid_choice
from explorer.ui.class_runs import class_or_session_result
from explorer.ui.classroom import page_fragment
from explorer.ui.inputs import image_picker, weights_picker
from explorer.ui.models import cached_model, weights_notice
from explorer.ui.receptive_field import receptive_field_view
from explorer.ui.session_memo import remembered
from explorer.ui.tables import show_table, table_or_error
from explorer.ui.text import inert


@page_fragment
def accuracy_chart(highlighted: dict[str, str]) -> None:
    """Every torchvision ResNet placed by cost against top-1; the x-axis switch reruns only this."""
    axes = {x: x.label for x in ZooAxis}  # labels made now: AppTest formats options outside the session
    valid_choice("cmp_zoo_x", list(axes), label=axes.get)  # re-sent when the language changes them
    x = ZooAxis(st.radio(_("Cost on the x-axis"), list(axes), key="cmp_zoo_x", horizontal=True, format_func=axes.get))
    st.plotly_chart(accuracy_vs_cost(published_weights(), highlighted, x), key="cmp_zoo", width="stretch")


@page_fragment
def measured_speed(table_a, table_b, size: int) -> None:
    """Latency, throughput and training steps of both models on this server's device, on request."""
    expander = st.expander(_("Measured on this device: latency, throughput, training steps, peak memory"),
                           key="cmp_speed_open", on_change="rerun")
    if not expander.open:
        return
    with expander:
        device = describe_device()
        batches, train_batch = throughput_batches(device.device), training_step_batch(device.device)
        how = _("Whole forward passes of random {size}×{size} images on **{device}**, batch {latency_batch} (latency) "
                "and batch {throughput_batch} (throughput): {warmups} warm-up passes, then {repeats} timed runs. "
                "Training steps (forward, backward and an SGD step on random labels) at batch {train_batch}: "
                "{train_warmups} warm-up steps, then {train_repeats} timed. Each figure is the median, with the "
                "fastest and slowest run beside it, on models built for the measurement. Peak memory is measured on "
                "CUDA only. Other sessions on this server share the device: a note says when the runs disagree.").format(
            size=size, device=device.label, latency_batch=batches[0], throughput_batch=batches[1],
            warmups=THROUGHPUT_WARMUPS, repeats=THROUGHPUT_REPEATS, train_batch=train_batch,
            train_warmups=TRAINING_WARMUPS, train_repeats=TRAINING_REPEATS)
        if device.kind is not DeviceKind.CUDA:
            how += " " + _("On CUDA the throughput batch is {cuda_batch}.").format(cuda_batch=throughput_batches("cuda")[1])
        st.markdown(how)
        key = (table_a.spec, table_b.spec, size, device.device)
        if st.button(_("Measure both models"), key="cmp_measure"):
            bar = st.progress(0.0, text=_("Building the first model…"))
            try:
                speeds = measure_speeds((table_a.spec, table_b.spec), size, device.device,
                                        lambda fraction, text="", partial=None: bar.progress(fraction, text=shown(text)))
                st.session_state["cmp_speed"] = (key, speeds)
            except DoesNotFit as error:
                st.error(str(error))
            bar.empty()
        stored = st.session_state.get("cmp_speed")
        if not stored or stored[0] != key:
            return
        speeds = stored[1]
        show_table(speed_table(*speeds.inference))
        st.markdown("\n".join(f"- {line}" for line in latency_lines(*speeds.inference)))
        show_table(training_speed_table(*speeds.training))
        st.markdown("\n".join(f"- {line}" for line in training_lines(*speeds.training)))
        for note in speeds.notes():
            st.warning(note)
        # A callable is encoded only when clicked, outside this run: it is given the reader's language.
        st.download_button(_("Download the comparison with these measurements (HTML)"),
                           partial(comparison_html, table_a, table_b, speeds, language()), key="cmp_export_measured",
                           file_name=handout_name(table_a, table_b, measured=True), mime="text/html",
                           on_click="ignore")


@page_fragment
def same_image(specs, size: int) -> None:
    """One picture through both models: stage outputs side by side, top-5 and Grad-CAM."""
    expander = st.expander(_("The same image through both: stage outputs, top-5 and Grad-CAM"), key="cmp_image_open",
                           on_change="rerun")
    if not expander.open:
        return
    with expander:
        if any(spec.in_channels != 3 for spec in specs):
            st.info(_("Both models must take 3-channel (RGB) inputs to look at a photo."))
            return
        notice = st.container()  # weights that could not be had, said once for both models
        columns = st.columns(3)
        picked = image_picker("cmp", columns[0])
        models = []
        for label, prefix, spec, column in zip("AB", ("cmp_a", "cmp_b"), specs, columns[1:]):
            column.markdown(f"**{label}: {spec.name}**")
            spec, source, checkpoint = weights_picker(prefix, spec, column)
            with column:
                loaded = cached_model(spec, source, checkpoint)
            models.append((label, prefix, spec, loaded, checkpoint))
        weights_notice([loaded for *_rest, loaded, _checkpoint in models], notice)
        if picked is None or any(loaded is None for *_rest, loaded, _checkpoint in models):
            return
        results, memo_keys = [], []
        for label, prefix, spec, loaded, checkpoint in models:
            settings = preprocessing_for(spec, loaded.source, size)
            names = class_names_for(spec, loaded.source, checkpoint).names
            try:
                steps = remembered(f"{prefix}_steps", (picked.digest, settings),
                                   partial(preprocess, picked.decoded.image, settings))
                result = class_or_session_result(
                    picked.sample and loaded.source.kind is not SourceKind.CHECKPOINT, f"{prefix}_through",
                    ("compare: image through", spec, loaded.source, picked.digest, settings, names),
                    partial(image_through, loaded.model, spec, steps.tensor, names), lambda r: r.bytes,
                    _("{model}: stage outputs, top-5 and Grad-CAM…").format(model=spec.name))
            except (CaptureTooLarge, DoesNotFit, ImageError) as error:  # all raised before any forward
                st.error(f"{label}: {error}")
                return
            results.append((label, spec, loaded.source, steps, result))
            memo_keys.append((spec, loaded.source, picked.digest, settings))

        st.markdown(_("**Stage outputs**: the mean over channels of the stem's and each stage's output, each map "
                      "stretched to its own range. The maps halve in size stage by stage while the channels grow."))
        for label, spec, source, _steps, result in results:
            st.plotly_chart(stage_outputs(
                [s.stretched for s in result.stages], [f"{s.stage} · {format_shape(s.shape, '×')}" for s in result.stages],
                f"{label}: {spec.name} · {source.short_label}"), key=f"cmp_stages_{label}", width="stretch")
        st.markdown(_("**Top-5 and Grad-CAM** of the top class, from the last stage."))
        for (label, spec, source, steps, result), column in zip(results, st.columns(2)):
            picture, chart = column.columns([2, 3])
            top = result.prediction
            caption = _("Grad-CAM for “{label}”").format(label=inert(top.labels[0]))
            if source.untrained:
                caption = _("{caption} — **untrained** network: this map means nothing").format(caption=caption)
            picture.image(overlay(steps.cropped, result.cam, alpha=0.45, greyed=source.untrained), width="stretch",
                          caption=caption)
            chart.plotly_chart(topk_bars(top.labels, top.probabilities, f"{label}: {spec.name} · top-5",
                                         source.untrained),
                               key=f"cmp_top5_{label}", width="stretch")
        receptive_fields_of_both(models, results, memo_keys)


def receptive_fields_of_both(models, results, memo_keys) -> None:
    """The Feature maps page's receptive-field view for each model, on the same picture, on request."""
    if not st.toggle(_("Receptive fields of both: what one position of a stage sees"), key="cmp_rf"):
        return
    for (label, prefix, *_rest, loaded, _checkpoint), (_label, spec, _source, steps, _result), memo_key in zip(
            models, results, memo_keys):
        st.markdown(f"**{label}: {spec.name}**")
        receptive_field_view(prefix, loaded.model, spec, steps.tensor, steps.cropped, memo_key)


st.title(_("Compare two ResNets"))
left, right = st.columns(2)
# The picker applies _() to the labels; the links keep their short parameters ?a= and ?b=.
choice_a = picker.model_picker("cmp_model_a", "resnet18", left, N_("Model A"), with_input_size=False, url_param="a")
choice_b = picker.model_picker("cmp_model_b", "resnet50", right, N_("Model B"), with_input_size=False, url_param="b")
if "cmp_third" not in st.session_state:  # a link with ?c= opens with the third model
    st.session_state["cmp_third"] = "c" in st.query_params
third = st.toggle(_("Add a third model (C)"), key="cmp_third",
                  help=_("Totals, stages and where the difference goes for A, B and C (A → B, A → C); the training "
                         "cost, the published accuracy, the downloads and the measured parts compare A and B."))
choice_c = picker.model_picker("cmp_model_c", "resnetv2_50", st.columns(2)[0], N_("Model C"), with_input_size=False,
                               url_param="c") if third else None
if not third:
    st.query_params.pop("c", None)  # the link people share then holds two models
if choice_a is None or choice_b is None or (third and choice_c is None):
    st.info(_("Fix the model marked in red to see the comparison."))
    st.stop()
cifar = choice_a.spec.is_cifar and choice_b.spec.is_cifar
if "cmp_input" not in st.session_state:
    st.session_state["cmp_input"] = (CIFAR if cifar else IMAGENET).input_size
size = int(st.columns(4)[0].number_input(_("Input size for both (px)"), min_value=1, max_value=picker.MAX_INPUT_SIZE,
                                        step=16, key="cmp_input"))
table_a = table_or_error(picker.ModelChoice(choice_a.spec, size), left)
table_b = table_or_error(picker.ModelChoice(choice_b.spec, size), right)
table_c = table_or_error(picker.ModelChoice(choice_c.spec, size)) if choice_c is not None else None
if table_a is None or table_b is None or (third and table_c is None):
    st.stop()
name_a, name_b = table_a.spec.name, table_b.spec.name
tables = [table for table in (table_a, table_b, table_c) if table is not None]

st.subheader(_("Where the difference goes"))
for other in tables[1:]:
    if table_c is not None:
        st.markdown(f"**{name_a} → {other.spec.name}**")
    st.markdown("\n".join(f"- {line}" for line in explain_difference(table_a, other) + family_lines(table_a, other)))

st.subheader(_("Totals"))
show_table(totals_table(table_a, table_b, table_c))

pairs = aligned_stages(table_a, table_b)
if table_c is None:
    st.plotly_chart(stage_bars(pairs, name_a, name_b), key="cmp_bars", width="stretch")
else:
    st.plotly_chart(stage_bars_of(tables), key="cmp_bars", width="stretch")
    st.info(_("Below, the training cost, the published accuracy, the downloads and the measured parts compare A "
              "and B; the block anatomy and the stages show all three."))

st.subheader(_("Training cost"))
memory_a, memory_b = training_memory(table_a), training_memory(table_b)
show_table(training_memory_table(memory_a, memory_b))
st.caption(training_memory_text(memory_a) + " " + _("The speed of a training step is measured under *Measured, and "
                                                     "seen* below."))

st.subheader(_("What the cost buys"))
published = {label: weights_of(spec) for label, spec in (("A", table_a.spec), ("B", table_b.spec))}
for (label, weights), spec in zip(published.items(), (table_a.spec, table_b.spec)):
    if not weights:
        st.info(_("{label}: **{model}** — no published weights for this spec. torchvision publishes ImageNet weights "
                  "for its own ResNets, ResNeXts and Wide ResNets (1000 classes) only.").format(label=label,
                                                                                               model=spec.name))
accuracy = accuracy_table(published)
if accuracy is not None:
    show_table(accuracy)
    st.markdown("\n".join(f"- {line}" for line in accuracy_lines(name_a, published["A"], name_b, published["B"])))
st.caption(convention_text(ops_convention()))
accuracy_chart(chart_highlights(table_a.spec, table_b.spec))
# A callable is encoded only when clicked, outside this run: it is given the reader's language.
st.download_button(_("Download the comparison (HTML)"), partial(comparison_html, table_a, table_b, None, language()),
                   key="cmp_export", file_name=handout_name(table_a, table_b), mime="text/html", on_click="ignore",
                   help=_("One page that opens offline, to print or hand out: the summary, totals, stage bars, training "
                          "memory, published accuracy and its chart, and the conventions. Measured speeds have their "
                          "own download, once measured below."))

st.subheader(_("Block anatomy"))
for table in tables:  # one above the other: side by side, a bottleneck's columns are cut at 1400 px
    spec = table.spec
    st.markdown(_("**{model}** — {blocks}, expansion {expansion}: a block's output has {expansion}× its inner width.")
                .format(model=spec.name, blocks=block_words(spec.block), expansion=spec.block.expansion))
    show_table(anatomy_table(table))

st.subheader(_("Stages, aligned"))
show_table(stages_table(pairs) if table_c is None else stages_table_of(tables))

st.subheader(_("Measured, and seen"))
measured_speed(table_a, table_b, size)
same_image((table_a.spec, table_b.spec), size)
