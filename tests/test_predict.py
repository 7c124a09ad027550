"""predict.py: top-k on a checkpoint the tests trained, Grad-CAM, and thread safety."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.model.build import build_model
from explorer.data.images import Preprocessing, preprocess
from explorer.analysis.predict import grad_cam, predict
from explorer.model.presets import PRESETS
from explorer.data.shapes import CUE_COLOURS, shapes_images
from explorer.model.checkpoint import read_checkpoint
from explorer.model.fitting import load_checkpoint_model
from tests.conftest import run_together


def held_out(count: int = 24, seed: int = 99):
    pictures, labels = shapes_images(count, size=40, num_classes=2, seed=seed)
    settings = Preprocessing(resize=37, crop=32)
    return torch.stack([preprocess(p, settings).tensor for p in pictures]), labels


def test_the_trained_checkpoint_separates_the_classes(trained_checkpoint) -> None:
    assert trained_checkpoint.final_accuracy == 1.0
    checkpoint = read_checkpoint(trained_checkpoint.data)
    assert checkpoint.class_names == ("red disc", "blue square")
    model = load_checkpoint_model(trained_checkpoint.spec, checkpoint)
    inputs, labels = held_out()
    predictions = predict(model, trained_checkpoint.spec, inputs, checkpoint.class_names, topk=2)
    assert [p.indices[0] for p in predictions] == labels
    assert all(p.probabilities[0] > 0.5 and sum(p.probabilities) == pytest.approx(1.0, abs=1e-5) for p in predictions)
    assert predictions[0].labels[0] in ("red disc", "blue square") and predictions[0].device == "cpu"


def test_predict_checks_the_class_names() -> None:
    model = build_model(PRESETS["cifar_resnet20"], seed=0)
    with pytest.raises(ValueError, match="3 class names for a model with 10 outputs"):
        predict(model, PRESETS["cifar_resnet20"], torch.zeros(3, 32, 32), ["a", "b", "c"])


def test_grad_cam_points_at_the_shape(trained_checkpoint) -> None:
    model = load_checkpoint_model(trained_checkpoint.spec, read_checkpoint(trained_checkpoint.data))
    inputs, labels = held_out(8)
    pictures, _ = shapes_images(8, size=40, num_classes=2, seed=99)
    settings = Preprocessing(resize=37, crop=32)
    for tensor, label, picture in zip(inputs, labels, pictures):
        cam = grad_cam(model, trained_checkpoint.spec, tensor, label)
        assert cam.shape == (32, 32) and cam.min() >= 0 and cam.max() == pytest.approx(1.0)
        pixels = np.asarray(preprocess(picture, settings).cropped).astype(int)
        shape = np.abs(pixels - np.array(CUE_COLOURS[label])).sum(axis=2) < 90  # the drawn shape's pixels
        assert cam[shape].mean() > cam[~shape].mean()
    assert trained_checkpoint.spec.stage_names == ("layer1", "layer2", "layer3")
    assert np.array_equal(grad_cam(model, trained_checkpoint.spec, tensor, label, "layer3"), cam)  # the last by default
    stage_cam = grad_cam(model, trained_checkpoint.spec, inputs[0], labels[0], stage="layer2")
    assert stage_cam.shape == (32, 32) and not np.allclose(stage_cam, cam)
    assert all(not m._forward_hooks for m in model.modules()) and all(p.grad is None for p in model.parameters())


def test_grad_cam_is_safe_across_threads(trained_checkpoint) -> None:
    model = load_checkpoint_model(trained_checkpoint.spec, read_checkpoint(trained_checkpoint.data))
    inputs, labels = held_out(6)
    expected = [grad_cam(model, trained_checkpoint.spec, x, y) for x, y in zip(inputs, labels)]
    results = run_together(*(partial(grad_cam, model, trained_checkpoint.spec, x, y) for x, y in zip(inputs, labels)))
    for index, cam in enumerate(expected):
        np.testing.assert_allclose(results[index], cam, atol=1e-5)


def untrained_marks(figure) -> list[str]:
    """The texts of a figure's "untrained" watermarks."""
    return [a.text for a in figure.layout.annotations if a.name == "untrained"]


def test_an_untrained_networks_top5_says_so_on_the_chart_and_greys_its_bars() -> None:
    from explorer.figures.predictions import BAR_COLOUR, UNTRAINED_BAR_COLOUR, topk_bars
    from explorer.figures.rasters import overlay
    from explorer.model.sources import ModelSource, SourceKind, load_model
    from explorer.runtime.i18n import in_language
    from tests.checkpoints import saved

    spec = PRESETS["cifar_resnet20"]
    checkpoint = read_checkpoint(saved(build_model(spec, seed=1).state_dict()))
    sources = {kind: ModelSource(kind, weights="IMAGENET1K_V1" if kind is SourceKind.IMAGENET else None,
                                 checkpoint_digest=checkpoint.digest if kind is SourceKind.CHECKPOINT else None)
               for kind in SourceKind}
    inputs, _labels = held_out(1)
    names = [f"class {i}" for i in range(spec.num_classes)]
    for kind, source in sources.items():
        model = build_model(spec, seed=1) if kind is SourceKind.IMAGENET else load_model(spec, source, "cpu", checkpoint)
        (prediction,) = predict(model, spec, inputs[0], names, topk=5)
        figure = topk_bars(prediction.labels, prediction.probabilities, f"{spec.name} · top-5", source.untrained)
        if kind is SourceKind.RANDOM:
            assert untrained_marks(figure) == ["untrained"] and figure.layout.annotations[0].font.size >= 40
            assert figure.data[0].marker.color == UNTRAINED_BAR_COLOUR
            assert "these classes mean nothing" in figure.layout.title.text
        else:
            assert untrained_marks(figure) == [] and figure.data[0].marker.color == BAR_COLOUR, kind
            assert "mean nothing" not in figure.layout.title.text
    with in_language("zh"):
        figure = topk_bars(["a"], [0.9], "t", untrained=True)
    assert untrained_marks(figure) == ["未训练"] and "这些类别没有任何意义" in figure.layout.title.text

    # The Grad-CAM of an untrained network is drawn in greys, a trained one's in jet colours.
    picture = Image.new("RGB", (32, 32), (128, 128, 128))
    heat = np.linspace(0, 1, 32 * 32).reshape(32, 32)
    greyed = np.asarray(overlay(picture, heat, greyed=True), dtype=int)
    coloured = np.asarray(overlay(picture, heat), dtype=int)
    assert (greyed[..., 0] == greyed[..., 1]).all() and (greyed[..., 1] == greyed[..., 2]).all()
    assert np.abs(coloured[..., 0] - coloured[..., 2]).max() > 100
