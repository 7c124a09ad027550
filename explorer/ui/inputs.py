"""The image and weights pickers (Feature maps, Compare, Predict): uploads are parsed once per session."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer.data.images import DecodedImage, ImageError, decode_image, image_digest, sample_images
from explorer.model.spec import ResNetSpec
from explorer.model.presets import TIMM_PRESETS
from explorer.model.checkpoint import Checkpoint, read_checkpoint
from explorer.model.fitting import fit_head
from explorer.model.pretrained import available_weights, default_weights
from explorer.model.sources import ModelSource, SourceKind, weights_source
from explorer.runtime.i18n import N_, _
from explorer.ui.choices import uploader_drawn, valid_choice
from explorer.ui.session_memo import remembered
from explorer.ui.text import inert, inert_error


# Streamlit's drop zone says "200MB per file" (and, while a file is dragged over it, "Drag and drop
# files here") in English only: st.file_uploader takes no text for it (streamlit/streamlit#13500,
# open). The size line has its own test id; it is hidden in our uploaders, each by its key's class,
# and `file_upload`'s caption says the same in the reader's language. The button's "Upload" stays:
# it has no test id of its own, and its upload icon says what it does.
_HIDE_SIZE_LINE = '<style>.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] {{display: none}}</style>'


def file_upload(box, label: str, key: str, help: str | None = None, multiple: bool = False):
    """``box.file_uploader`` (every file name accepted: uploads are judged by content) with its
    instructions in the reader's language: a caption with the server's real size limit
    (``server.maxUploadSize``) in place of Streamlit's English one."""
    box.html(_HIDE_SIZE_LINE.format(key=key))  # style only: it takes no room on the page
    uploader_drawn(key)
    upload = box.file_uploader(label, type=None, key=key, help=help, accept_multiple_files=multiple)
    limit = st.get_option("server.maxUploadSize")
    box.caption((_("Drop files on the box or click its button; up to {size} MB per file.") if multiple else
                 _("Drop a file on the box or click its button; up to {size} MB.")).format(size=limit))
    return upload


@dataclass(frozen=True)
class PickedImage:
    """A decoded picture, where it came from (a sample name or the upload's name) and its fingerprint."""

    name: str
    decoded: DecodedImage
    digest: str  # `images.image_digest` of the decoded picture, for memo and cache keys
    sample: bool  # one of the shipped samples (results may be shared), not an upload (private)


def picked_image(name: str, data: bytes, sample: bool = False) -> PickedImage:
    """Decode ``data`` (`decode_image`, raising `ImageError`) and fingerprint the picture."""
    decoded = decode_image(data)
    return PickedImage(name, decoded, image_digest(decoded.image), sample)


def image_picker(prefix: str, box=None) -> PickedImage | None:
    """A shipped sample or an upload, decoded safely; None after a clear st.error.

    A picture is decoded and fingerprinted once per session (uploads by their upload id), not
    on every rerun of the page.
    """
    box = box if box is not None else st
    samples = sample_images()
    # Labels made now, in this run's language: AppTest calls format_func outside the script's thread.
    source_labels = {source: _(source) for source in (N_("sample"), N_("upload"))}
    valid_choice(f"{prefix}_image_source", list(source_labels), label=source_labels.get)
    source = box.radio(_("Image"), list(source_labels), key=f"{prefix}_image_source", horizontal=True,
                       format_func=source_labels.get)
    if source == "sample":
        name = box.selectbox(_("Sample photo"), list(samples), key=f"{prefix}_sample",
                             help=_("Public-domain / CC0 photos, see assets/samples/LICENSES.md."))
        return remembered(f"{prefix}_picked", ("sample", name), lambda: picked_image(name, samples[name].read_bytes(), sample=True))
    # type=None: st.file_uploader judges only the name and raises on one it does not list;
    # decode_image judges the content and explains, so every name is accepted here.
    upload = file_upload(box, _("Upload an image"), f"{prefix}_upload",
                         help=_("JPEG, PNG, WebP, BMP, GIF, TIFF…; judged by its content, not its name."))
    if upload is None:
        box.info(_("Choose an image file, or switch back to a sample."))
        return None
    try:
        return remembered(f"{prefix}_picked", ("upload", upload.file_id),
                          lambda: picked_image(upload.name, upload.getvalue()))
    except ImageError as error:
        box.error(_("{file}: {error}").format(file=inert(upload.name), error=inert_error(error)))
        return None


def weights_picker(prefix: str, spec: ResNetSpec, box=None) -> tuple[ResNetSpec, ModelSource, Checkpoint | None]:
    """Random (seeded), torchvision ImageNet weights, or an uploaded checkpoint, and the spec they load into.

    The spec is ``spec`` unless a checkpoint fits it with another number of classes: then
    its fc takes the checkpoint's classes (`fit_head`), as fine-tuning code does, and the
    picker says so. An upload is read (`read_checkpoint`: torch.load and its sha256) once per
    session, by its upload id, not on every rerun.
    """
    box = box if box is not None else st
    options = available_weights(spec)
    kinds = [SourceKind.RANDOM, *([SourceKind.IMAGENET] if options else []), SourceKind.CHECKPOINT]
    labels = {SourceKind.RANDOM: N_("random init (seeded)"), SourceKind.IMAGENET: N_("ImageNet (torchvision)"),
              SourceKind.CHECKPOINT: N_("my checkpoint")}
    values = [k.value for k in kinds]  # the widget holds plain text
    kind_labels = {k.value: _(labels[k]) for k in kinds}  # made now: AppTest formats outside the script's thread
    valid_choice(f"{prefix}_weights_kind", values, (SourceKind.IMAGENET if options else SourceKind.RANDOM).value,
                 label=kind_labels.get)
    kind = SourceKind(box.radio(_("Weights"), values, key=f"{prefix}_weights_kind", horizontal=True,
                                format_func=kind_labels.get))
    if kind is SourceKind.IMAGENET:
        names = {name: f"{name} (acc@1 {weights.meta['_metrics']['ImageNet-1K']['acc@1']}%)"
                 for name, weights in options.items()}
        valid_choice(f"{prefix}_weights_name", names, default_weights(spec), label=names.get)
        name = box.selectbox(_("ImageNet weights"), list(names), key=f"{prefix}_weights_name", format_func=names.get)
        return spec, weights_source(spec, name), None
    if kind is SourceKind.CHECKPOINT:
        if spec.preset in TIMM_PRESETS:  # trained weights exist, published by timm: say how to bring them
            box.caption(_("timm publishes trained weights for {name}. Where timm is installed: {command}; then "
                          "upload the file here (timm's tensor names are read as the explorer's).").format(
                name=spec.preset, command=f"`torch.save(timm.create_model('{spec.preset}', pretrained=True)"
                                          f".state_dict(), '{spec.preset}.pth')`"))
        upload = file_upload(box, _("Checkpoint (.pth / .pt / .safetensors)"), f"{prefix}_checkpoint",
                             help=_("A state dict, or a dict with model_state_dict / state_dict, read with "
                                    "weights_only=True; or a .safetensors file. Judged by its content, not its name."))
        if upload is not None:
            try:
                checkpoint = remembered(f"{prefix}_checkpoint_read", upload.file_id,
                                        lambda: read_checkpoint(upload.getvalue()))
                fitted, note = fit_head(spec, checkpoint)
                for said in (*checkpoint.notes, *([note] if note else [])):
                    box.info(said)
                return fitted, weights_source(fitted, checkpoint=checkpoint), checkpoint
            except ValueError as error:  # CheckpointError, and any refusal of a spec the checkpoint implies
                box.error(_("{file}: {error}").format(file=inert(upload.name), error=inert_error(error)))
        box.warning(_("No usable checkpoint yet: showing random weights."))
    seed = box.number_input(_("Seed"), min_value=0, max_value=2**31 - 1, value=0, step=1, key=f"{prefix}_seed")
    return spec, weights_source(spec, "random", seed=int(seed)), None
