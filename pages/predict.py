"""Predict: classify images with ImageNet weights or your checkpoint, with Grad-CAM."""

from functools import partial

import streamlit as st

from explorer import charts, picker, ui
from explorer.images import ImageError, decode_image, image_digest, preprocess, sample_images
from explorer.predict import GradCamKey, PredictionKey, grad_cam, predict, stage_names
from explorer.weights import class_names_for, describe_spec, guess_spec, preprocessing_for

MEMO_ENTRIES = 256  # predictions and Grad-CAMs this session keeps

st.title("Predict")
choice = ui.sidebar_model()
if choice is None:
    st.info("Fix the model in the sidebar to make predictions.")
    st.stop()
if choice.spec.in_channels != 3:
    st.info(f"{choice.spec.name} takes {choice.spec.in_channels}-channel inputs; predictions on photos need an RGB model.")
    st.stop()

# ---- images ---------------------------------------------------------------------------
samples = sample_images()
left, right = st.columns(2)
chosen_samples = left.multiselect("Sample photos", list(samples), default=["chelsea", "coffee"], key="pr_samples")
uploads = right.file_uploader("…and/or your images", type=None, accept_multiple_files=True, key="pr_uploads",
                              help="Several at once; each is judged by its content, not its name.")
images = [(name, decode_image(samples[name].read_bytes())) for name in chosen_samples]
for upload in uploads or []:
    try:
        images.append((upload.name, decode_image(upload.getvalue())))
    except ImageError as error:
        st.error(f"{upload.name}: {error}")
compare = st.toggle("Compare models: the same images through two models", key="pr_compare")


def model_column(prefix: str, spec, input_size: int, box):
    """Weights for one model, then everything needed to classify with it; None if unusable."""
    source, checkpoint = ui.weights_picker(prefix, spec, box)
    names_file = None
    if source.kind == "checkpoint":
        names_file = box.file_uploader("Class names (text, one per line)", type=None, key=f"{prefix}_names")
    with box:
        loaded = ui.cached_model(spec, source, checkpoint)
    if loaded is None:
        guess = guess_spec(checkpoint.state_dict) if checkpoint is not None else None
        if guess is not None and prefix == "pr":
            if box.button(f"Use {describe_spec(guess)}", key=f"{prefix}_use_guess"):
                picker.choose_model("model", guess)
                st.rerun()
        return None
    source = loaded.source
    classes = class_names_for(spec, source, checkpoint, names_file.getvalue() if names_file is not None else None)
    for problem in classes.skipped:
        box.error(f"{problem} Using {classes.origin} instead.")
    return loaded.model, source, classes.names, preprocessing_for(spec, source, input_size)


models = [("pr", choice.spec, choice.input_size)]
columns = st.columns(2) if compare else [st.container()]
if compare:
    second = picker.model_picker("pr_b", "resnet18", columns[1], "Second model", with_input_size=False)
    if second is None:
        st.stop()
    columns[0].markdown(f"**{choice.spec.name}** (sidebar)")
    models.append(("pr_b", second.spec, choice.input_size))
setups = [model_column(prefix, spec, size, column) for (prefix, spec, size), column in zip(models, columns)]
if any(setup is None for setup in setups):
    st.stop()

if not images:
    st.info("Choose a sample photo or upload an image.")
    st.stop()

stages = stage_names(choice.spec)
stage = st.selectbox("Grad-CAM from stage", stages, index=len(stages) - 1, key="pr_stage",
                     help="Later stages: coarser maps, more semantic; earlier: finer, more about edges.")

# ---- one row per image ----------------------------------------------------------------
# Predictions and Grad-CAMs are remembered for this session, so a widget change does not redo every image.
for number, (name, decoded) in enumerate(images):
    st.divider()
    st.markdown(f"**{name}** · {decoded.format}, {decoded.size[0]}×{decoded.size[1]}")
    row = st.columns(len(setups))
    digest = image_digest(decoded.image)
    for (prefix, spec, _size), (model, source, names, settings), cell in zip(models, setups, row):
        steps = preprocess(decoded.image, settings)
        key = PredictionKey(spec, source, settings, names, digest)
        (prediction,) = ui.remembered("pr_memo", key, partial(predict, model, steps.tensor, names, topk=5), MEMO_ENTRIES)
        picture, chart = cell.columns([2, 3])
        cell_stage = stage if stage in stage_names(spec) else None
        target = picture.selectbox("Grad-CAM class", range(len(prediction.labels)), key=f"{prefix}_{number}_cam",
                                   format_func=lambda i, p=prediction: f"{p.labels[i]} ({p.probabilities[i]:.1%})")
        class_index = prediction.indices[target]
        cam = ui.remembered("pr_memo", GradCamKey(key, class_index, cell_stage),
                            partial(grad_cam, model, spec, steps.tensor, class_index, cell_stage), MEMO_ENTRIES)
        picture.image(charts.overlay(steps.cropped, cam, alpha=0.45), width="stretch",
                      caption=f"Grad-CAM for “{prediction.labels[target]}” from {cell_stage or 'the last stage'}")
        chart.plotly_chart(charts.topk_bars(prediction.labels, prediction.probabilities,
                                            f"{spec.name}: top-5 ({source.short_label})"),
                           key=f"{prefix}_{number}_bars", width="stretch")
        chart.caption(f"{prediction.milliseconds:.1f} ms on {prediction.device}")
