"""Predict through the page (AppTest) and the CLI with a checkpoint the tests trained."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
import torchvision
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.figures.predictions import UNTRAINED_BAR_COLOUR
from explorer.figures.rasters import overlay
from explorer.model.build import build_model
from explorer.cli import main
from explorer.data.images import Preprocessing, decode_image, preprocess, sample_images
from explorer.analysis.predict import grad_cam, predict
from explorer.model.presets import PRESETS
from explorer.data.shapes import shapes_images
from tests import images_corpus as corpus
from tests.checkpoints import CreatesAFile, saved
from tests.conftest import open_app, sent_to_browser, shown



# No test here may download: the network fails and the weights cache is empty.
pytestmark = pytest.mark.usefixtures("offline")
CJK = re.compile(r"[\u4e00-\u9fff]")


def pngs(count: int = 6, seed: int = 7) -> tuple[list[tuple[str, bytes]], list[int]]:
    pictures, labels = shapes_images(count, size=40, num_classes=2, seed=seed)
    return [(f"shape{i}.png", corpus.encode(p, "PNG")) for i, p in enumerate(pictures)], labels


def written(trained_checkpoint, folder: Path, count: int, seed: int) -> tuple[Path, list[str], list[int]]:
    """The trained checkpoint and ``count`` shape pictures as files in ``folder``, for the CLI."""
    checkpoint = folder / "shapes.pth"
    checkpoint.write_bytes(trained_checkpoint.data)
    files, labels = pngs(count, seed=seed)
    for name, data in files:
        (folder / name).write_bytes(data)
    return checkpoint, [str(folder / name) for name, _ in files], labels


def top_labels(at: AppTest) -> list[str]:
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "top-5" in c.proto.spec]
    return [chart["data"][0]["y"][-1] for chart in charts]


def untrained(chart: dict) -> bool:
    """A top-5 chart (its plotly JSON) marked as an untrained network's: the watermark and grey bars."""
    marks = [a for a in chart["layout"].get("annotations", []) if a.get("name") == "untrained"]
    grey = chart["data"][0]["marker"]["color"] == UNTRAINED_BAR_COLOUR
    assert bool(marks) == grey, chart["layout"]  # both or neither
    return bool(marks)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two RGB pictures, in 0-255 levels."""
    return float(np.abs(a - b).mean())


def open_predict(model: str, size: str) -> AppTest:
    return open_app("predict", model=model, model_input=size)


def test_the_page_classifies_with_the_trained_checkpoint(trained_checkpoint) -> None:
    at = open_predict("cifar_resnet20;num_classes=2", "32")
    at.multiselect(key="pr_samples").set_value([]).run()
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="pr_checkpoint").upload("shapes.pth", trained_checkpoint.data).run()
    files, labels = pngs()
    at.file_uploader(key="pr_uploads").set_value([(n, d, "image/png") for n, d in files]).run()
    assert not at.exception and not at.error
    assert top_labels(at) == [trained_checkpoint.classes[label] for label in labels]
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert sum(c.startswith("Grad-CAM for “") for c in captions) == len(labels)
    assert not any("untrained" in c for c in captions)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert charts and not any(untrained(chart) for chart in charts)  # a checkpoint's results: in colour, unmarked


def test_a_misfit_checkpoint_offers_the_model_it_looks_like(trained_checkpoint) -> None:
    at = open_predict("resnet50", "224")
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="pr_checkpoint").upload("shapes.pth", trained_checkpoint.data).run()
    assert not at.exception
    assert any("does not fit resnet50" in shown(e.value) and "missing key(s)" in shown(e.value) for e in at.error)
    at.button(key="pr_use_guess").click().run()
    assert not at.exception
    assert at.selectbox(key="model_preset").value == "custom…"
    at.number_input(key="model_input").set_value(32).run()
    at.multiselect(key="pr_samples").set_value([]).run()
    files, labels = pngs(4, seed=8)
    at.file_uploader(key="pr_uploads").set_value([(n, d, "image/png") for n, d in files]).run()
    assert not at.error and top_labels(at) == [trained_checkpoint.classes[label] for label in labels]


def test_bad_images_are_reported_and_the_good_ones_still_classified() -> None:
    at = open_predict("cifar_resnet20", "32")
    at.radio(key="pr_weights_kind").set_value("random").run()
    at.file_uploader(key="pr_uploads").set_value([
        ("empty.png", b"", "image/png"), ("fake.jpg", b"hello" * 50, "image/jpeg"),
        ("bomb.png", corpus.png_bomb(), "image/png"), ("good.gif", corpus.animated_gif(), "image/gif"),
    ]).run()
    assert not at.exception
    errors = " ".join(shown(e.value) for e in at.error)
    assert "empty.png" in errors and "fake.jpg" in errors and "bomb.png" in errors
    assert len(top_labels(at)) == 2 + 1  # chelsea, coffee and good.gif


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "side-effect"
    at = open_predict("cifar_resnet20", "32")
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="pr_checkpoint").upload("evil.pth", saved({"x": CreatesAFile(marker)})).run()
    assert not at.exception and not marker.exists()
    assert any("could run code" in shown(e.value) for e in at.error)
    assert any("random weights" in w.value for w in at.warning)


def test_compare_mode_runs_both_models_and_grad_cam_follows_the_class(media: dict[str, bytes]) -> None:
    at = open_predict("cifar_resnet20", "32")
    at.radio(key="pr_weights_kind").set_value("random").run()
    at.toggle(key="pr_compare").set_value(True).run()
    assert not at.exception
    at.radio(key="pr_b_weights_kind").set_value("random").run()
    assert not at.exception and at.selectbox(key="pr_model_b_preset").value == "resnet18"
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = [chart["layout"]["title"]["text"] for chart in charts]
    assert sum("cifar_resnet20" in t for t in titles) == 2 and sum("resnet18" in t for t in titles) == 2
    # Random weights on every chart: the watermark across it, grey bars, the title's warning.
    assert all(untrained(chart) for chart in charts) and all("these classes mean nothing" in t for t in titles)

    # What the page must show for the first photo and the first model: the library's Grad-CAM.
    spec = PRESETS["cifar_resnet20"]
    model = build_model(spec, seed=0)
    steps = preprocess(decode_image(sample_images()["chelsea"].read_bytes()).image, Preprocessing.for_size(32))
    (prediction,) = predict(model, spec, steps.tensor, [f"class {i}" for i in range(10)])
    expected = {rank: np.asarray(overlay(steps.cropped, grad_cam(model, spec, steps.tensor, prediction.indices[rank]),
                                         alpha=0.45, greyed=True), dtype=float) for rank in (0, 2)}
    assert distance(expected[0], expected[2]) > 15  # the two classes' maps differ (in greys: untrained)

    def shown() -> tuple[str, np.ndarray]:
        image = next(i.proto.imgs[0] for i in at.get("image") if i.proto.imgs[0].caption.startswith("Grad-CAM for"))
        return image.caption, np.asarray(Image.open(io.BytesIO(media[image.url])).convert("RGB"), dtype=float)

    untrained_map = " — **untrained** network: this map means nothing"
    caption, pixels = shown()
    assert caption == f"Grad-CAM for “class {prediction.indices[0]}” from layer3{untrained_map}"
    assert distance(pixels, expected[0]) < 10 and distance(pixels, expected[2]) > 12  # JPEG: close, not equal
    at.selectbox(key="pr_0_cam").set_value(2).run()
    assert not at.exception
    caption, pixels = shown()
    assert caption == f"Grad-CAM for “class {prediction.indices[2]}” from layer3{untrained_map}"
    assert distance(pixels, expected[2]) < 10 and distance(pixels, expected[0]) > 12


def test_grad_cam_controls_compute_only_the_maps_they_change(spy) -> None:
    from explorer.analysis import predict as predict_module

    calls = {name: spy(predict_module, name) for name in ("predict", "grad_cam")}

    def shown_classes() -> list[int]:
        """The class each photo's Grad-CAM is drawn for, from the captions ("class 7": no names, random weights)."""
        captions = [i.proto.imgs[0].caption for i in at.get("image") if i.proto.imgs[0].caption.startswith("Grad-CAM")]
        return [int(c.split("“class ")[1].split("”")[0]) for c in captions]

    at = open_predict("cifar_resnet20", "32")
    at.radio(key="pr_weights_kind").set_value("random").run()
    assert at.multiselect(key="pr_samples").value == ["chelsea", "coffee"]
    predictions, cams = len(calls["predict"]), len(calls["grad_cam"])
    assert predictions >= 2 and cams >= 2
    at.selectbox(key="pr_1_cam").set_value(3).run()  # the second photo's 4th class
    assert not at.exception and len(calls["predict"]) == predictions
    assert [(args[3], args[4]) for args in calls["grad_cam"][cams:]] == [(shown_classes()[1], "layer3")]
    at.selectbox(key="pr_stage").set_value("layer1").run()
    assert len(calls["predict"]) == predictions
    assert [(args[3], args[4]) for args in calls["grad_cam"][cams + 1:]] == [(c, "layer1") for c in shown_classes()]
    at.selectbox(key="pr_stage").set_value("layer3").run()
    at.selectbox(key="pr_1_cam").set_value(0).run()
    assert len(calls["grad_cam"]) == cams + 1 + 2  # the layer3 maps of both classes were made before
    assert len(calls["predict"]) == predictions


def test_class_names_file_renames_the_classes(trained_checkpoint) -> None:
    at = open_predict("cifar_resnet20;num_classes=2", "32")
    at.multiselect(key="pr_samples").set_value([]).run()
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="pr_checkpoint").upload("shapes.pth", trained_checkpoint.data).run()
    at.file_uploader(key="pr_names").upload("names.txt", b"circle\nbox\n", "text/plain").run()
    files, labels = pngs(4, seed=9)
    at.file_uploader(key="pr_uploads").set_value([(n, d, "image/png") for n, d in files]).run()
    assert top_labels(at) == [("circle", "box")[label] for label in labels]


def test_page_and_cli_apply_a_names_file_by_the_same_rule(trained_checkpoint, tmp_path: Path, capsys) -> None:
    checkpoint, paths, labels = written(trained_checkpoint, tmp_path, 3, seed=12)
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("circle\nbox\n")
    bad.write_text("circle\nbox\nstar\n")
    problem = "3 names in the names file for the model's 2 classes: one name per class is needed."

    assert main(["predict", *paths, "--checkpoint", str(checkpoint), "--classes", str(good), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [image["predictions"][0]["label"] for image in report["images"]] == [("circle", "box")[l] for l in labels]
    assert main(["predict", *paths, "--checkpoint", str(checkpoint), "--classes", str(bad)]) == 2
    assert capsys.readouterr().err == f"error: {problem}\n"

    at = open_predict("cifar_resnet20;num_classes=2", "32")
    at.multiselect(key="pr_samples").set_value([]).run()
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="pr_checkpoint").upload("shapes.pth", trained_checkpoint.data).run()
    at.file_uploader(key="pr_names").upload("names.txt", bad.read_bytes(), "text/plain").run()
    at.file_uploader(key="pr_uploads").set_value([(Path(p).name, Path(p).read_bytes(), "image/png") for p in paths]).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"{problem} Using the checkpoint's class names instead."]
    assert top_labels(at) == [trained_checkpoint.classes[label] for label in labels]


def test_cli_predicts_with_the_trained_checkpoint(trained_checkpoint, tmp_path: Path, capsys) -> None:
    checkpoint, paths, labels = written(trained_checkpoint, tmp_path, 5, seed=11)
    assert main(["predict", *paths, "--checkpoint", str(checkpoint), "--topk", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "cifar_resnet20 2cls"  # guessed from the checkpoint
    assert [image["predictions"][0]["label"] for image in report["images"]] == [trained_checkpoint.classes[l] for l in labels]
    assert all(len(image["predictions"]) == 2 for image in report["images"])
    assert main(["predict", *paths[:2], "--checkpoint", str(checkpoint), "--model", "cifar_resnet20;num_classes=2"]) == 0
    out = capsys.readouterr().out
    assert "1. " in out
    timed = [line for line in out.splitlines() if "(one forward pass: " in line]  # one run each, said so
    assert len(timed) == 2 and timed[0].endswith(" ms, with warm-up)") and timed[1].endswith(" ms)")


def test_cli_predict_errors_are_one_line(trained_checkpoint, tmp_path: Path, offline: Path, capsys) -> None:
    checkpoint = tmp_path / "shapes.pth"
    checkpoint.write_bytes(trained_checkpoint.data)
    evil = tmp_path / "evil.pth"
    evil.write_bytes(saved({"x": CreatesAFile(tmp_path / "pwned")}))
    image = tmp_path / "a.png"
    image.write_bytes(corpus.encode(corpus.photo(), "PNG"))
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    cases = [
        (["predict", str(image), "--model", "resnet18"], "resnet18-f37072fd.pth"),
        (["predict", str(image), "--checkpoint", str(checkpoint), "--model", "resnet18"], "It looks like a cifar_resnet20 with 2 classes"),
        (["predict", str(image), "--checkpoint", str(evil)], "could run code"),
        (["predict", str(text), "--weights", "random"], "not an image"),
        (["predict", str(image), "--model", "resnet50_caffe"], "no torchvision ImageNet weights"),
        (["predict", str(image), "--weights", "IMAGENET1K_V9", "--model", "resnet18"], "Unknown weights"),
        (["predict", str(tmp_path / "missing.png"), "--weights", "random"], "No such file"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (args, err)
    assert not (tmp_path / "pwned").exists()


def seed_003_checkpoint(classes: int = 3) -> tuple[torch.nn.Module, bytes]:
    """torchvision's resnet18 with its fc replaced and saved, as seed 003 fine-tunes it."""
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Linear(model.fc.in_features, classes)
    buffer = io.BytesIO()
    torch.save({"epoch": 3, "model_state_dict": model.state_dict()}, buffer)
    return model.eval(), buffer.getvalue()


def test_cli_puts_a_checkpoints_fc_on_the_named_model(tmp_path: Path, capsys) -> None:
    model, data = seed_003_checkpoint()
    (tmp_path / "mine.pth").write_bytes(data)
    photo = tmp_path / "photo.png"
    photo.write_bytes(corpus.encode(corpus.photo(), "PNG"))
    args = ["predict", str(photo), "--model", "resnet18", "--checkpoint", str(tmp_path / "mine.pth")]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "3-class one" in report["note"] and "classes were taken from the checkpoint" in report["note"]
    with torch.no_grad():  # the same picture straight through seed 003's model
        expected = torch.softmax(model(preprocess(decode_image(photo.read_bytes()).image,
                                                  Preprocessing.for_size(224)).tensor[None]), 1)[0]
    predictions = report["images"][0]["predictions"]
    assert [p["label"] for p in predictions] == [f"class {i}" for i in expected.argsort(descending=True).tolist()]
    assert [p["probability"] for p in predictions] == pytest.approx(expected.sort(descending=True).values.tolist(), abs=1e-5)
    assert main(args) == 0
    assert "classes were taken from the checkpoint" in capsys.readouterr().out


def test_the_picker_puts_a_checkpoints_fc_on_the_sidebar_model() -> None:
    _, data = seed_003_checkpoint()
    at = open_predict("resnet18", "224")
    at.multiselect(key="pr_samples").set_value(["chelsea"]).run()
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="pr_checkpoint").upload("mine.pth", data).run()
    assert not at.exception and not at.error
    assert any("classes were taken from the checkpoint" in i.value for i in at.info)
    bars = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "top-5" in c.proto.spec]
    assert len(bars) == 1 and sorted(bars[0]["data"][0]["y"]) == ["class 0", "class 1", "class 2"]


@pytest.mark.usefixtures("fresh_class_models")
def test_offline_two_models_share_one_compact_banner_in_the_readers_language(offline: Path) -> None:
    """ImageNet weights that cannot be had: one warning for the page, naming both models, the command
    and the Docker build argument; the download's own reason only in the expander under it."""
    at = open_app("predict", model="resnet18", model_input="64", lang="zh")
    at.multiselect(key="pr_samples").set_value(["chelsea"]).run()
    at.toggle(key="pr_compare").set_value(True).run()
    at.selectbox(key="pr_model_b_preset").set_value("resnet34").run()
    assert not at.exception and not at.error
    assert [at.radio(key=key).value for key in ("pr_weights_kind", "pr_b_weights_kind")] == ["imagenet", "imagenet"]
    banners = [w.value for w in at.warning if "fetch-weights" in w.value]
    assert len(banners) == 1, [w.value for w in at.warning]
    (banner,) = banners
    assert "resnet18, resnet34" in banner and "`python -m explorer fetch-weights resnet18 resnet34`" in banner
    assert '--build-arg BAKE_WEIGHTS="resnet18 resnet34"' in banner and "未训练" in banner
    assert "offline test" not in banner and "Errno" not in banner  # the raw reason stays out of the banner
    (details,) = [e for e in at.expander if e.label == "下载失败的原因，以及手动复制的文件应放在哪里"]
    reasons = " ".join(t.value for t in details.text)
    assert "offline test" in reasons and "resnet18-f37072fd.pth" in reasons and str(offline / "checkpoints") in reasons
    assert CJK.search(reasons)  # the wrapper around the reason is translated
    # Both models ran on random weights, said on each chart, with no bracket inside a bracket.
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 2 and all(untrained(chart) for chart in charts)
    assert all(chart["layout"]["annotations"][0]["text"] == "未训练" for chart in charts)
    titles = [chart["layout"]["title"]["text"].split("<br>")[0] for chart in charts]
    assert titles == ["resnet18 · top-5 · 随机权重，种子 0", "resnet34 · top-5 · 随机权重，种子 0"]
    # Streamlit's English size line is replaced by our caption, with the server's real limit.
    limit = st.get_option("server.maxUploadSize")
    assert any(c.value == f"把文件拖到框里，或点击框里的按钮；每个文件最大 {limit} MB。" for c in at.caption)
    styles = [h.proto.body for h in at.get("html")]
    assert any(".st-key-pr_uploads" in body and "stFileUploaderDropzoneInstructions" in body for body in styles)


def test_a_torchvision_checkpoint_with_1000_outputs_shows_imagenet_names() -> None:
    """torch.save(torchvision.models.resnet18().state_dict(), f) uploaded: its 1,000 outputs are named."""
    data = saved(torchvision.models.resnet18().state_dict())
    at = open_predict("resnet18", "64")
    at.multiselect(key="pr_samples").set_value(["chelsea"]).run()
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="pr_checkpoint").upload("resnet18.pth", data).run()
    assert not at.exception and not at.error
    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    (chart,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert set(chart["data"][0]["y"]) <= set(categories) and not untrained(chart)
    assert any(c.value == "Class names: ImageNet's categories, as the checkpoint has ImageNet's 1,000 outputs."
               for c in at.caption)


def test_the_cli_says_random_weights_are_untrained(trained_checkpoint, tmp_path: Path, capsys) -> None:
    checkpoint, paths, _labels = written(trained_checkpoint, tmp_path, 1, seed=13)
    args = ["predict", paths[0], "--model", "cifar_resnet20;num_classes=2"]
    assert main([*args, "--weights", "random"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "UNTRAINED: random weights, not trained: these classes mean nothing"  # before any class
    assert main([*args, "--weights", "random", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["untrained"] is True
    assert main([*args, "--checkpoint", str(checkpoint)]) == 0
    assert "UNTRAINED" not in capsys.readouterr().out
    assert main([*args, "--checkpoint", str(checkpoint), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["untrained"] is False


def cam_captions(at: AppTest) -> list[str]:
    """The Grad-CAM captions, without the note that random weights' maps mean nothing."""
    return [i.proto.imgs[0].caption.split(" — ")[0] for i in at.get("image")
            if i.proto.imgs[0].caption.startswith("Grad-CAM")]


def test_after_a_3_class_checkpoint_the_grad_cam_class_box_shows_the_class_drawn() -> None:
    """Issue 23: the box still read 'class 238 (1.2%)' from the random weights while the map was of class 2."""
    _, data = seed_003_checkpoint()
    at = open_predict("resnet18", "224")
    at.multiselect(key="pr_samples").set_value(["chelsea"]).run()
    at.radio(key="pr_weights_kind").set_value("random").run()
    before = at.selectbox(key="pr_0_cam").options[0]  # rank 1 of the random weights' 1000 classes
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="pr_checkpoint").upload("mine.pth", data).run()
    assert not at.exception and not at.error
    box = at.selectbox(key="pr_0_cam")
    assert len(box.options) == 3 and box.value == 0
    shown_label = sent_to_browser(at, "pr_0_cam")  # rank 1 is another class now: the browser must be told
    assert shown_label == box.options[0] != before
    assert cam_captions(at) == [f"Grad-CAM for “{shown_label.split(' (')[0]}” from layer4"]
    # Rank 3 of 3 chosen, then back to random weights: rank 3 is another class again, and said so.
    box.set_value(2).run()
    at.radio(key="pr_weights_kind").set_value("random").run()
    box = at.selectbox(key="pr_0_cam")
    assert len(box.options) == 5 and box.value == 2 and sent_to_browser(at, "pr_0_cam") == box.options[2]
    assert cam_captions(at) == [f"Grad-CAM for “{box.options[2].split(' (')[0]}” from layer4"]


def test_the_grad_cam_stage_and_weights_follow_the_sidebar_model() -> None:
    at = open_predict("resnet18", "32")
    at.multiselect(key="pr_samples").set_value(["chelsea"]).run()
    assert at.radio(key="pr_weights_kind").value == "imagenet"  # offline: random weights, said so
    at.selectbox(key="pr_stage").set_value("layer4").run()
    at.selectbox(key="model_preset").set_value("cifar_resnet20").run()  # no layer4, no ImageNet weights
    assert not at.exception
    assert at.selectbox(key="pr_stage").value == "layer3" and sent_to_browser(at, "pr_stage") == "layer3"
    assert cam_captions(at)[0].endswith(" from layer3")
    assert at.radio(key="pr_weights_kind").value == "random"
    assert sent_to_browser(at, "pr_weights_kind") == "random init (seeded)"
