"""Feature maps of the family beyond v1: gate rows as one number per channel, a gated block's gate values
beside its parts (F(x) gated), pre-activation outputs and the final BN-ReLU; the page browses them all."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.analysis.activations import GATE, capture_activations, capture_points, residual_parts
from explorer.figures.maps import channel_values
from explorer.model.build import build_model
from explorer.model.presets import PRESETS
from explorer.ui import class_runs
from explorer.studies.shared_results import SharedResults
from tests.conftest import open_app

SIZE = 64


def capture(name: str, detail: bool = True):
    spec = PRESETS[name]
    model = build_model(spec, seed=0).eval()
    image = torch.randn(3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    activations = capture_activations(model, spec, image, capture_points(spec, SIZE, detail, residual_parts=True))
    return model, image, {a.point.key: a for a in activations}, activations


@pytest.mark.parametrize("name", ["seresnet50", "ecaresnet50d", "seresnet18"])
def test_a_gated_blocks_branch_is_its_last_bn_times_the_gate(name: str) -> None:
    _model, _image, by_key, activations = capture(name)
    last_bn = "layer1.0.bn3" if PRESETS[name].block.value == "bottleneck" else "layer1.0.bn2"
    parts = residual_parts(activations, "layer1.0")
    gate = parts.gate.tensor.float()  # (C, 1, 1)
    assert parts.gate.point.role == GATE and parts.gate.point.is_vector
    assert gate.shape == (parts.output.channels, 1, 1) and 0 < gate.min() and gate.max() < 1
    assert torch.equal(gate, by_key["layer1.0.se.scale_activation"].tensor.float())  # the sigmoid's output
    expected = by_key[last_bn].tensor.float() * gate  # F(x): each channel of the branch times its gate
    assert torch.allclose(parts.branch.tensor.float(), expected, atol=2e-3, rtol=2e-3)
    assert not torch.allclose(parts.branch.tensor.float(), by_key[last_bn].tensor.float(), atol=2e-3)


def test_the_gate_values_are_the_models_own() -> None:
    model, image, by_key, _activations = capture("seresnet50")
    seen = {}
    with torch.no_grad():  # a private model of this test's own: hooking it is fine here
        handle = model.layer2[1].se.scale_activation.register_forward_hook(lambda m, a, out: seen.setdefault("g", out))
        model(image.unsqueeze(0))
        handle.remove()
    assert torch.allclose(by_key["layer2.1:gate"].tensor.float(), seen["g"][0].float(), atol=1e-3)


def test_eca_conv_row_is_one_number_per_channel_and_its_sigmoid_is_the_gate() -> None:
    _model, _image, by_key, _activations = capture("ecaresnet50d")
    conv = by_key["layer1.0.se.conv"]
    assert conv.point.shape == (256, 1, 1) and conv.point.is_vector and conv.tensor.shape == (256, 1, 1)
    assert torch.allclose(torch.sigmoid(conv.tensor.float()), by_key["layer1.0:gate"].tensor.float(), atol=1e-3)


def test_split_attention_rows_are_vectors_and_the_feature_map_rows_are_not() -> None:
    _model, _image, by_key, _activations = capture("resnest50d")
    assert by_key["layer1.0.conv2.rsoftmax"].point.shape == (128, 1, 1) and by_key["layer1.0.conv2.rsoftmax"].point.is_vector
    weights = by_key["layer1.0.conv2.rsoftmax"].tensor.float().view(2, 64)  # radix 2: a softmax across the groups
    assert torch.allclose(weights.sum(dim=0), torch.ones(64), atol=2e-3)
    assert not by_key["layer1.0.conv2.conv"].point.is_vector and "layer1.0:gate" not in by_key


def test_pre_activation_outputs_have_no_relu_and_the_final_bn_relu_is_captured() -> None:
    _model, _image, by_key, _activations = capture("resnetv2_50")
    assert by_key["layer1.0"].point.output_text == "W_s·x + F(x)" and by_key["layer1.1"].point.output_text == "x + F(x)"
    assert "block output x + F(x) ·" in by_key["layer1.1"].point.label
    assert (by_key["layer1.1"].tensor < 0).any()  # nothing clips the sum
    final_bn, final_relu = by_key["final_bn"].tensor.float(), by_key["final_relu"].tensor.float()
    assert torch.allclose(final_relu, final_bn.clamp(min=0), atol=1e-3)
    plain = {p.key for p in capture_points(PRESETS["resnetv2_50"], SIZE)}
    assert "final_relu" in plain and "final_bn" not in plain  # the main path; the BN with the detail


def test_a_post_activation_model_has_no_gate_or_final_points() -> None:
    points = capture_points(PRESETS["resnet50"], SIZE, detail=True, residual_parts=True)
    assert not any(p.role == GATE or p.is_vector or p.stage == "head" for p in points)
    assert all(p.output_text.startswith("relu(") for p in points if p.role == "block output")


def test_channel_values_draw_a_bar_per_channel_with_the_chosen_one_marked() -> None:
    values = torch.linspace(0.1, 0.9, 8).numpy()
    figure = channel_values(values, 3, "gate")
    (bars,) = figure.data
    assert list(bars.y) == pytest.approx(values.tolist()) and len(bars.x) == 8
    assert [c for c in bars.marker.color].count("#e74c3c") == 1 and bars.marker.color[3] == "#e74c3c"
    assert figure.layout.yaxis.range == (0, 1) and figure.layout.annotations[0].text == f"c3: {values[3]:.3f}"
    assert "#e74c3c" not in channel_values(values, None, "gate").data[0].marker.color
    # Numbers outside 0–1 (a gate's fc1, before its ReLU) keep an axis that shows them all.
    unbounded = channel_values(torch.tensor([-0.5, 2.0, 0.3]).numpy(), 1, "fc1")
    assert unbounded.layout.yaxis.range is None and list(unbounded.data[0].y) == pytest.approx([-0.5, 2.0, 0.3])


# ---- the page -------------------------------------------------------------------------------

@pytest.fixture
def fresh_class_store(monkeypatch: pytest.MonkeyPatch) -> SharedResults:
    store = SharedResults(2**30)
    monkeypatch.setattr(class_runs, "class_results", lambda: store)
    return store


def chart_keys(at) -> list[str]:
    return [c.key for c in at.get("plotly_chart")]


@pytest.mark.usefixtures("offline", "fresh_class_store")
@pytest.mark.parametrize(("name", "inner"), [
    ("seresnet50", ["layer1.0.se.scale_activation", "layer1.0.se.fc1", "layer2.0.bn3"]),
    ("ecaresnet50d", ["layer1.0.se.conv", "layer1.0.se.avgpool"]),
    ("resnest50d", ["layer1.0.conv2.rsoftmax", "layer1.0.conv2.conv", "layer2.0.avd_last"]),
    ("res2net50_26w_4s", ["layer1.1.convs.1", "layer1.0.pool", "layer1.1.relu_3"]),
    ("resnetv2_50", ["layer1.0.relu_1", "final_bn", "final_relu"]),
])
def test_the_page_browses_every_row_kind(name: str, inner: list[str]) -> None:
    at = open_app("feature_maps", model=name, model_input=str(SIZE))
    if at.radio(key="fm_weights_kind").value != "random":
        at.radio(key="fm_weights_kind").set_value("random").run()
    assert not at.exception, at.exception
    at.selectbox(key="fm_layer").set_value("layer1.0").run()  # a block: its parts, and its gate if it has one
    assert not at.exception, at.exception
    gated = PRESETS[name].attention.value != "none"
    assert ("fm_gate" in chart_keys(at)) is gated and "fm_parts" in chart_keys(at)
    if gated:
        gate = json.loads(next(c for c in at.get("plotly_chart") if c.key == "fm_gate").proto.spec)
        assert len(gate["data"][0]["y"]) == 256 and all(0 < v < 1 for v in gate["data"][0]["y"])
        assert any("rescales each channel of the residual branch before the add" in c.value for c in at.caption)
    if PRESETS[name].preact:
        assert any("outputs W_s·x + F(x)" in c.value and "nothing follows the add" in c.value for c in at.caption)
    at.toggle(key="fm_detail").set_value(True).run()
    assert not at.exception, at.exception
    for key in inner:
        at.selectbox(key="fm_layer").set_value(key).run()
        assert not at.exception, (key, at.exception)
        vector = at.selectbox(key="fm_layer").value in {"layer1.0.se.scale_activation", "layer1.0.se.fc1",
                                                        "layer1.0.se.conv", "layer1.0.se.avgpool",
                                                        "layer1.0.conv2.rsoftmax"}
        assert ("fm_values" in chart_keys(at)) is vector and ("fm_grid" in chart_keys(at)) is not vector, key
        assert ("fm_zoom" in chart_keys(at)) is not vector
        if key == "layer1.0.se.scale_activation":  # the gate itself: its bars once, not again as the block's gate
            assert "fm_gate" not in chart_keys(at)


def test_a_map_that_is_1x1_at_a_small_input_stays_a_map() -> None:
    points = {p.key: p for p in capture_points(PRESETS["seresnet18"], 32, detail=True, residual_parts=True)}
    assert points["layer4.1"].shape == (512, 1, 1) and not points["layer4.1"].is_vector
    assert points["layer4.1.se.fc1"].is_vector and points["layer4.1:gate"].is_vector
