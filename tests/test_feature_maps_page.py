"""AppTest of the Feature maps page: samples, uploads (good and bad), weights, browsing, downloads,
and that a click computes nothing its part of the page does not show."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.analysis import activations
from explorer.figures import rasters
from explorer.data import images
from explorer.ui import class_runs, inputs
from explorer.ui import receptive_field as ui_receptive_field
from explorer.model.build import build_model
from explorer.model.presets import PRESETS
from explorer.analysis.receptive_field import InputBox, theoretical_receptive_field
from explorer.studies.shared_results import SharedResults
from explorer.model.pretrained import available_weights, weights_file
from tests import images_corpus as corpus
from tests.conftest import open_app, sent_to_browser, shown

# No test here may download: the network fails and the weights cache is empty.
pytestmark = pytest.mark.usefixtures("offline", "fresh_class_store")


@pytest.fixture
def fresh_class_store(monkeypatch: pytest.MonkeyPatch) -> SharedResults:
    """A class-wide store of this test's own: no other test's captures in it."""
    store = SharedResults(2**30)
    monkeypatch.setattr(class_runs, "class_results", lambda: store)
    return store


def open_page(model: str = "resnet18", size: str = "96", weights: str | None = "random") -> AppTest:
    at = open_app("feature_maps", model=model, model_input=size)
    if weights and at.radio(key="fm_weights_kind").value != weights:
        at.radio(key="fm_weights_kind").set_value(weights).run()
    assert not at.exception, at.exception
    return at


def test_default_view_captures_a_sample_with_random_weights() -> None:
    at = open_page()
    assert at.radio(key="fm_image_source").value == "sample"
    assert any("random weights, seed 0" in c.value for c in at.caption)
    layers = at.selectbox(key="fm_layer")
    assert layers.value == "stem" and "layer4.1" in layers.options[-1]
    assert [c.key for c in at.get("plotly_chart")] == ["fm_grid", "fm_zoom", "fm_depth"]
    assert not at.error


@pytest.mark.usefixtures("fresh_class_models")
def test_offline_imagenet_weights_explain_and_fall_back(offline: Path) -> None:
    at = open_page("resnet18", weights=None)
    assert at.radio(key="fm_weights_kind").value == "imagenet"
    assert not at.error
    (banner,) = [w.value for w in at.warning if "fetch-weights" in w.value]
    assert "resnet18" in banner and "**untrained** random weights" in banner
    message = " ".join(t.value for e in at.expander for t in e.text)
    assert "resnet18-f37072fd.pth" in message and str(offline / "checkpoints") in message
    assert any("random weights, seed 0" in c.value for c in at.caption)
    assert at.selectbox(key="fm_layer").value == "stem"  # the page still works


def test_cached_imagenet_weights_are_used(offline: Path) -> None:
    target = weights_file(available_weights(PRESETS["resnet18"])["IMAGENET1K_V1"])
    target.parent.mkdir(parents=True)
    torch.save(build_model(PRESETS["resnet18"], seed=9).state_dict(), target)
    at = open_page("resnet18", size="224", weights=None)
    assert not at.error
    assert any("ImageNet weights IMAGENET1K_V1" in c.value for c in at.caption)


def test_browsing_moves_through_the_layers_and_shows_the_residual_parts() -> None:
    at = open_page()
    at.button(key="fm_next").click().run()
    assert at.selectbox(key="fm_layer").value == "layer1.0"
    at.selectbox(key="fm_layer").set_value("layer2.0").run()
    assert not at.exception
    (parts,) = [c for c in at.get("plotly_chart") if c.key == "fm_parts"]  # a projection block: W_s·x, not x
    titles = [a["text"] for a in json.loads(parts.proto.spec)["layout"]["annotations"]]
    assert titles == ["shortcut W_s·x", "residual branch F(x)", "relu(W_s·x + F(x))"]
    assert any("relu(W_s·x + F(x)), where W_s·x is its projection shortcut (1x1 conv, then BN unless pre-activation)" in c.value for c in at.caption)
    at.button(key="fm_prev").click().run()
    assert at.selectbox(key="fm_layer").value == "layer1.1"
    for scale in ("per layer", "global"):
        at.radio(key="fm_scale").set_value(scale).run()
        assert not at.exception
        assert any(f"colour scale: {scale}" in c.proto.spec for c in at.get("plotly_chart"))
    at.radio(key="fm_which").set_value("all, paged").run()
    assert not at.exception


def test_detail_mode_adds_every_inner_layer() -> None:
    at = open_page()
    plain = len(at.selectbox(key="fm_layer").options)
    at.toggle(key="fm_detail").set_value(True).run()
    assert not at.exception
    options = at.selectbox(key="fm_layer").options
    assert len(options) > plain and any("layer1.0.relu_1" in o for o in options)


def test_downloads_are_the_selected_layer_made_only_when_clicked(deferred_downloads: list, spy) -> None:
    encoded = spy(rasters, "viridis_png")
    at = open_page()
    at.selectbox(key="fm_layer").set_value("layer3.1").run()
    assert encoded == []  # browsing encodes no PNG
    made = {name: encode for encode, name in deferred_downloads}
    tensor = torch.load(io.BytesIO(made["resnet18_layer3.1.pt"]()), weights_only=True)
    assert tensor.shape == (256, 6, 6) and tensor.dtype == torch.float16
    png = Image.open(io.BytesIO(made["resnet18_layer3.1.png"]()))
    assert len(encoded) == 1
    assert png.size == (8 * 7 - 1, 2 * 7 - 1)  # the top 16 channels of 6×6: two rows of 8 tiles, 1-px gaps


def test_browsing_recomputes_nothing_above_the_layer_browser(spy) -> None:
    """AppTest reruns the whole page on every click (the browser reruns only the fragment):
    even then the picture, preprocessing, previews and capture are not computed again."""
    work = {name: spy(module, name) for module, name in [
        (inputs, "decode_image"), (images, "preprocess"), (images, "denormalize"), (images, "augmentation_samples"),
        (activations, "capture_activations")]}
    at = open_page()  # ImageNet preprocessing first (offline: random weights), then random weights at 96 px
    assert {name: len(calls) for name, calls in work.items()} == {
        "decode_image": 1, "preprocess": 2, "denormalize": 2, "augmentation_samples": 0, "capture_activations": 2}
    for calls in work.values():
        calls.clear()
    at.button(key="fm_next").click().run()
    at.button(key="fm_next").click().run()  # layer1.1: its shortcut and branch come from the one capture
    at.selectbox(key="fm_layer").set_value("layer3.0").run()
    at.button(key="fm_prev").click().run()
    at.radio(key="fm_scale").set_value("global").run()
    at.selectbox(key="fm_channel").set_value(3).run()
    assert not at.exception and at.selectbox(key="fm_layer").value == "layer2.1"
    assert any("What makes layer2.1 a residual block" in s.value for s in at.subheader)
    assert all(calls == [] for calls in work.values()), {name: len(calls) for name, calls in work.items()}


def test_augmentation_previews_are_computed_only_while_open(spy) -> None:
    previews = spy(images, "augmentation_samples")
    at = open_page()
    (expander,) = at.main.get("expander")  # the page's own; the sidebar has the class expander
    assert not expander.proto.expanded and not expander.children  # closed: nothing inside, nothing computed
    at.button(key="fm_next").click().run()
    assert previews == []
    at.session_state["fm_augment"] = True  # the user opens it
    at.run()
    (expander,) = at.main.get("expander")
    assert len(previews) == 1 and len(expander.get("image")) == 8
    at.button(key="fm_next").click().run()
    assert len(previews) == 1  # the same roll of the same picture is not drawn again
    at.button(key="fm_reroll").click().run()
    at.selectbox(key="fm_policy").set_value("AutoAugment").run()
    assert len(previews) == 3
    at.session_state["fm_augment"] = False
    at.run()
    at.button(key="fm_next").click().run()
    assert len(previews) == 3 and not at.main.get("expander")[0].children and not at.exception


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.jpg", b"", "empty"),
    ("notes.jpg", b"just some text, renamed\n" * 10, "not an image"),
    ("notes.txt", b"plain text with a text name\n" * 10, "not an image"),
    ("no-extension", corpus.png_bomb(), "megapixels"),
    ("huge.png", corpus.large_image(8000), "8000×8000 pixels"),
    ("bomb.png", corpus.png_bomb(), "megapixels"),
    ("cut.jpg", corpus.truncated_jpeg(), "truncated"),
])
def test_bad_uploads_give_a_clear_error(name: str, data: bytes, message: str) -> None:
    at = open_page()
    at.radio(key="fm_image_source").set_value("upload").run()
    at.file_uploader(key="fm_upload").upload(name, data, "image/jpeg").run()
    assert not at.exception
    assert any(message in shown(e.value) and name in shown(e.value) for e in at.error)


@pytest.mark.parametrize("data", [corpus.cmyk_jpeg(), corpus.sixteen_bit_png(), corpus.animated_gif(), corpus.exif_rotated_jpeg(),
                                  corpus.palette_png_with_transparency()])
def test_unusual_but_valid_uploads_work(data: bytes) -> None:
    at = open_page()
    at.radio(key="fm_image_source").set_value("upload").run()
    at.file_uploader(key="fm_upload").upload("photo.bin", data).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="fm_layer").value == "stem"


def test_a_capture_above_the_budget_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORER_CAPTURE_BUDGET_MB", "0")
    at = open_page()
    assert not at.exception
    assert any("above the budget of 0 MiB" in e.value for e in at.error)


def test_a_misfit_checkpoint_is_explained() -> None:
    at = open_page()
    at.radio(key="fm_weights_kind").set_value("checkpoint").run()
    buffer = io.BytesIO()
    torch.save(build_model(PRESETS["resnet50"].with_changes(num_classes=3), "cpu").state_dict(), buffer)
    at.file_uploader(key="fm_checkpoint").upload("mine.pth", buffer.getvalue()).run()
    assert not at.exception
    assert any("does not fit resnet18" in e.value and "resnet50 with 3 classes" in e.value for e in at.error)


def test_a_checkpoint_with_another_fc_takes_its_classes_and_a_misfit_is_explained() -> None:
    at = open_page()
    at.radio(key="fm_weights_kind").set_value("checkpoint").run()
    buffer = io.BytesIO()
    torch.save({"state_dict": build_model(PRESETS["resnet18"].with_changes(num_classes=5), "cpu").state_dict()}, buffer)
    at.file_uploader(key="fm_checkpoint").upload("five.pth", buffer.getvalue()).run()
    assert not at.exception and not at.error
    assert any("replaced by a 5-class one" in i.value for i in at.info)
    assert at.selectbox(key="fm_layer").value is not None  # captured with the checkpoint's weights
    buffer = io.BytesIO()
    torch.save(build_model(PRESETS["resnet34"].with_changes(num_classes=5), "cpu").state_dict(), buffer)
    at.file_uploader(key="fm_checkpoint").upload("deeper.pth", buffer.getvalue()).run()
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "does not fit resnet18" in message and "resnet34 with 5 classes" in message


def test_a_sample_is_captured_once_for_the_class_and_an_upload_stays_private(
        spy, fresh_class_store: SharedResults) -> None:
    captures = spy(activations, "capture_activations")
    first = open_page()
    second = open_page()  # another student, the same sample, weights and size
    assert len(captures) == 2 and fresh_class_store.runs_started == 2  # ImageNet fallback, then random at 96
    assert not second.exception and second.selectbox(key="fm_layer").value == first.selectbox(key="fm_layer").value
    stored = len(fresh_class_store)
    data = corpus.encode(corpus.photo(160, 120), "PNG")
    for session in (first, second):  # the same picture uploaded by two students: each computes its own
        session.radio(key="fm_image_source").set_value("upload").run()
        session.file_uploader(key="fm_upload").upload("mine.png", data, "image/png").run()
        assert not session.exception
    assert len(captures) == 4 and len(fresh_class_store) == stored and fresh_class_store.runs_started == 2


def test_the_receptive_field_section_shows_the_librarys_box_when_switched_on(spy) -> None:
    fields = spy(ui_receptive_field, "receptive_fields")
    captures = spy(activations, "capture_activations")
    at = open_page()  # resnet18 at 96 px, random weights
    assert fields == [] and not any(s.key.startswith("fm_rf") for s in at.get("slider"))  # off: nothing computed
    at.toggle(key="fm_rf").set_value(True).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="fm_rf_stage").value == "layer2"
    at.selectbox(key="fm_rf_stage").set_value("layer4").run()
    at.selectbox(key="fm_rf_stage").set_value("layer2").run()
    at.slider(key="fm_rf_row_layer2").set_value(0).run()
    at.slider(key="fm_rf_column_layer2").set_value(11).run()
    assert not at.exception
    box = theoretical_receptive_field(PRESETS["resnet18"], "layer2", (0, 11), 96)
    assert box == InputBox(0, 39, 49, 95)  # rows -49…49 and columns 39…137, cut by the 96-px picture
    (caption,) = [c.value for c in at.caption if "sees input rows" in c.value]
    assert caption.startswith("**layer2 (0, 11)** sees input rows 0–49 and columns 39–95: a 50×57 px box "
                              "(its 99×99 px window is cut by the image's border).")
    (sizes,) = [c for c in at.get("plotly_chart") if c.key == "fm_rf_sizes"]
    window = next(trace for trace in json.loads(sizes.proto.spec)["data"] if trace["name"].startswith("theoretical window"))
    assert window["x"] == ["stem", "layer1", "layer2", "layer3", "layer4"] and window["y"] == [11, 43, 99, 211, 435]
    assert any("cyan: theoretical box" in image.proto.imgs[0].caption for image in at.get("image"))
    # layer2's centre, layer4's, layer2's centre again from memory, then (0, 6) and (0, 11); no new capture.
    assert [args[3] for args in fields] == [[("layer2", (6, 6))], [("layer4", (1, 1))], [("layer2", (0, 6))],
                                             [("layer2", (0, 11))]]
    assert captures == captures[:2]


def chart_title(at: AppTest, key: str) -> str:
    (chart,) = [c for c in at.get("plotly_chart") if c.key == key]
    return json.loads(chart.proto.spec)["layout"]["title"]["text"]


def grid_channels(at: AppTest) -> list[int]:
    """The channels the grid draws, in its order (the tiles' "c17" labels)."""
    (chart,) = [c for c in at.get("plotly_chart") if c.key == "fm_grid"]
    return [int(a["text"][1:]) for a in json.loads(chart.proto.spec)["layout"]["annotations"]]


def test_after_an_upload_the_channel_box_shows_the_channel_zoomed() -> None:
    """Issue 23: after switching from a sample to an upload the box read 17 while the zoom showed 50."""
    at = open_page()
    sample_first = grid_channels(at)[0]
    assert at.selectbox(key="fm_channel").value == sample_first
    at.radio(key="fm_image_source").set_value("upload").run()
    at.file_uploader(key="fm_upload").upload("photo.png", corpus.encode(corpus.photo(), "PNG"), "image/png").run()
    assert not at.exception
    first = grid_channels(at)[0]  # the upload's most active stem channel: another one than the sample's
    assert first != sample_first
    # The channel follows the picture, the zoom draws it, and the browser is told to show it.
    assert at.selectbox(key="fm_channel").value == first and sent_to_browser(at, "fm_channel") == str(first)
    assert chart_title(at, "fm_zoom").startswith(f"stem, channel {first}<br>")
    # A channel picked by hand stays while the layer stays; another layer starts at its own first channel.
    at.selectbox(key="fm_channel").set_value(3).run()
    assert chart_title(at, "fm_zoom").startswith("stem, channel 3<br>")
    at.radio(key="fm_scale").set_value("global").run()
    assert at.selectbox(key="fm_channel").value == 3
    at.button(key="fm_next").click().run()
    first = grid_channels(at)[0]
    assert at.selectbox(key="fm_channel").value == first and sent_to_browser(at, "fm_channel") == str(first)
    assert chart_title(at, "fm_zoom").startswith(f"layer1.0, channel {first}<br>")


def test_the_layer_box_shows_the_layer_drawn_when_the_layers_change() -> None:
    at = open_page()
    at.toggle(key="fm_detail").set_value(True).run()
    at.selectbox(key="fm_layer").set_value("layer1.0.conv1").run()
    at.toggle(key="fm_detail").set_value(False).run()  # no inner layers any more: back to the first
    assert not at.exception and at.selectbox(key="fm_layer").value == "stem"
    assert sent_to_browser(at, "fm_layer") == at.selectbox(key="fm_layer").options[0]
    assert chart_title(at, "fm_grid").startswith("stem · output")
    at.selectbox(key="fm_layer").set_value("layer4.1").run()
    at.selectbox(key="model_preset").set_value("cifar_resnet20").run()  # three stages: no layer4
    assert not at.exception and at.selectbox(key="fm_layer").value == "stem"
    assert chart_title(at, "fm_grid").startswith("stem · output · 16×")


def test_after_a_run_that_stopped_early_every_box_shows_the_value_the_page_uses() -> None:
    """Upload chosen, nothing uploaded yet: the page stops above the layer browser. Back on the
    sample, the browser drew the boxes anew at their defaults (the first layer, no detail), while
    the page showed layer1.2 with the inner layers: so every kept value is sent with its box again."""
    at = open_page("cifar_resnet20", "32")
    at.toggle(key="fm_detail").set_value(True).run()
    at.selectbox(key="fm_layer").set_value("layer1.2").run()
    at.radio(key="fm_scale").set_value(at.radio(key="fm_scale").options[1]).run()
    at.session_state["fm_augment"] = True  # the augmentation preview, open: its policy is no class setting
    at.run()
    at.selectbox(key="fm_policy").set_value("AugMix").run()
    at.radio(key="fm_image_source").set_value("upload").run()
    assert not at.exception and [w for w in at.selectbox if w.key == "fm_layer"] == []  # stopped above it
    at.radio(key="fm_image_source").set_value("sample").run()
    assert not at.exception and chart_title(at, "fm_grid").startswith("layer1.2 · block output")
    label = at.selectbox(key="fm_layer").format_func("layer1.2")
    assert sent_to_browser(at, "fm_layer") == label
    assert sent_to_browser(at, "fm_detail") is True and sent_to_browser(at, "fm_policy") == "AugMix"
    assert sent_to_browser(at, "fm_scale") == at.radio(key="fm_scale").format_func(at.radio(key="fm_scale").value)
    at.button(key="fm_next").click().run()  # a whole run that reached the end: nothing is sent again
    assert sent_to_browser(at, "fm_detail") is None and sent_to_browser(at, "fm_policy") is None


def test_an_upload_the_page_stopped_above_is_forgotten_as_the_browser_forgets_it() -> None:
    """No script can send an upload back to its box: after a run that stopped above the box, the
    browser showed it empty while the page went on with the picture, until a later run dropped it."""
    at = open_page("cifar_resnet20", "32")
    at.radio(key="fm_image_source").set_value("upload").run()
    at.file_uploader(key="fm_upload").upload("kept.jpg", corpus.exif_rotated_jpeg()).run()
    assert any("kept.jpg" in shown(c.value) for c in at.caption)
    at.selectbox(key="model_preset").select("custom…").run()
    at.text_input(key="model_stages").input("3,3,x").run()  # the page stops at once: "fix the model"
    assert not at.exception and [w for w in at.file_uploader if w.key == "fm_upload"] == []
    at.text_input(key="model_stages").input("3,3,3").run()
    assert not at.exception and not any("kept.jpg" in shown(c.value) for c in at.caption)
    assert [w for w in at.selectbox if w.key == "fm_layer"] == []  # no picture: nothing captured
    at.file_uploader(key="fm_upload").upload("again.jpg", corpus.exif_rotated_jpeg()).run()
    assert any("again.jpg" in shown(c.value) for c in at.caption) and not at.exception


def test_top_k_and_the_page_stay_in_the_layers_range() -> None:
    at = open_page("cifar_resnet20", "32")  # 16, 32 and 64 channels in its three stages
    at.selectbox(key="fm_layer").set_value("layer3.0").run()
    at.slider(key="fm_topk").set_value(40).run()
    assert len(grid_channels(at)) == 40
    at.selectbox(key="fm_layer").set_value("layer1.0").run()  # 16 channels: k follows, and the slider says so
    assert not at.exception and at.slider(key="fm_topk").value == 16 and sent_to_browser(at, "fm_topk") == 16
    assert len(grid_channels(at)) == 16
    at.selectbox(key="model_preset").set_value("resnet18").run()
    at.radio(key="fm_which").set_value("all, paged").run()
    at.selectbox(key="fm_layer").set_value("layer4.1").run()  # 512 channels: 8 pages
    at.number_input(key="fm_page").set_value(8).run()
    assert grid_channels(at)[0] == 7 * 64
    at.selectbox(key="fm_layer").set_value("layer1.0").run()  # 64 channels: one page
    assert not at.exception and at.number_input(key="fm_page").value == 1 and sent_to_browser(at, "fm_page") == 1
    assert grid_channels(at) == list(range(64))


def test_receptive_field_widgets_follow_the_model_and_the_map_size() -> None:
    at = open_page()  # resnet18 at 96 px: layer2's map is 12×12
    at.toggle(key="fm_rf").set_value(True).run()
    at.slider(key="fm_rf_row_layer2").set_value(11).run()
    at.number_input(key="model_input").set_value(64).run()  # layer2's map is 8×8: row 11 is gone
    assert not at.exception and at.slider(key="fm_rf_row_layer2").value == 7
    assert sent_to_browser(at, "fm_rf_row_layer2") == 7
    (caption,) = [c.value for c in at.caption if "sees input rows" in c.value]
    assert caption.startswith("**layer2 (7, 6)**")  # the column, 6, is on the smaller map too
    assert sent_to_browser(at, "fm_rf_column_layer2") == 6  # a slider with another range is drawn anew
    at.selectbox(key="fm_rf_stage").set_value("layer4").run()
    at.selectbox(key="model_preset").set_value("cifar_resnet20").run()  # stages stem … layer3
    assert not at.exception and at.selectbox(key="fm_rf_stage").value == "layer2"  # the middle one
    assert sent_to_browser(at, "fm_rf_stage") == "layer2"
    (caption,) = [c.value for c in at.caption if "sees input rows" in c.value]
    assert caption.startswith("**layer2 (")


def test_after_a_switch_of_language_every_choice_is_shown_in_it() -> None:
    """The browser keeps a radio's or selectbox's label until sent another: after a switch of
    language it found no option with the old label and showed none chosen."""
    from explorer.analysis.colour_scale import ColourScale
    from explorer.runtime.i18n import _, in_language

    at = open_page()
    at.radio(key="fm_scale").set_value("global").run()
    at.radio(key="lang").set_value("zh").run()
    assert not at.exception
    with in_language("zh"):
        expected = {"fm_scale": ColourScale.GLOBAL.label, "fm_which": _("top-k by mean"),
                    "fm_image_source": _("sample"), "fm_weights_kind": _("random init (seeded)"),
                    "fm_layer": at.selectbox(key="fm_layer").format_func("stem")}
    assert {key: sent_to_browser(at, key) for key in expected} == expected
    assert at.radio(key="fm_scale").value == "global" and "全局" in expected["fm_scale"]
    # One Chinese term for the fraction of zeros: the metric's and the depth chart's.
    (depth,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key == "fm_depth"]
    titles = [a["text"] for a in depth["layout"]["annotations"]]
    assert "零值比例" in [m.label for m in at.metric] and "零值比例（ReLU 稀疏度）" in titles


def test_the_capture_caption_says_its_budget_in_words() -> None:
    """Students see what the server allows, not the operator's environment variable."""
    at = open_page()
    (caption,) = [c.value for c in at.caption if c.value.startswith("Capturing ")]
    assert caption.endswith(" MiB as float16 (this server allows 1,024 MiB for one capture).")
    assert not [c.value for c in (*at.caption, *at.markdown, *at.info) if "EXPLORER_" in c.value]
