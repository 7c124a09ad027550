"""zero_init_residual and the degradation problem: see it, measure it, train it."""

import pandas as pd
import streamlit as st

from explorer import charts, ui
from explorer.degradation import DEFAULT_DEEP, DEFAULT_SHALLOW, PAPER_DEPTHS, degradation_models
from explorer.devices import DoesNotFit
from explorer.presets import cifar_resnet
from explorer.shapes_task import task_classes
from explorer.spec import Shortcut
from explorer.spec_token import spec_to_token
from explorer.training import SUMMARY_WINDOW, summarize, train_models
from explorer.zero_init import twins

st.title("zero_init_residual")
st.markdown(
    "A residual block outputs relu(x + F(x)), where the branch F ends with a BatchNorm. "
    "`zero_init_residual=True` starts that last BN with γ = 0, so F(x) = β = 0 and every block without a "
    "projection is **exactly the identity** at step 0: a 50-layer net starts as a shallow one and grows into "
    "its depth (Goyal et al. 2017; He et al. 2019, *Bag of Tricks*). Below: the same network built twice from "
    "one seed, with and without the flag — at initialisation, then trained on the same batches."
)
choice = ui.sidebar_model()
if choice is None:
    st.info("Fix the model in the sidebar to study it.")
    st.stop()
spec = choice.spec.with_changes(zero_init_residual=False)
if spec.shortcut is Shortcut.NONE:
    st.info("This is a plain network: it has no residual branches to zero. Pick a ResNet in the sidebar.")
    st.stop()

c = st.columns(5)
batch = int(c[0].number_input("Batch size", 2, 256, 32, key="zi_batch"))
steps = int(c[1].number_input("Training steps", 1, 2000, 60, key="zi_steps"))
lr = float(c[2].number_input("Learning rate", 0.0001, 1.0, 0.02, step=0.005, format="%.4f", key="zi_lr"))
seed = int(c[3].number_input("Seed", 0, 2**31 - 1, 0, key="zi_seed"))
size = int(c[4].number_input("Input size (px)", spec.output_stride, 512, min(spec.natural_input_size, 64), step=8, key="zi_size",
                             help="Small inputs keep the study fast on a CPU; the model is the sidebar's."))
st.caption(f"Data: shapes drawn in code ({', '.join(task_classes(spec.num_classes))}; random colours), "
           f"preprocessed at {size}×{size}. Model: **{spec.name}**, trained with SGD + momentum.")


try:
    with st.spinner("Building both twins from one seed and measuring them at initialisation…"):
        study = ui.init_study(spec, seed, batch, size)
except (DoesNotFit, ValueError) as error:
    st.error(str(error))
    st.stop()
names = [s.name for s in study.on]
st.subheader("At initialisation")
left, right = st.columns(2)
left.plotly_chart(charts.lines(names, {"zero_init_residual=True": [s.branch_ratio for s in study.on],
                                       "zero_init_residual=False": [s.branch_ratio for s in study.off]},
                               "Branch vs shortcut: ‖F(x)‖ / ‖shortcut(x)‖ per block", "ratio"),
                  key="zi_ratio", width="stretch")
right.plotly_chart(charts.lines(names, {"variance, flag on": [s.variance for s in study.on],
                                        "variance, flag off": [s.variance for s in study.off],
                                        "mean², flag on": [s.mean_square for s in study.on],
                                        "mean², flag off": [s.mean_square for s in study.off]},
                                "Signal propagation: block outputs (channel variance and squared mean)", "value", log=True),
                   key="zi_signal", width="stretch")
layers = [g.name for g in study.gradients_on]
st.plotly_chart(charts.lines(layers, {"zero_init_residual=True": [g.norm for g in study.gradients_on],
                                      "zero_init_residual=False": [g.norm for g in study.gradients_off]},
                             "Gradient norm per layer after one backward pass (log scale)", "‖∇W‖", log=True),
                key="zi_gradients", width="stretch")
zeros = sum(g.norm == 0 for g in study.gradients_on)
st.caption(f"With the flag on, {zeros} of {len(layers)} layers get exactly zero gradient at step 0 (not drawn on the "
           "log axis): a branch whose last γ is 0 does not yet depend on its earlier convs; the zeroed γ does get a "
           "gradient, and the first step wakes the branch up.")
identity = pd.DataFrame([{
    "block": on.name, "projection shortcut": "yes" if on.projection else "",
    "identity, flag on": "✓ exactly" if on.identity else "✗", "identity, flag off": "✓ exactly" if off.identity else "✗",
    "‖F‖/‖x‖ flag on": round(on.branch_ratio, 4), "‖F‖/‖x‖ flag off": round(off.branch_ratio, 4),
} for on, off in zip(study.on, study.off)])
st.dataframe(identity, hide_index=True, width="stretch")


def run_training(key: str, specs: dict, button_label: str, title: str) -> None:
    """Train ``specs`` with a progress bar and a stop button; results kept per parameters."""
    params = (tuple((label, spec_to_token(s)) for label, s in specs.items()), steps, batch, lr, seed, size)
    results = st.session_state.setdefault(f"{key}_results", {})
    start_col, stop_col = st.columns([3, 1])
    start = start_col.button(button_label, key=f"{key}_train", type="primary")
    stop_col.button("Stop", key=f"{key}_stop", help="Stops after the current step and keeps the curves so far.")
    if start:
        partial: dict[str, list] = {label: [] for label in specs}
        results[params] = {"histories": partial, "done": False}
        bar = st.progress(0.0, text="Training…")
        total = steps * len(specs)

        def on_step(label: str, step) -> None:
            partial[label].append(step)
            done = sum(len(h) for h in partial.values())
            bar.progress(done / total, text=f"{label}: step {step.step + 1}/{steps}, loss {step.loss:.3f}")

        try:
            train_models(specs, steps, batch_size=batch, lr=lr, seed=seed, input_size=size, on_step=on_step)
            results[params]["done"] = True
        except DoesNotFit as error:
            results.pop(params)
            st.error(str(error))
        bar.empty()
    entry = results.get(params)
    if entry:
        histories = {label: h for label, h in entry["histories"].items() if h}
        if not entry["done"]:
            st.warning("Stopped early: the curves show the steps that ran.")
        st.plotly_chart(charts.training_curves(histories, title), key=f"{key}_curves", width="stretch")
        summaries = [summarize(label, history) for label, history in histories.items()]
        st.caption(f"Mean loss over the first {SUMMARY_WINDOW} steps: "
                   + ", ".join(f"{s.label} {s.early_loss:.3f}" for s in summaries))


st.subheader("Training the twins")
run_training("zi", twins(spec), "Train both twins", f"{spec.name}: the same seed and batches, with and without the flag")

st.subheader("The degradation problem: plain vs residual")
st.markdown(
    "He et al. (2016) found that a deeper **plain** network (no shortcuts) trains *worse* than a shallower one — "
    "not overfitting, its training loss is higher. With shortcuts the deeper net trains at least as well. "
    "Here the CIFAR ResNets of section 4.2, with and without their shortcuts, on the same task and batches."
)
d1, d2 = st.columns(2)
shallow = d1.selectbox("Shallow depth", PAPER_DEPTHS, index=PAPER_DEPTHS.index(DEFAULT_SHALLOW), key="zi_shallow")
deep = d2.selectbox("Deep depth", PAPER_DEPTHS, index=PAPER_DEPTHS.index(DEFAULT_DEEP), key="zi_deep")
models = degradation_models(cifar_resnet(shallow), cifar_resnet(deep))
try:
    with st.spinner(f"One backward pass through plain-{deep} and ResNet-{deep}…"):
        gradients = ui.plain_vs_residual_gradients(cifar_resnet(deep), seed, batch)
except DoesNotFit as error:
    st.error(str(error))
else:
    layer_names = [g.name for g in next(iter(gradients.values()))]
    st.plotly_chart(charts.lines(layer_names, {label: [g.norm for g in grads] for label, grads in gradients.items()},
                                 f"Gradient norm per layer at initialisation, depth {deep} (log scale)", "‖∇W‖", log=True),
                    key="zi_plain_gradients", width="stretch")
run_training("deg", models, "Train the four networks", f"plain vs residual at depths {shallow} and {deep}")
