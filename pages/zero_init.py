"""zero_init_residual and the degradation problem: see it, measure it, train it."""

import math

import streamlit as st

from explorer import (
    DEFAULT_DEEP, DEFAULT_SHALLOW, FLAG_OFF, FLAG_ON, PAPER_DEPTHS, PLAIN_LABEL, DoesNotFit,
    Shortcut, TrainingRun, _, cifar_resnet, degradation_models, identity_rows, lines, summary_text, task_classes,
    training_curves, twins,
)
from explorer.ui.models import init_study, plain_vs_residual_gradients
from explorer.ui.picker import sidebar_model
from explorer.ui.tables import display_frame
from explorer.ui.training_runs import training_section

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

c = st.columns(5)
batch = int(c[0].number_input(_("Batch size"), 2, 256, 32, key="zi_batch"))
steps = int(c[1].number_input(_("Training steps"), 1, 2000, 60, key="zi_steps"))
lr = float(c[2].number_input(_("Learning rate"), 0.0001, 1.0, 0.02, step=0.005, format="%.4f", key="zi_lr"))
seed = int(c[3].number_input(_("Seed"), 0, 2**31 - 1, 0, key="zi_seed"))
size = int(c[4].number_input(_("Input size (px)"), spec.output_stride, 512, min(spec.natural_input_size, 64), step=8,
                             key="zi_size", help=_("Small inputs keep the study fast on a CPU; the model is the sidebar's.")))
classes = task_classes(spec.num_classes)
st.caption(_("Data: shapes drawn in code ({classes}; random colours), preprocessed at {size}×{size}. "
             "Model: **{model}**, trained with SGD + momentum. A {count}-class head replaces its {outputs}-way fc "
             "for this task, so the loss starts near ln {count} ≈ {start:.2f}.").format(
    classes=_(", ").join(_(shape) for shape in classes), size=size, model=spec.name, count=len(classes),
    outputs=spec.num_classes, start=math.log(len(classes))))


try:
    with st.spinner(_("Building both twins from one seed and measuring them at initialisation…")):
        study = init_study(spec, seed, batch, size)
except (DoesNotFit, ValueError) as error:
    st.error(str(error))
    st.stop()
names = [s.name for s in study.on]
st.subheader(_("At initialisation"))
left, right = st.columns(2)
left.plotly_chart(lines(names, {FLAG_ON: [s.branch_ratio for s in study.on],
                                       FLAG_OFF: [s.branch_ratio for s in study.off]},
                               _("Branch vs shortcut: ‖F(x)‖ / ‖shortcut(x)‖ per block"), _("ratio")),
                  key="zi_ratio", width="stretch")
right.plotly_chart(lines(names, {_("variance, flag on"): [s.variance for s in study.on],
                                        _("variance, flag off"): [s.variance for s in study.off],
                                        _("mean², flag on"): [s.mean_square for s in study.on],
                                        _("mean², flag off"): [s.mean_square for s in study.off]},
                                _("Signal propagation: block outputs (channel variance and squared mean)"), _("value"),
                                log=True),
                   key="zi_signal", width="stretch")
layers = [g.name for g in study.gradients_on]
st.plotly_chart(lines(layers, {FLAG_ON: [g.norm for g in study.gradients_on],
                                      FLAG_OFF: [g.norm for g in study.gradients_off]},
                             _("Gradient norm per layer after one backward pass (log scale)"), "‖∇W‖", log=True),
                key="zi_gradients", width="stretch")
zeros = sum(g.norm == 0 for g in study.gradients_on)
st.caption(_("With the flag on, {zeros} of {layers} layers get exactly zero gradient at step 0 (not drawn on the "
             "log axis): a branch whose last γ is 0 does not yet depend on its earlier convs; the zeroed γ does get a "
             "gradient, and the first step wakes the branch up.").format(zeros=zeros, layers=len(layers)))
identity = identity_rows(study)
st.dataframe(display_frame(identity, list(identity[0])), hide_index=True, width="stretch")


@st.fragment
def run_training(key: str, specs: dict, button_label: str, title: str, settings: tuple[int, int, float, int, int],
                 shown_names: dict[str, str] | None = None) -> None:
    """Train ``specs`` once for the whole class (`training_section`) and draw the curves. The run is
    keyed by the specs' English labels; ``shown_names`` says some of them in the reader's
    language on the chart and in the summary. A fragment: pressing Train or Stop reruns only
    this part of the page.
    """
    curves = training_section(key, TrainingRun.of(specs, *settings), button_label, seed_key="zi_seed")
    if curves is None:
        return
    shown_names = shown_names or {}
    histories = {shown_names.get(label, label): h for label, h in curves.items() if h}
    st.plotly_chart(training_curves(histories, title), key=f"{key}_curves", width="stretch")
    st.caption(summary_text(histories))


st.subheader(_("Training the twins"))
run_training("zi", twins(spec), _("Train both twins"),
             _("{model}: the same seed and batches, with and without the flag").format(model=spec.name),
             (steps, batch, lr, seed, size))

st.subheader(_("The degradation problem: plain vs residual"))
st.markdown(_(
    "He et al. (2016) found that a deeper **plain** network (no shortcuts) trains *worse* than a shallower one — "
    "not overfitting, its training loss is higher. With shortcuts the deeper net trains at least as well. "
    "Here the CIFAR ResNets of section 4.2, with and without their shortcuts, on the same task and batches."
))
d1, d2 = st.columns(2)
shallow = d1.selectbox(_("Shallow depth"), PAPER_DEPTHS, index=PAPER_DEPTHS.index(DEFAULT_SHALLOW), key="zi_shallow")
deep = d2.selectbox(_("Deep depth"), PAPER_DEPTHS, index=PAPER_DEPTHS.index(DEFAULT_DEEP), key="zi_deep")
models = degradation_models(cifar_resnet(shallow), cifar_resnet(deep))
# The studies' labels key class-shared results in English; the plain nets' are said in the reader's language.
plain_names = {PLAIN_LABEL.format(depth=d): _(PLAIN_LABEL).format(depth=d) for d in (shallow, deep)}
try:
    with st.spinner(_("One backward pass through {plain} and ResNet-{depth}…").format(
            plain=_(PLAIN_LABEL).format(depth=deep), depth=deep)):
        gradients = plain_vs_residual_gradients(cifar_resnet(deep), seed, batch)
except DoesNotFit as error:
    st.error(str(error))
else:
    layer_names = [g.name for g in next(iter(gradients.values()))]
    st.plotly_chart(lines(layer_names, {plain_names.get(label, label): [g.norm for g in grads]
                                               for label, grads in gradients.items()},
                                 _("Gradient norm per layer at initialisation, depth {depth} (log scale)").format(depth=deep),
                                 "‖∇W‖", log=True),
                    key="zi_plain_gradients", width="stretch")
run_training("zi_deg", models, _("Train the four networks"),
             _("plain vs residual at depths {shallow} and {deep}").format(shallow=shallow, deep=deep),
             (steps, batch, lr, seed, size), plain_names)
