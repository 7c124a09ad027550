"""zero_init_residual and the degradation problem: see it, measure it, train it."""

import secrets

import pandas as pd
import streamlit as st

from explorer import charts, ui
from explorer.degradation import DEFAULT_DEEP, DEFAULT_SHALLOW, PAPER_DEPTHS, degradation_models
from explorer.devices import DoesNotFit
from explorer.presets import cifar_resnet
from explorer.shapes_task import task_classes
from explorer.shared_results import RunStopped
from explorer.spec import Shortcut
from explorer.training import SUMMARY_WINDOW, TrainingRun, curves_bytes, summarize
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


@st.fragment
def run_training(key: str, specs: dict, button_label: str, title: str, settings: tuple[int, int, float, int, int]) -> None:
    """Train ``specs`` once for the whole class: a session that asks while the run computes
    follows the same run; a finished run is shown to everyone who picks the same settings.

    A fragment: pressing Train or Stop reruns only this part of the page.
    """
    if st.session_state.get("zi_seed") != settings[3]:  # the re-run button drew a new seed: redraw it all
        st.rerun()
    request = TrainingRun.of(specs, *settings)
    store, following = ui.class_results(), f"{key}_following"
    start_col, stop_col, again_col = st.columns([3, 1, 2])
    if start_col.button(button_label, key=f"{key}_train", type="primary") or st.session_state.pop(f"{key}_again", False):
        st.session_state[following] = request
    stop_col.button("Stop", key=f"{key}_stop", on_click=ui.stop_following, args=(following,),
                    help="Stops your waiting; the run stops when nobody in the class waits for it any more.")
    again_col.button("Re-run with a new seed", key=f"{key}_reseed", on_click=new_seed, args=(key,),
                     help="Everyone with the same settings shares one run; a new seed gives a run of your own.")
    if st.session_state.get(following) == request:
        try:  # a rerun of this page interrupts the wait; it rejoins the same run on its next run
            ui.follow_shared(store, request, lambda run: request.train(run.report), curves_bytes,
                             "Waiting for the run…", slot=f"{following}_run")
        except (DoesNotFit, RunStopped) as error:
            st.error(str(error))
        st.session_state.pop(following, None)
    finished = store.finished(request)
    stopped_key, stopped_curves = st.session_state.get(f"{following}_stopped", (None, None))
    if finished is not None:
        curves = finished.value
        st.caption(f"Training curves {ui.computed_ago(finished)}: everyone with these settings sees this run.")
    elif stopped_key == request:
        curves = stopped_curves
        st.warning("Stopped early: the curves show the steps that ran.")
    else:
        return
    histories = {label: h for label, h in curves.items() if h}
    st.plotly_chart(charts.training_curves(histories, title), key=f"{key}_curves", width="stretch")
    summaries = [summarize(label, history) for label, history in histories.items()]
    st.caption(f"Mean loss over the first {SUMMARY_WINDOW} steps: "
               + ", ".join(f"{s.label} {s.early_loss:.3f}" for s in summaries))


def new_seed(key: str) -> None:
    """The re-run button's callback: a fresh seed (not from torch's RNG), and start at once."""
    st.session_state["zi_seed"] = secrets.randbelow(2**31 - 1)
    st.session_state[f"{key}_again"] = True


st.subheader("Training the twins")
run_training("zi", twins(spec), "Train both twins", f"{spec.name}: the same seed and batches, with and without the flag",
             (steps, batch, lr, seed, size))

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
run_training("deg", models, "Train the four networks", f"plain vs residual at depths {shallow} and {deep}",
             (steps, batch, lr, seed, size))
