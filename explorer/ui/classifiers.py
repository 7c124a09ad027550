"""One classifier of the Predict page: its weights picker, class names and loaded model."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer.data.images import Preprocessing
from explorer.model.spec import ResNetSpec
from explorer.model.fitting import describe_spec, guess_spec
from explorer.model.sources import ModelSource, SourceKind, class_names_for, preprocessing_for
from explorer.runtime.i18n import _
from explorer.ui import picker
from explorer.ui.inputs import file_upload, weights_picker
from explorer.ui.models import MissingWeights, cached_model


@dataclass(frozen=True)
class Classifier:
    """Everything needed to classify with one model."""

    spec: ResNetSpec  # its fc may have taken a checkpoint's classes
    model: object
    source: ModelSource  # the weights it really has
    names: tuple[str, ...]  # class names (`class_names_for`)
    settings: Preprocessing
    missing: MissingWeights | None = None  # ImageNet weights asked for and not had (`models.weights_notice`)


def classifier_column(prefix: str, spec: ResNetSpec, input_size: int, box, guess_picker: str | None = None
                      ) -> Classifier | None:
    """Weights for one model (widget keys start with ``prefix``), then what classifying needs; None if unusable.

    A checkpoint that does not fit ``spec`` but looks like another model offers a button that
    switches the model picker ``guess_picker`` (its key prefix) to it; None offers none.
    """
    spec, source, checkpoint = weights_picker(prefix, spec, box)
    names_file = None
    if source.kind is SourceKind.CHECKPOINT:
        names_file = file_upload(box, _("Class names (text, one per line)"), f"{prefix}_names")
    with box:
        loaded = cached_model(spec, source, checkpoint)
    if loaded is None:
        guess = guess_spec(checkpoint.state_dict) if checkpoint is not None else None
        if guess is not None and guess_picker is not None:
            if box.button(_("Use {model}").format(model=describe_spec(guess)), key=f"{prefix}_use_guess"):
                picker.choose_model(guess_picker, guess)
                st.rerun()
        return None
    source = loaded.source
    classes = class_names_for(spec, source, checkpoint, names_file.getvalue() if names_file is not None else None)
    for problem in classes.skipped:
        box.error(_("{problem} Using {origin} instead.").format(problem=problem, origin=classes.origin))
    if source.kind is SourceKind.CHECKPOINT and not classes.skipped:
        box.caption(_("Class names: {origin}.").format(origin=classes.origin))
    return Classifier(spec, loaded.model, source, classes.names, preprocessing_for(spec, source, input_size),
                      loaded.missing)
