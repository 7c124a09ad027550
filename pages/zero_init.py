"""zero_init_residual and the degradation problem: see it, measure it, train it."""

import math

import streamlit as st

from explorer import (
    DEFAULT_DEEP, DEFAULT_SHALLOW, FLAG_OFF, FLAG_ON, INIT_BATCH, PAPER_DEPTHS, PLAIN_LABEL, DoesNotFit, Shortcut,
    TrainingRun, _, cifar_resnet, degradation_models, estimate_text, fitting_settings, identity_rows, lines,
    series_colours, summary_text, task_classes, training_curves, training_sizes, twins,
)
from explorer.ui.choices import clamped_number, valid_choice
from explorer.ui.classroom import page_fragment
from explorer.ui.models import init_study, plain_vs_residual_gradients, study_costs
from explorer.ui.picker import sidebar_model
from explorer.ui.tables import display_frame
from explorer.ui.training_runs import seed_settings, training_section

st.title(_("zero_init_residual"))
st.markdown(_(
    "A residual block outputs relu(x + F(x)), where the branch F ends with a BatchNorm. "
    "`zero_init_residual=True` starts that last BN with γ = 0, so F(x) = β = 0 and every block without a "
    "projection is **exactly the identity** at step 0: a 50-layer net starts as a shallow one and grows into "
    "its depth (Goyal et al. 2017; He et al. 2019, *Bag of Tricks*). Below: the same network built twice from "
    "one seed, with and without the flag — at initialisation, then trained on the same batches."
))
choice = sidebar_model()
if choice is None:
    st.info(_("Fix the model in the sidebar to study it."))
    st.stop()
spec = choice.spec.with_changes(zero_init_residual=False)
if spec.shortcut is Shortcut.NONE:
    st.info(_("This is a plain network: it has no residual branches to zero. Pick a ResNet in the sidebar."))
    st.stop()

# Defaults that fit a lesson: scaled to this model from steps timed on this server.
twin_costs = study_costs(twins(spec))
fitted = fitting_settings(twin_costs, training_sizes(spec))
seed_settings("zi", fitted, basis=spec)
clamped_number("zi_size", spec.output_stride, 512, fitted.input_size)  # the least: the model's stride
columns = st.columns(5, vertical_alignment="bottom")  # inputs in a row, however their labels wrap
steps = int(columns[0].number_input(_("Training steps"), 1, 2000, key="zi_steps"))
batch = int(columns[1].number_input(_("Batch size"), 2, 256, key="zi_batch"))
size = int(columns[2].number_input(_("Training picture size (px)"), spec.output_stride, 512, step=8, key="zi_size",
                             help=_("The side of the shapes pictures the twins are measured and trained on. The "
                                    "sidebar's input size is not used on this page.")))
lr = float(columns[3].number_input(_("Learning rate"), 0.0001, 1.0, 0.02, step=0.005, format="%.4f", key="zi_lr"))
seed = int(columns[4].number_input(_("Seed"), 0, 2**31 - 1, 0, key="zi_seed"))
classes = task_classes(spec.num_classes)
st.caption(_("Data: shapes drawn in code ({classes}; random colours), as {size}×{size} training pictures (the "
             "sidebar's input size is not used here). Model: **{model}**, trained with SGD + momentum. A {count}-class "
             "head replaces its {outputs}-way fc for this task, so the loss starts near ln {count} ≈ {start:.2f}.").format(
    classes=_(", ").join(_(shape) for shape in classes), size=size, model=spec.name, count=len(classes),
    outputs=spec.num_classes, start=math.log(len(classes))))

try:
    with st.spinner(_("Building both twins from one seed and measuring them at initialisation…")):
        study = init_study(spec, seed, INIT_BATCH, size)
except (DoesNotFit, ValueError) as error:
    st.error(str(error))
    st.stop()
names = [s.name for s in study.on]
st.subheader(_("At initialisation"))
left, right = st.columns(2)
left.plotly_chart(lines(names, {FLAG_ON: [s.branch_ratio for s in study.on],
                                FLAG_OFF: [s.branch_ratio for s in study.off]},
                        _("‖F(x)‖ / ‖shortcut(x)‖ per block"), _("ratio"), title_width=40),
                  key="zi_ratio", width="stretch")
right.plotly_chart(lines(names, {_("variance, flag on"): [s.variance for s in study.on],
                                 _("variance, flag off"): [s.variance for s in study.off],
                                 _("mean², flag on"): [s.mean_square for s in study.on],
                                 _("mean², flag off"): [s.mean_square for s in study.off]},
                         _("Block outputs: channel variance and mean²"), _("value"), log=True, title_width=40),
                   key="zi_signal", width="stretch")
layers = [g.name for g in study.gradients_on]
st.plotly_chart(lines(layers, {FLAG_ON: [g.norm for g in study.gradients_on],
                               FLAG_OFF: [g.norm for g in study.gradients_off]},
                      _("Gradient norm per layer after one backward pass (log scale)"), "‖∇W‖", log=True),
                key="zi_gradients", width="stretch")
zeros = sum(g.norm == 0 for g in study.gradients_on)
st.caption(_("One batch of {batch} pictures. With the flag on, {zeros} of {layers} layers get exactly zero gradient "
             "at step 0 (not drawn on the log axis): a branch whose last γ is 0 does not yet depend on its earlier "
             "convs; the zeroed γ does get a gradient, and the first step wakes the branch up.").format(
    batch=INIT_BATCH, zeros=zeros, layers=len(layers)))
identity = identity_rows(study)
st.dataframe(display_frame(identity, list(identity[0])), hide_index=True, width="stretch")


@page_fragment
def run_training(key: str, run: TrainingRun, button_label: str, title: str, estimate: str | None,
                 shown_names: dict[str, str] | None = None, colours: dict[str, str] | None = None) -> None:
    """Train ``run`` once for the whole class (`training_section`, with ``estimate`` under its
    buttons) and draw the curves and where they end. The run is keyed by the specs' English
    labels; ``shown_names`` says some of them in the reader's language on the chart and in the
    summary, ``colours`` keeps each its colour in the page's other charts. A fragment: pressing
    Train or Stop reruns only this part of the page.
    """
    curves = training_section(key, run, button_label, seed_key="zi_seed", estimate=estimate)
    if curves is None:
        return
    shown_names = shown_names or {}
    histories = {shown_names.get(label, label): h for label, h in curves.items() if h}
    st.plotly_chart(training_curves(histories, title, colours), key=f"{key}_curves", width="stretch")
    st.caption(summary_text(histories))


st.subheader(_("Training the twins"))
twin_run = TrainingRun.of(twins(spec), steps, batch, lr, seed, size)
run_training("zi", twin_run, _("Train both twins"),
             _("{model}: the same seed and batches, with and without the flag").format(model=spec.name),
             estimate_text(twin_costs, twin_run) if twin_costs else None)

st.subheader(_("The degradation problem: plain vs residual"))
st.markdown(_(
    "He et al. (2016) found that a deeper **plain** network (no shortcuts) trains *worse* than a shallower one — "
    "not overfitting, its training loss is higher. With shortcuts the deeper net trains at least as well. "
    "Here the CIFAR ResNets of section 4.2, with and without their shortcuts, on the same task and batches, "
    "at their own 32×32 pictures."
))
columns = st.columns(4, vertical_alignment="bottom")
valid_choice("zi_shallow", PAPER_DEPTHS[:-1], DEFAULT_SHALLOW)
shallow = columns[0].selectbox(_("Shallow depth"), PAPER_DEPTHS[:-1], key="zi_shallow")
deeper = [depth for depth in PAPER_DEPTHS if depth > shallow]  # the deep net is deeper than the shallow one
valid_choice("zi_deep", deeper, DEFAULT_DEEP)
deep = columns[1].selectbox(_("Deep depth"), deeper, key="zi_deep")
models = degradation_models(cifar_resnet(shallow), cifar_resnet(deep))
degradation_costs = study_costs(models)
cifar_size = cifar_resnet(deep).natural_input_size
seed_settings("zi_deg", fitting_settings(degradation_costs, training_sizes(cifar_resnet(deep))), basis=(shallow, deep),
              fields=("steps", "batch"))
deg_steps = int(columns[2].number_input(_("Training steps"), 1, 2000, key="zi_deg_steps"))
deg_batch = int(columns[3].number_input(_("Batch size"), 2, 256, key="zi_deg_batch"))
# The studies' labels key class-shared results in English; the plain nets' are said in the reader's language.
plain_names = {PLAIN_LABEL.format(depth=d): _(PLAIN_LABEL).format(depth=d) for d in (shallow, deep)}
colours = series_colours([plain_names.get(label, label) for label in models])  # one colour per net in both charts
try:
    with st.spinner(_("One backward pass through {plain} and ResNet-{depth}…").format(
            plain=_(PLAIN_LABEL).format(depth=deep), depth=deep)):
        gradients = plain_vs_residual_gradients(cifar_resnet(deep), seed, deg_batch)
except DoesNotFit as error:
    st.error(str(error))
else:
    layer_names = [g.name for g in next(iter(gradients.values()))]
    st.plotly_chart(lines(layer_names, {plain_names.get(label, label): [g.norm for g in grads]
                                        for label, grads in gradients.items()},
                          _("Gradient norm per layer at initialisation, depth {depth} (log scale)").format(depth=deep),
                          "‖∇W‖", log=True, colours=colours),
                    key="zi_plain_gradients", width="stretch")
    st.caption(_(
        "Read from the right (the output) to the left (the input). In the plain net the gradient does not fade on "
        "its way down: each BatchNorm rescales it, and it grows toward the input (as BatchNorm makes it in a deep "
        "net without shortcuts at initialisation: Yang et al. 2019), with no shortcut to carry it past the layers. "
        "So the degradation is not vanishing gradients but an optimisation problem, which shows in the training "
        "loss below (at depths 20 and 56, plain-56 ends higher than plain-20)."))
degradation_run = TrainingRun.of(models, deg_steps, deg_batch, lr, seed, cifar_size)
run_training("zi_deg", degradation_run, _("Train the four networks"),
             _("plain vs residual at depths {shallow} and {deep}").format(shallow=shallow, deep=deep),
             estimate_text(degradation_costs, degradation_run) if degradation_costs else None, plain_names, colours)
