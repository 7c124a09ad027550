"""Predict: classify images with ImageNet weights or your checkpoint, with Grad-CAM."""

import hashlib
import re

import streamlit as st

from explorer import charts, ui
from explorer.images import ImageError, decode_image, preprocess, sample_images
from explorer.predict import grad_cam, predict
from explorer.spec_token import spec_to_token
from explorer.weights import class_names_for, class_names_from_text, describe_spec, guess_spec, preprocessing_for

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
                ui.choose_model("model", guess)
                st.rerun()
        return None
    source = loaded.source
    names = class_names_for(spec, source, checkpoint)
    if names_file is not None and source.kind != "imagenet":
        lines = class_names_from_text(names_file.getvalue().decode("utf-8", "replace"))
        if len(lines) == spec.num_classes:
            names = lines
        else:
            box.error(f"{names_file.name} has {len(lines)} names for {spec.num_classes} classes; using the defaults.")
    return loaded.model, source, names, preprocessing_for(spec, source, input_size)


models = [("pr", choice.spec, choice.input_size)]
columns = st.columns(2) if compare else [st.container()]
if compare:
    second = ui.model_picker("pr_b", "resnet18", columns[1], "Second model", with_input_size=False)
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

stages = [f"layer{i + 1}" for i in range(len(choice.spec.stages))]
stage = st.selectbox("Grad-CAM from stage", stages, index=len(stages) - 1, key="pr_stage",
                     help="Later stages: coarser maps, more semantic; earlier: finer, more about edges.")

# ---- one row per image ----------------------------------------------------------------
# Predictions and Grad-CAMs of this session, so a widget change does not redo every image.
memo: dict = st.session_state.setdefault("pr_memo", {})
if len(memo) > 256:
    memo.clear()
for number, (name, decoded) in enumerate(images):
    st.divider()
    st.markdown(f"**{name}** · {decoded.format}, {decoded.size[0]}×{decoded.size[1]}")
    row = st.columns(len(setups))
    image_key = hashlib.sha1(decoded.image.tobytes()).hexdigest()
    for (prefix, spec, _size), (model, source, names, settings), cell in zip(models, setups, row):
        model_key = (spec_to_token(spec), source, settings, names, image_key)
        steps = preprocess(decoded.image, settings)
        if model_key not in memo:
            memo[model_key] = predict(model, steps.tensor, names, topk=5)[0]
        prediction = memo[model_key]
        safe = re.sub(r"\W+", "_", f"{prefix}_{number}")
        picture, chart = cell.columns([2, 3])
        cell_stage = stage if stage in [f"layer{i + 1}" for i in range(len(spec.stages))] else None
        target = picture.selectbox("Grad-CAM class", range(len(prediction.labels)), key=f"{safe}_cam",
                                   format_func=lambda i, p=prediction: f"{p.labels[i]} ({p.probabilities[i]:.1%})")
        cam_key = (*model_key, prediction.indices[target], cell_stage)
        if cam_key not in memo:
            memo[cam_key] = grad_cam(model, spec, steps.tensor, prediction.indices[target], cell_stage)
        picture.image(charts.overlay(steps.cropped, memo[cam_key], alpha=0.45), width="stretch",
                      caption=f"Grad-CAM for “{prediction.labels[target]}” from {cell_stage or 'the last stage'}")
        chart.plotly_chart(charts.topk_bars(prediction.labels, prediction.probabilities,
                                            f"{spec.name}: top-5 ({source.label.split(' —')[0]})"),
                           key=f"{safe}_bars", width="stretch")
        chart.caption(f"{prediction.milliseconds:.1f} ms on {prediction.device}")
