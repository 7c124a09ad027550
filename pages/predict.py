"""Predict: classify images with ImageNet weights or your checkpoint, with Grad-CAM.

The results are an `st.fragment`, and each image's row a fragment inside it: the Grad-CAM
stage reruns the results, an image's Grad-CAM class only that row; neither reruns the
uploads or the models. Predictions and Grad-CAMs are remembered for this session.
"""

from functools import partial

import streamlit as st

from explorer import (
    N_, DoesNotFit, GradCamKey, ImageError, PredictionKey, _, grad_cam, overlay, predict, preprocess, sample_images,
    topk_bars,
)
from explorer.ui import picker
from explorer.ui.choices import valid_choice
from explorer.ui.classifiers import classifier_column
from explorer.ui.classroom import page_fragment
from explorer.ui.inputs import file_upload, picked_image
from explorer.ui.models import weights_notice
from explorer.ui.picker import sidebar_model
from explorer.ui.session_memo import remembered
from explorer.ui.text import inert, inert_error

MEMO_ENTRIES = 256  # predictions and Grad-CAMs this session keeps


@page_fragment
def results(rows, models, setups) -> None:
    """The Grad-CAM stage and one row per image."""
    stages = models[0][1].stage_names
    valid_choice("pr_stage", stages, stages[-1])
    stage = st.selectbox(_("Grad-CAM from stage"), stages, key="pr_stage",
                         help=_("Later stages: coarser maps, more semantic; earlier: finer, more about edges."))
    for number, (title, digest, inputs) in enumerate(rows):
        image_row(number, title, digest, inputs, stage, models, setups)


@page_fragment
def image_row(number: int, title: str, digest: str, inputs, stage: str, models, setups) -> None:
    """One image through every model: top-5 and Grad-CAM; ``inputs`` holds (tensor, cropped picture) per model."""
    st.divider()
    st.markdown(title)
    row = st.columns(len(setups))
    for (prefix, *_rest), setup, (tensor, cropped), cell in zip(models, setups, inputs, row):
        spec, model, source, names, settings = setup.spec, setup.model, setup.source, setup.names, setup.settings
        key = PredictionKey(spec, source, settings, names, digest)
        try:
            (prediction,) = remembered("pr_memo", key, partial(predict, model, spec, tensor, names, topk=5),
                                       MEMO_ENTRIES)
        except DoesNotFit as error:  # refused before the forward: this picture at this size needs too much
            cell.error(str(error))
            continue
        picture, chart = cell.columns([2, 3])
        cell_stage = stage if stage in spec.stage_names else None
        # By rank: the class a rank names, and its label, change with the prediction.
        ranks = {rank: f"{name} ({p:.1%})" for rank, (name, p) in enumerate(zip(prediction.labels, prediction.probabilities))}
        valid_choice(f"{prefix}_{number}_cam", ranks, label=ranks.get)
        target = picture.selectbox(_("Grad-CAM class"), list(ranks), key=f"{prefix}_{number}_cam", format_func=ranks.get)
        class_index = prediction.indices[target]
        label = prediction.labels[target]
        try:
            cam = remembered("pr_memo", GradCamKey(key, class_index, cell_stage),
                             partial(grad_cam, model, spec, tensor, class_index, cell_stage), MEMO_ENTRIES)
        except DoesNotFit as error:
            picture.error(str(error))
        else:
            caption = (_("Grad-CAM for “{label}” from {stage}").format(label=inert(label), stage=cell_stage)
                       if cell_stage else _("Grad-CAM for “{label}” from the last stage").format(label=inert(label)))
            if source.untrained:
                caption = _("{caption} — **untrained** network: this map means nothing").format(caption=caption)
            picture.image(overlay(cropped, cam, alpha=0.45, greyed=source.untrained), width="stretch", caption=caption)
        title = _("{model} · top-5 · {weights}").format(model=spec.name, weights=source.short_label)
        chart.plotly_chart(topk_bars(prediction.labels, prediction.probabilities, title, source.untrained),
                           key=f"{prefix}_{number}_bars", width="stretch")
        chart.caption(_("{milliseconds:.1f} ms on {device}").format(milliseconds=prediction.milliseconds,
                                                                     device=prediction.device))


st.title(_("Predict"))
notice = st.container()  # weights that could not be had, said once for the page
choice = sidebar_model()
if choice is None:
    st.info(_("Fix the model in the sidebar to make predictions."))
    st.stop()
if choice.spec.in_channels != 3:
    st.info(_("{model} takes {channels}-channel inputs; predictions on photos need an RGB model.").format(
        model=choice.spec.name, channels=choice.spec.in_channels))
    st.stop()

# ---- images ---------------------------------------------------------------------------
samples = sample_images()
left, right = st.columns(2)
chosen_samples = left.multiselect(_("Sample photos"), list(samples), default=["chelsea", "coffee"], key="pr_samples")
uploads = file_upload(right, _("…and/or your images"), "pr_uploads", multiple=True,
                      help=_("Several at once; each is judged by its content, not its name."))
problems = st.container()  # pictures that cannot be read are reported here
compare = st.toggle(_("Compare models: the same images through two models"), key="pr_compare")


models = [("pr", choice.spec, choice.input_size)]
columns = st.columns(2) if compare else [st.container()]
if compare:
    second = picker.model_picker("pr_model_b", "resnet18", columns[1], N_("Second model"), with_input_size=False,
                                 url_param="pr_b")
    if second is None:
        st.stop()
    columns[0].markdown(_("**{model}** (sidebar)").format(model=choice.spec.name))
    models.append(("pr_b", second.spec, choice.input_size))
GUESS_PICKERS = {"pr": "model"}  # a misfit checkpoint of the sidebar's model can switch that picker to its guess
setups = [classifier_column(prefix, spec, size, column, GUESS_PICKERS.get(prefix))
          for (prefix, spec, size), column in zip(models, columns)]
weights_notice(setups, notice)  # one banner for both models, under the title
if any(setup is None for setup in setups):
    st.stop()


def picture_row(name: str, data: bytes) -> tuple[str, str, list] | None:
    """One picture's row title, fingerprint and, per model, (normalized tensor, cropped picture);
    None after an st.error.

    Only these leave the function: the rows are fragments, which keep their arguments (and this
    page's variables) until the page runs again, so no decoded original stays in memory.
    """
    try:
        picked = picked_image(name, data)
        steps = [preprocess(picked.decoded.image, setup.settings) for setup in setups]
    except ImageError as error:  # unreadable, or too many pixels once resized to the input size
        problems.error(_("{file}: {error}").format(file=inert(name), error=inert_error(error)))
        return None
    return (f"**{inert(name)}** · {picked.decoded.format}, {picked.decoded.size[0]}×{picked.decoded.size[1]}", picked.digest,
            [(s.tensor, s.cropped) for s in steps])


rows = [picture_row(name, samples[name].read_bytes()) for name in chosen_samples]
rows += [picture_row(upload.name, upload.getvalue()) for upload in uploads or []]
rows = [row for row in rows if row is not None]
if not rows:
    st.info(_("Choose a sample photo or upload an image."))
    st.stop()
results(rows, models, setups)
