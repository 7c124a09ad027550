"""activations.py and model_views.py: exact values, shapes from the layer table, thread safety, memory budget,
and the browsing helpers of the Feature maps page."""

from __future__ import annotations

import io
from functools import partial

import numpy as np
import pytest
import torch
from torch import nn

from explorer.analysis.activations import (
    CHANNELS_PER_PAGE, Activation, CaptureKey, CapturePoint, CaptureTooLarge, capture_activations, capture_bytes,
    capture_points, file_stem, first_conv_filters, residual_parts,
)
from explorer.analysis.colour_scale import ColourScale, value_range
from explorer.analysis.anatomy import layer_table
from explorer.model.build import build_model
from explorer.figures.maps import channel_grid, channel_zoom, depth_statistics, side_by_side
from explorer.data.images import Preprocessing
from explorer.model.views import MAX_IDLE_VIEWS, leased_view
from explorer.model.presets import PRESETS, cifar_resnet
from explorer.model.spec import ResNetSpec
from explorer.model.sources import ModelSource, SourceKind
from tests.conftest import run_together


def image(seed: int, size: int = 64) -> torch.Tensor:
    return torch.randn(3, size, size, generator=torch.Generator().manual_seed(seed))


def direct_outputs(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every leaf call's output of a plain forward, keyed as the capture keys them."""
    outputs: dict[str, torch.Tensor] = {}
    calls: dict[str, int] = {}
    names = {m: n for n, m in model.named_modules()}
    handles = []
    for module in model.modules():
        if not list(module.children()) and not isinstance(module, nn.Identity):
            def hook(m, args, out):
                name = names[m]
                call = calls.get(name, 0)
                calls[name] = call + 1
                outputs[name if call == 0 else f"{name}_{call}"] = out[0].clone()
            handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(x.unsqueeze(0))
    for handle in handles:
        handle.remove()
    return outputs


@pytest.mark.parametrize(("spec", "size"), [
    (PRESETS["resnet18"], 64), (PRESETS["resnet50"], 64), (PRESETS["resnet50d"], 64), (cifar_resnet(20), 32),
    (ResNetSpec(stages=(1, 1, 1), dilate=(False, True)), 64),
])
def test_captured_maps_equal_a_direct_forward(spec: ResNetSpec, size: int) -> None:
    model = build_model(spec, seed=0)
    x = image(1, size)
    points = capture_points(spec, size, detail=True, residual_parts=True)
    captured = {a.point.key: a for a in capture_activations(model, spec, x, points)}
    reference = direct_outputs(build_model(spec, seed=0), x)
    table = {(r.name if r.call == 0 else f"{r.name}_{r.call}"): r for r in layer_table(spec, size).rows}
    for key, activation in captured.items():
        assert tuple(activation.tensor.shape) == activation.point.shape
        if key in reference:
            assert activation.point.shape == table[key].out_shape
            torch.testing.assert_close(activation.tensor.float(), reference[key], atol=2e-2, rtol=2e-3)
    # The residual identity holds for every block: output = relu(shortcut + F(x)).
    blocks = [p.key for p in points if p.role == "block output"]
    for block in blocks:
        recombined = torch.relu(captured[f"{block}:shortcut"].tensor.float() + captured[f"{block}:branch"].tensor.float())
        torch.testing.assert_close(recombined, captured[block].tensor.float(), atol=2e-2, rtol=2e-3)
    # BasicBlock's relu is called twice: two entries that differ.
    if spec.block.value == "basic":
        assert not torch.equal(captured["layer1.0.relu"].tensor, captured["layer1.0.relu_1"].tensor)


def test_branch_is_taken_before_the_in_place_add() -> None:
    spec = PRESETS["resnet50"]
    model = build_model(spec, seed=0)
    x = image(2)
    captured = {a.point.key: a for a in capture_activations(model, spec, x, capture_points(spec, 64, residual_parts=True))}
    with torch.no_grad():
        stem = model.maxpool(model.relu(model.bn1(model.conv1(x.unsqueeze(0)))))
        block = model.layer1[0]
        branch = block.bn3(block.conv3(block.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(stem))))))))
    torch.testing.assert_close(captured["layer1.0:branch"].tensor.float(), branch[0], atol=2e-2, rtol=2e-3)
    torch.testing.assert_close(captured["stem"].tensor.float(), stem[0], atol=1e-2, rtol=2e-3)


def test_the_shared_model_is_never_touched() -> None:
    spec = PRESETS["resnet18"]
    model = build_model(spec, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = image(3).unsqueeze(0)  # (1, 3, 64, 64)
    with leased_view(model, spec) as view:
        # A separate module tree over the very same tensors: no copy, no shared module.
        assert view is not model and not set(map(id, view.modules())) & set(map(id, model.modules()))
        shared = model.state_dict()
        assert all(t.data_ptr() == shared[k].data_ptr() for k, t in view.state_dict().items())
        fired: list[str] = []
        handle = view.layer1.register_forward_hook(lambda *_: fired.append("hook"))
        try:
            with torch.no_grad():
                plain = model(x)  # another session's plain forward
            assert fired == []
            with torch.no_grad():
                torch.testing.assert_close(view(x), plain)
            assert fired == ["hook"]
        finally:
            handle.remove()
    capture_activations(model, spec, image(3), capture_points(spec, 64, detail=True))
    assert not model.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_views_are_pooled_per_model_and_concurrent_leases_get_their_own() -> None:
    spec = cifar_resnet(20)
    model = build_model(spec, seed=0)
    with leased_view(model, spec) as first, leased_view(model, spec) as second:
        assert second is not first
    with leased_view(model, spec) as again:
        assert again is first or again is second  # an idle view is reused, not rebuilt
    leases = [leased_view(model, spec) for _ in range(MAX_IDLE_VIEWS + 2)]
    views = [lease.__enter__() for lease in leases]
    assert len(set(map(id, views))) == len(views)
    for lease in leases:
        lease.__exit__(None, None, None)
    with leased_view(build_model(spec, seed=1), spec) as other:
        assert other not in views  # another model never gets this model's views


def test_concurrent_sessions_each_get_their_own_result() -> None:
    spec = PRESETS["resnet18"]
    model = build_model(spec, seed=0)
    every = capture_points(spec, 64, detail=True, residual_parts=True)
    jobs = [(seed, every[seed::3]) for seed in range(10)]
    expected = {seed: capture_activations(model, spec, image(seed), points) for seed, points in jobs}

    def capture_three_times(seed: int, points) -> tuple:
        return [capture_activations(model, spec, image(seed), points) for _ in range(3)][-1]

    results = run_together(*(partial(capture_three_times, seed, points) for seed, points in jobs))
    for (seed, _), got in zip(jobs, results):
        want = expected[seed]
        assert [a.point.key for a in got] == [a.point.key for a in want]
        assert all(torch.equal(a.tensor, b.tensor) for a, b in zip(got, want))


def test_memory_budget_refuses_politely() -> None:
    spec = PRESETS["resnet152"]
    points = capture_points(spec, 1024, detail=True)
    assert capture_bytes(points) > 2**30
    with pytest.raises(CaptureTooLarge, match="above the budget of 1,024 MiB"):
        capture_activations(build_model(spec, "meta"), spec, torch.zeros(3, 1024, 1024), points, budget_bytes=2**30)


def test_maps_are_float16_or_bfloat16_beyond_its_range() -> None:
    spec = cifar_resnet(20)
    model = build_model(spec, seed=0)
    captured = capture_activations(model, spec, image(4, 32), capture_points(spec, 32))
    assert {a.tensor.dtype for a in captured} == {torch.float16}
    with torch.no_grad():
        model.conv1.weight.mul_(1e6)
        model.bn1.running_var.fill_(1.0)
    loud = capture_activations(model, spec, image(4, 32), capture_points(spec, 32))
    stem = loud[0]
    assert stem.tensor.dtype == torch.bfloat16 and torch.isfinite(stem.tensor).all() and stem.maximum > 65504


def test_default_points_are_the_main_path_and_blocks_select_residual_parts() -> None:
    spec = PRESETS["resnet50"]
    points = capture_points(spec, 224)
    assert [p.role for p in points] == ["stem"] + ["block output"] * 16
    assert [p.key for p in capture_points(spec, 224, residual_parts=True) if p.block_name == "layer2.0"] == [
        "layer2.0:shortcut", "layer2.0:branch", "layer2.0"]
    detail = capture_points(spec, 224, detail=True)
    assert len(detail) == 1 + sum(1 for r in layer_table(spec, 224).rows if r.block is not None and len(r.out_shape) == 3) + 16


def test_statistics() -> None:
    spec = PRESETS["resnet18"]
    captured = capture_activations(build_model(spec, seed=0), spec, image(5), capture_points(spec, 64))
    output = next(a for a in captured if a.point.role == "block output")
    values = output.tensor.float()
    assert output.zero_fraction == pytest.approx(float((values == 0).float().mean()))
    assert output.minimum == 0.0 and output.maximum == pytest.approx(float(values.max()))
    assert output.mean == pytest.approx(float(values.mean())) and output.std > 0


def made_activation(values: torch.Tensor) -> Activation:
    """An activation of the given (C, H, W) values, as if captured."""
    point = CapturePoint("layer1.0", "layer1.0", 0, False, "block output", "layer1", 0, tuple(values.shape), "identity")
    return Activation(point, values.to(torch.float16))


def test_channels_rank_by_mean_and_page_by_64() -> None:
    means = torch.tensor([0.5, 2.0, -1.0, 2.0, 0.0])
    activation = made_activation(means.view(5, 1, 1).expand(5, 2, 2).clone())
    assert activation.top_channels(3) == (1, 3, 0)  # ties keep channel order
    assert activation.top_channels(99) == (1, 3, 0, 4, 2)
    wide = made_activation(torch.zeros(130, 1, 1))
    assert CHANNELS_PER_PAGE == 64 and wide.page_count == 3 and activation.page_count == 1
    assert wide.channel_page(1) == tuple(range(64)) and wide.channel_page(3) == (128, 129)
    for page in (0, 4):
        with pytest.raises(ValueError, match="has 3 page"):
            wide.channel_page(page)
    np.testing.assert_array_equal(activation.maps, activation.tensor.float().numpy())
    assert activation.maps.dtype == np.float32 and activation.channels == 5


def test_colour_ranges_are_the_layers_or_every_layers() -> None:
    low, high = made_activation(torch.tensor([-1.0, 3.0]).view(2, 1, 1)), made_activation(torch.tensor([0.0, 8.0]).view(2, 1, 1))
    assert value_range([low, high], low, ColourScale.GLOBAL) == (-1.0, 8.0)
    assert value_range([low, high], low, ColourScale.PER_LAYER) == (-1.0, 3.0)
    assert value_range([low, high], high, ColourScale.PER_CHANNEL) == (0.0, 8.0)


def test_residual_parts_are_one_blocks_shortcut_branch_and_output_from_the_one_capture() -> None:
    spec = PRESETS["resnet18"]
    model = build_model(spec, seed=0)
    x = image(6)
    every = capture_activations(model, spec, x, capture_points(spec, 64, residual_parts=True))
    parts = residual_parts(every, "layer2.0")
    assert [p.point.key for p in parts.all] == ["layer2.0:shortcut", "layer2.0:branch", "layer2.0"]
    by_key = {a.point.key: a for a in every}
    assert all(p is by_key[p.point.key] for p in parts.all)  # the capture's own maps: no forward pass of its own
    assert [p.point.is_residual_part for p in parts.all] == [True, True, False]
    channel = 5
    values = [p.tensor[channel].float() for p in parts.all]
    assert parts.channel_range(channel) == (min(float(v.min()) for v in values), max(float(v.max()) for v in values))
    assert parts.channel_range(channel)[0] < 0 < parts.channel_range(channel)[1]  # the branch goes negative
    for block in ("layer9.0", "stem"):
        with pytest.raises(ValueError, match=f"no residual parts of a block named '{block}'"):
            residual_parts(every, block)
    with pytest.raises(ValueError, match="no residual parts"):  # a capture of the main path only
        residual_parts(capture_activations(model, spec, x, capture_points(spec, 64)), "layer2.0")


def test_feature_map_charts_label_every_tile_mark_the_layer_and_share_one_range() -> None:
    maps = np.arange(20 * 5 * 6, dtype=np.float32).reshape(20, 5, 6)
    grid = channel_grid(maps, [3, 1, 7, 0, 2, 4, 5, 6, 9, 11], ColourScale.PER_LAYER, (0.0, 1.0), "t")
    # 8 tiles of 6 px (+1 px gap) per row; the second row starts 5 + 1 px lower.
    assert [(a.x, a.y, a.text) for a in grid.layout.annotations][:2] == [(0, 10, "c3"), (7, 10, "c1")]
    assert [(a.x, a.y, a.text) for a in grid.layout.annotations][8:] == [(0, 4, "c9"), (7, 4, "c11")]
    depth = depth_statistics(["a", "b", "c"], ["A", "B", "C"], {"mean": [1, 2, 3], "std": [1, 1, 1], "zeros": [0, 0, 0],
                                                                  "size": [8, 4, 4]}, "c")
    assert list(depth.data[0].x) == ["a", "b", "c"]  # the x axis names the layers
    assert [(s.x0, s.xref, s.yref) for s in depth.layout.shapes] == [
        (2, "x", "y domain"), (2, "x2", "y2 domain"), (2, "x3", "y3 domain"), (2, "x4", "y4 domain")]
    assert [t.xaxis for t in depth.data] == ["x", "x2", "x3", "x4"]  # one mark on each subplot's own axis
    assert not depth_statistics(["a"], ["A"], {"mean": [1]}, "gone").layout.shapes
    parts = side_by_side([maps[0], maps[1], maps[2]], ["x", "F(x)", "out"], (-1.0, 60.0), "layer1.0, channel 0")
    assert [(t.xaxis, t.yaxis, t.coloraxis) for t in parts.data] == [("x", "y", "coloraxis"), ("x2", "y2", "coloraxis"),
                                                                      ("x3", "y3", "coloraxis")]
    np.testing.assert_array_equal(parts.data[1].z, maps[1][::-1])
    assert (parts.layout.coloraxis.cmin, parts.layout.coloraxis.cmax) == (-1.0, 60.0)
    domains = [tuple(parts.layout[f"xaxis{i}"].domain) for i in (1, 2, 3)]
    assert domains[0][0] == 0 and domains[2][1] == pytest.approx(1) and domains[0][1] < domains[1][0] < domains[1][1] < domains[2][0]
    assert [a.text for a in parts.layout.annotations] == ["x", "F(x)", "out"]


def test_the_charts_built_unchecked_on_every_click_pass_plotlys_checks() -> None:
    """`unchecked_figure` skips plotly's validation for speed: here each such chart goes through it."""
    import plotly.graph_objects as go

    maps = np.arange(20 * 5 * 6, dtype=np.float32).reshape(20, 5, 6)
    stats = {"mean": [1, 2, 3], "std": [1, 1, 1], "zeros": [0, 0, 0], "size": [8, 4, 4]}
    for figure in (channel_grid(maps, [3, 1], ColourScale.PER_CHANNEL, (0.0, 1.0), "t"), channel_zoom(maps[0], "t"),
                   side_by_side([maps[0], maps[1]], ["x", "F(x)"], (0.0, 1.0), "t"),
                   depth_statistics(["a", "b", "c"], ["A", "B", "C"], stats, "b")):
        go.Figure(figure.to_dict())  # raises on any property plotly does not know


def test_downloads_and_filters_come_from_the_capture_and_the_model() -> None:
    spec = cifar_resnet(20, num_classes=2)
    model = build_model(spec, seed=0)
    shortcut = next(p for p in capture_points(spec, 32, residual_parts=True) if p.key == "layer2.0:shortcut")
    assert file_stem(spec, shortcut) == "cifar_resnet20_2cls_layer2.0_shortcut"
    assert shortcut.block_name == "layer2.0" and capture_points(spec, 32)[0].block_name is None
    (stem,) = capture_activations(model, spec, image(7, 32), capture_points(spec, 32)[:1])
    restored = torch.load(io.BytesIO(stem.pt_bytes()), weights_only=True)
    assert restored.dtype == torch.float16 and torch.equal(restored, stem.tensor)
    np.testing.assert_array_equal(first_conv_filters(model), model.conv1.weight.detach().numpy())
    deep = build_model(PRESETS["resnet50d"], seed=0)
    assert first_conv_filters(deep).shape == (32, 3, 3, 3)  # the deep stem's first conv


def test_a_capture_key_changes_with_whatever_changes_the_maps() -> None:
    spec, source, settings = PRESETS["resnet18"], ModelSource(SourceKind.RANDOM), Preprocessing.for_size(96)
    key = CaptureKey(spec, source, "abc", settings, False)
    assert key == CaptureKey(PRESETS["resnet18"], ModelSource(SourceKind.RANDOM, seed=0), "abc", Preprocessing.for_size(96), False)
    others = [CaptureKey(PRESETS["resnet34"], source, "abc", settings, False),
              CaptureKey(spec, ModelSource(SourceKind.RANDOM, seed=1), "abc", settings, False),
              CaptureKey(spec, source, "abd", settings, False),
              CaptureKey(spec, source, "abc", Preprocessing.for_size(64), False),
              CaptureKey(spec, source, "abc", settings, True)]
    assert len({key, *others}) == 6


def test_a_plain_block_shows_its_branch_and_output_but_no_shortcut() -> None:
    spec = cifar_resnet(20, shortcut="none")
    captured = capture_activations(build_model(spec, seed=0), spec, image(2, 32), capture_points(spec, 32, residual_parts=True))
    parts = residual_parts(captured, "layer2.0")
    assert parts.shortcut is None and len(parts.all) == 2
    assert torch.equal(parts.output.tensor.float(), torch.relu(parts.branch.tensor.float()))
    assert "relu(F(x))" in parts.output.point.label and "x + F(x)" not in parts.output.point.label
