"""zero_init_residual, the degradation problem and pre-activation: see them, measure them, train them."""

import math

import streamlit as st

from explorer import (
    DEFAULT_DEEP, DEFAULT_PREACT_DEPTH, DEFAULT_SHALLOW, POST_LABEL, PRE_LABEL, PREACT_DEPTHS, activation_twins,
    aligned_gradients, gradient_text, preact_spec, signal_series, signal_styles, signal_text, FLAG_OFF, FLAG_ON, INIT_BATCH, PAPER_DEPTHS, PLAIN_LABEL, DoesNotFit, Shortcut,
    TrainingRun, _, cifar_resnet, degradation_models, estimate_text, fitting_settings, identity_rows, lines,
    series_colours, silenced_gradients_text, summary_text, task_classes, training_curves, training_sizes, twins,
    zero_init_targets, zero_target_text,
)
from explorer.ui.choices import clamped_number, valid_choice
from explorer.ui.classroom import page_fragment
from explorer.ui.models import init_study, plain_vs_residual_gradients, post_vs_pre_activation, study_costs
from explorer.ui.picker import sidebar_model
from explorer.ui.tables import display_frame
from explorer.ui.training_runs import seed_settings, training_section

st.title(_("zero_init_residual"))
st.markdown(_(
    "A residual block outputs relu(x + F(x)), where the branch F ends with a BatchNorm. "
    "`zero_init_residual=True` starts that last BN with γ = 0, so F(x) = β = 0 and every block without a "
    "projection is **exactly the identity** at step 0: a 50-layer net starts as a shallow one and grows into "
    "its depth (Goyal et al. 2017; He et al. 2019, *Bag of Tricks*). A pre-activation block (ResNet v2) outputs "
    "x + F(x) and its branch ends in a conv: there the flag zeroes that conv's weight, as timm's `zero_init_last` "
    "does. Below: the same network built twice from one seed, with and without the flag — at initialisation, "
    "then trained on the same batches."
))
choice = sidebar_model()
if choice is None:
    st.info(_("Fix the model in the sidebar to study it."))
    st.stop()
spec = choice.spec.with_changes(zero_init_residual=False)
if spec.shortcut is Shortcut.NONE:
    st.info(_("This is a plain network: it has no residual branches to zero. Pick a ResNet in the sidebar."))
    st.stop()
st.markdown(_("In **{model}** the flag zeroes:").format(model=spec.name) + "\n" + "\n".join(
    f"- {zero_target_text(target)}" for target in zero_init_targets(spec)))

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
st.caption(silenced_gradients_text(spec, study, INIT_BATCH))
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


@page_fragment
def preactivation_study(seed: int, lr: float) -> None:
    """He et al. 2016b: post- against pre-activation blocks at one CIFAR depth, at initialisation and
    trained. A fragment inside an expander, computed only while it is open (two deep nets' passes and
    timed steps would otherwise slow every visit); a change of its depth or settings reruns only this part."""
    expander = st.expander(_("Post- against pre-activation: signal and gradient through depth, and training"),
                           key="zi_pre_open", on_change="rerun")
    if not expander.open:
        return
    with expander:
        columns = st.columns(3, vertical_alignment="bottom")
        valid_choice("zi_pre_depth", PREACT_DEPTHS, DEFAULT_PREACT_DEPTH)
        depth = columns[0].selectbox(_("Depth"), PREACT_DEPTHS, key="zi_pre_depth",
                                     help=_("Basic blocks up to 110 layers, bottlenecks at 164 and 1001, as in the "
                                            "paper."))
        spec = preact_spec(depth)
        models = activation_twins(spec)
        costs = study_costs(models)
        seed_settings("zi_pre", fitting_settings(costs, training_sizes(spec)), basis=depth, fields=("steps", "batch"))
        pre_steps = int(columns[1].number_input(_("Training steps"), 1, 2000, key="zi_pre_steps"))
        pre_batch = int(columns[2].number_input(_("Batch size"), 2, 256, key="zi_pre_batch"))
        shown = {POST_LABEL.format(depth=depth): _(POST_LABEL).format(depth=depth),
                 PRE_LABEL.format(depth=depth): _(PRE_LABEL).format(depth=depth)}
        colours = series_colours(list(shown.values()))  # one colour per net in the gradient and training charts
        try:
            with st.spinner(_("One forward and backward pass through both versions of {model}…").format(
                    model=spec.name)):
                study = post_vs_pre_activation(spec, seed, pre_batch)
        except DoesNotFit as error:
            st.error(str(error))
        else:
            blocks = [b.name for b in next(iter(study.signals.values()))]
            title = _("Signal through depth: mean square per block at initialisation (log scale)")
            signal_colours, signal_dashes = signal_styles(colours)
            st.plotly_chart(lines(blocks, signal_series(study.signals, shown), title, _("mean square"), log=True,
                                  colours=signal_colours, dashes=signal_dashes),
                            key="zi_pre_signal", width="stretch")
            st.caption(signal_text(study.signals, shown))
            layer_names, norms = aligned_gradients(study.gradients)
            st.plotly_chart(lines(layer_names, {shown[label]: values for label, values in norms.items()},
                                  _("Gradient norm per layer at initialisation, depth {depth} (log scale)").format(
                                      depth=depth), "‖∇W‖", log=True, colours=colours),
                            key="zi_pre_gradients", width="stretch")
            st.caption(gradient_text(study.gradients, shown))
        run = TrainingRun.of(models, pre_steps, pre_batch, lr, seed, spec.natural_input_size)
        run_training("zi_pre", run, _("Train both networks"),
                     _("post- vs pre-activation at depth {depth}").format(depth=depth),
                     estimate_text(costs, run) if costs else None, shown, colours)


st.subheader(_("Pre-activation: the block of ResNet v2"))
st.markdown(_(
    "He et al. (2016b, *Identity Mappings in Deep Residual Networks*) moved each block's BatchNorm and ReLU "
    "before its convs. The 2015 block (**post-activation**) outputs relu(x + F(x)); the **pre-activation** block "
    "outputs x + F(x), with nothing after the add, so within a stage the identity path carries x unchanged to "
    "every later block, and the gradient at a later block reaches an earlier one unchanged through that path, plus "
    "what the branches add. Here both versions of a "
    "CIFAR net, built from one seed (they differ only in where BN and ReLU sit), at initialisation on one batch, "
    "then trained on the same batches at 32×32 pictures."
))
preactivation_study(seed, lr)
