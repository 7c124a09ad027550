"""Receptive fields: theoretical boxes against the layer table and hand counts, the effective
field against the box where nothing can cancel, and the shared model left untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from explorer.model import views as model_views
from explorer.analysis.anatomy import layer_table
from explorer.model.blocks import has_gate
from explorer.model.build import build_model
from explorer.model.token import spec_from_token
from explorer.model.presets import PRESETS
from explorer.analysis.receptive_field import (
    head_field_note,
    InputBox, effective_receptive_field, effective_size, receptive_fields, stage_centre_fields, stage_map_size,
    field_stages, theoretical_receptive_field,
)
from explorer.model.spec import ResNetSpec

# Every kind of path a box is composed through: basic and bottleneck blocks, the three stems,
# avg-pool, projection, zero-pad and no shortcuts, dilation, and the stride on the first 1x1.
EXACT_SPECS = {
    "resnet18": PRESETS["resnet18"],
    "bottleneck": ResNetSpec(stages=(1, 2, 1, 1)),
    "cifar_resnet20 (zero-pad shortcut)": PRESETS["cifar_resnet20"],
    "deep stem + avg-down": ResNetSpec(stages=(1, 1, 1, 1), stem="deep", avg_down=True),
    "dilated (output stride 8)": ResNetSpec(stages=(1, 1, 2, 2), dilate=(False, True, True)),
    "caffe stride": ResNetSpec(stages=(1, 2, 1, 1), stride_style="caffe"),
    "plain (no shortcut)": ResNetSpec(stages=(1, 1, 1, 1), block="basic", shortcut="none"),
    "projection everywhere": ResNetSpec(stages=(1, 1, 1, 1), shortcut="C"),
    # The family beyond v1: the shortcut of a pre-activated input, Res2Net's channel groups (a
    # chain of 3x3s in blocks that keep their shape, side by side with a pool where they stride).
    "pre-activation": ResNetSpec(stages=(1, 2, 1, 1), preact=True),
    "pre-activation basic, CIFAR": ResNetSpec(stages=(2, 1, 1), block="basic", stem="cifar", stage_planes=(16, 32, 64),
                                              stem_width=16, preact=True, num_classes=10),
    "res2net": ResNetSpec(stages=(1, 3, 1, 1), middle_conv="res2", width_per_group=26, scales=4),
}
# Gated nets: their gates pool the whole map (no part of the window, by the table's convention);
# with the gates' pooling detached, the path's field is exactly the box.
GATED_SPECS = {
    "SE": ResNetSpec(stages=(1, 2, 1, 1), attention="se"),
    "ECA + deep stem + avg-down": ResNetSpec(stages=(1, 2, 1, 1), attention="eca", stem="deep", avg_down=True),
    "split attention (avd)": ResNetSpec(stages=(1, 2, 1, 1), middle_conv="split", stem="deep", avg_down=True),
    "split attention, pool first": ResNetSpec(stages=(1, 2, 1, 1), middle_conv="split", radix=4, stem="deep",
                                              avg_down=True, avd_first=True),
    "res2net + SE": ResNetSpec(stages=(1, 2, 1, 1), middle_conv="res2", width_per_group=26, scales=4, attention="se"),
}
NEW_PRESETS = ["resnetv2_50", "seresnet50", "ecaresnet50d", "resnest50d", "res2net50_26w_4s", "res2net50_26w_8s",
               "res2next50", "cifar_preact_resnet164", "resnetv2_18", "resnest50d_4s2x40d",
               "resnet26t"]


def test_resnet18_stem_boxes_by_hand() -> None:
    # Max pool output 28 reads conv outputs 55..57; conv output 55 reads pixels 107..113 and
    # 57 reads 111..117 (7x7, stride 2, padding 3).
    assert theoretical_receptive_field(PRESETS["resnet18"], "stem", (28, 28), 224) == InputBox(107, 107, 117, 117)
    # At the corner, the max pool's and the conv's padding are no pixels: 0..5 is left of -5..5.
    assert theoretical_receptive_field(PRESETS["resnet18"], "stem", (0, 0), 224) == InputBox(0, 0, 5, 5)
    assert theoretical_receptive_field(PRESETS["resnet18"], "stem", (0, 0), 224, clip=False) == InputBox(-5, -5, 5, 5)
    # The far corner is not the mirror image: output 55 reads conv outputs 109..111 (112 is
    # padding), and they read pixels 215..225, of which 224 and 225 are padding.
    assert theoretical_receptive_field(PRESETS["resnet18"], "stem", (55, 55), 224) == InputBox(215, 215, 223, 223)


def test_a_non_square_image_has_its_own_rows_and_columns() -> None:
    box = theoretical_receptive_field(PRESETS["resnet18"], "layer2", (0, 10), (64, 160))
    assert stage_map_size(PRESETS["resnet18"], "layer2", (64, 160)) == (8, 20)
    assert box == InputBox(0, 10 * 8 - 49, 49, 10 * 8 + 49)  # layer2: rf 99 (±49), jump 8


# Variants no preset has, where a block's path and its rows part ways: a pre-activation block whose
# last rows are its gate's, and Res2Net's joined groups after dilated convs.
VARIANT_TOKENS = ["resnetv2_50;attention=se", "resnetv2_18;attention=eca", "res2net50_26w_4s;dilate=0,1,1",
                  "res2net50_14w_8s;shortcut=C;dilate=0,0,1"]


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet50_caffe", "resnet50d", "cifar_resnet20",
                                  "resnext50_32x4d", *NEW_PRESETS, *VARIANT_TOKENS])
def test_unclipped_boxes_have_the_layer_tables_size_and_jump(name: str) -> None:
    spec = spec_from_token(name)
    size = spec.natural_input_size
    table = layer_table(spec, size)
    for stage in field_stages(spec):
        row = next(s for s in table.stages if s.name == stage)
        rows, columns = stage_map_size(spec, stage, size)
        assert (rows, columns) == row.out_shape[1:]
        centre = theoretical_receptive_field(spec, stage, (rows // 2, columns // 2), size, clip=False)
        below = theoretical_receptive_field(spec, stage, (rows // 2 + 1, columns // 2), size, clip=False)
        right = theoretical_receptive_field(spec, stage, (rows // 2, columns // 2 + 1), size, clip=False)
        assert centre.height == centre.width == row.rf_size, stage
        assert below.top - centre.top == below.bottom - centre.bottom == row.rf_jump, stage
        assert right.left - centre.left == right.right - centre.right == row.rf_jump, stage
        assert (below.left, below.right) == (centre.left, centre.right)


def test_resnet18_and_resnet50_stage_fields_at_224() -> None:
    sizes = {name: [theoretical_receptive_field(PRESETS[name], stage, (0, 0), 224, clip=False).height
                    for stage in field_stages(PRESETS[name])] for name in ("resnet18", "resnet50")}
    assert sizes == {"resnet18": [11, 43, 99, 211, 435], "resnet50": [11, 35, 91, 267, 427]}


def test_res2net_stage_fields_by_hand() -> None:
    """res2net50_26w_4s at 224: a stage's first block convolves its groups side by side (one 3x3
    step), the others chain three 3x3s (each group adds the previous one's output)."""
    spec = PRESETS["res2net50_26w_4s"]
    sizes, rf, jump = [], 11, 4  # the stem: 7x7/2 and 3x3/2 max pool
    sizes.append(rf)
    for blocks, stride in zip(spec.stages, (1, 2, 2, 2)):
        rf += 2 * jump  # the first block: one 3x3 (or the 3x3 pool) on each group, with the stride
        jump *= stride
        rf += (blocks - 1) * 3 * 2 * jump  # the others: three 3x3s in a chain
        sizes.append(rf)
    assert sizes == [11, 67, 219, 715, 1131]
    assert [theoretical_receptive_field(spec, stage, (0, 0), 224, clip=False).height
            for stage in field_stages(spec)] == sizes


@pytest.mark.parametrize(("stage", "position", "message"), [
    ("layer5", (0, 0), "'layer5' is not a stage of resnet18: choose one of stem, layer1, layer2, layer3, layer4."),
    ("head", (0, 0), "'head' is not a stage of resnet18"),
    ("layer4", (7, 0), "Position (7, 0) is outside layer4's 7×7 map: rows go from 0 to 6 and columns from 0 to 6."),
    ("layer1", (0, -1), "Position (0, -1) is outside layer1's 56×56 map"),
    ("layer1", (1,), "A position is two whole numbers (row, column), got (1,)."),
    ("layer1", (1.5, 2), "A position is two whole numbers (row, column), got (1.5, 2)."),
    ("layer1", 3, "A position is two whole numbers (row, column), got 3."),
])
def test_a_bad_stage_or_position_is_explained(stage: str, position, message: str) -> None:
    with pytest.raises(ValueError) as error:
        theoretical_receptive_field(PRESETS["resnet18"], stage, position, 224)
    assert message in str(error.value)


def test_an_image_smaller_than_the_stride_is_explained() -> None:
    with pytest.raises(ValueError, match="each side must be at least 32 pixels"):
        theoretical_receptive_field(PRESETS["resnet18"], "stem", (0, 0), 16)


# ---- the effective field --------------------------------------------------------------------


def positive_model(spec: ResNetSpec) -> nn.Module:
    """Every conv averages its window (weight 1/fan-in), every BN adds 0.1: with a positive image,
    every ReLU stays active and every path from a pixel to an output carries a positive gradient.
    In float64, so the longest paths (products of many 1/fan-in) stay far from underflow."""
    model = build_model(spec, seed=0).double()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(1.0 / module.weight[0].numel())
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.fill_(0.1)
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
    return model


@pytest.fixture
def average_pooled_views(monkeypatch: pytest.MonkeyPatch) -> None:
    """Views built with an average pool where the stem has its 3x3/2 max pool (same geometry).

    A max pool sends the gradient to each window's largest input only, so behind it the
    effective field is zero at pixels the box holds; the average pool reads the same window.
    The views are what `effective_receptive_field` runs, so that is where the pool is swapped.
    """
    build = model_views.build_model

    def with_average_pool(spec: ResNetSpec, device="cpu", seed=None) -> nn.Module:
        model = build(spec, device, seed)
        if isinstance(model.maxpool, nn.MaxPool2d):
            model.maxpool = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)
        return model

    monkeypatch.setattr(model_views, "build_model", with_average_pool)


def positive_image(size: int) -> torch.Tensor:
    return torch.rand(3, size, size, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 0.5


def box_mask(box: InputBox, size: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[box.top:box.bottom + 1, box.left:box.right + 1] = True
    return mask


class _DetachedPool(nn.AdaptiveAvgPool2d):
    """A gate's global pool that passes no gradient: the gate scales the map, but the map does not move it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.detach())


@pytest.fixture
def detached_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Views whose channel gates' pools are detached (see `_DetachedPool`), on top of `average_pooled_views`."""
    build = model_views.build_model

    def with_detached_gates(spec: ResNetSpec, device="cpu", seed=None) -> nn.Module:
        model = build(spec, device, seed)
        for module in model.modules():
            if has_gate(module):
                module.avgpool = _DetachedPool(1)
        return model

    monkeypatch.setattr(model_views, "build_model", with_detached_gates)


@pytest.mark.usefixtures("average_pooled_views", "detached_gates")
@pytest.mark.parametrize("name", [*EXACT_SPECS, *GATED_SPECS])
def test_where_nothing_cancels_the_effective_field_fills_exactly_the_box(name: str) -> None:
    spec = {**EXACT_SPECS, **GATED_SPECS}[name]
    size = 32 if spec.is_cifar else 96
    requests = []
    for stage in field_stages(spec):
        rows, columns = stage_map_size(spec, stage, size)
        corners = [(0, 0), (rows - 1, columns - 1), (0, columns - 1), (rows - 1, 0)]
        requests += [(stage, position) for position in {*corners, (rows // 2, columns // 2), (1, min(2, columns - 1))}]
    # One forward pass for every position; effective_receptive_field runs the same code per position.
    for found in receptive_fields(positive_model(spec), spec, positive_image(size), requests):
        box = theoretical_receptive_field(spec, found.stage, found.position, size)
        assert found.effective.shape == (size, size) and found.effective.max() == 1.0
        assert np.array_equal(found.effective > 0, box_mask(box, size)), (found.stage, found.position, box)


@pytest.mark.usefixtures("average_pooled_views")
@pytest.mark.parametrize("name", GATED_SPECS)
def test_a_gates_global_pool_reaches_past_the_box(name: str) -> None:
    """The convention, shown: through its gates' pools every pixel moves an output a little, so the
    effective field of a gated net is not zero outside the path's box."""
    spec = GATED_SPECS[name]
    field = effective_receptive_field(positive_model(spec), spec, "layer1", positive_image(96), (0, 0))
    box = theoretical_receptive_field(spec, "layer1", (0, 0), 96)
    assert box.height < 96 and field[~box_mask(box, 96)].max() > 0


@pytest.mark.usefixtures("average_pooled_views")
def test_one_position_alone_gives_the_same_exact_field() -> None:
    spec = EXACT_SPECS["caffe stride"]
    field = effective_receptive_field(positive_model(spec), spec, "layer3", positive_image(96), (5, 0))
    assert np.array_equal(field > 0, box_mask(theoretical_receptive_field(spec, "layer3", (5, 0), 96), 96))


@pytest.mark.usefixtures("average_pooled_views")
@pytest.mark.parametrize("name", ["resnet18", "bottleneck"])
def test_where_nothing_cancels_the_peak_is_at_the_centre_of_the_box(name: str) -> None:
    spec = EXACT_SPECS[name]
    model, image = positive_model(spec), positive_image(96)
    for stage in ("layer1", "layer2"):
        rows, columns = stage_map_size(spec, stage, 96)
        field = effective_receptive_field(model, spec, stage, image)  # the map's centre
        box = theoretical_receptive_field(spec, stage, (rows // 2, columns // 2), 96)
        peak = np.unravel_index(int(np.argmax(field)), field.shape)
        assert abs(peak[0] - box.centre[0]) <= 1 and abs(peak[1] - box.centre[1]) <= 1, (stage, peak, box)


def test_a_trained_like_field_is_zero_outside_the_box_with_max_pool_and_random_weights() -> None:
    spec = PRESETS["resnet18"]
    model = build_model(spec, seed=3)
    image = torch.randn(3, 96, 96, generator=torch.Generator().manual_seed(1))
    for stage, position in (("stem", (0, 0)), ("layer2", (3, 10)), ("layer3", (5, 5))):
        field = effective_receptive_field(model, spec, stage, image, position)
        box = theoretical_receptive_field(spec, stage, position, 96)
        assert field.dtype == np.float32 and field.max() == 1.0 and field.min() >= 0
        assert not field[~box_mask(box, 96)].any(), stage
        assert (field > 0).sum() > box.height * box.width / 4  # a field, not a few pixels


def test_the_shared_model_is_left_as_it_was() -> None:
    spec = PRESETS["resnet18"]
    model = build_model(spec, seed=0)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    image = torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(0))
    first = effective_receptive_field(model, spec, "layer3", image, (1, 2))
    stage_centre_fields(model, spec, image)
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert not model.training
    for module in model.modules():
        assert not (module._forward_hooks or module._forward_pre_hooks or module._backward_hooks), module
    assert np.array_equal(first, effective_receptive_field(model, spec, "layer3", image, (1, 2)))  # same again


def test_effective_size_counts_the_square_that_holds_95_percent() -> None:
    field = np.zeros((21, 21))
    field[8:13, 8:13] = 1.0  # 5x5 around (10, 10)
    assert effective_size(field, (10, 10)) == 5
    field[10, 10] = 100.0  # 100 of 124 in the centre pixel: 3x3 holds 109, 95% is 117.8
    assert effective_size(field, (10, 10)) == 5
    field[10, 10] = 1000.0  # 1000 of 1024: the centre alone holds 97.7%
    assert effective_size(field) == 1
    corner = np.zeros((10, 10))
    corner[:4, :4] = 1.0
    assert effective_size(corner, (0, 0)) == 4  # a square reaching 3 pixels, cut by the border to 4x4
    assert effective_size(np.zeros((5, 5))) == 0


def test_stage_centre_fields_grow_with_depth_and_the_effective_one_is_smaller() -> None:
    spec = PRESETS["resnet18"]
    model = build_model(spec, seed=0)
    image = torch.randn(3, 224, 224, generator=torch.Generator().manual_seed(0))
    fields = stage_centre_fields(model, spec, image)
    assert [f.stage for f in fields] == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert [f.window_size for f in fields] == [11, 43, 99, 211, 435]
    assert [f.theoretical_size for f in fields] == [11, 43, 99, 211, 224]
    assert [f.position for f in fields] == [(28, 28), (28, 28), (14, 14), (7, 7), (3, 3)]
    effective = [f.effective_size for f in fields]
    assert effective == sorted(effective)
    assert all(f.effective_size <= f.theoretical_size for f in fields)
    assert fields[-1].effective_size < fields[-1].window_size / 2  # the paper's point
    (one,) = receptive_fields(model, spec, image, [("layer2", (14, 14))])
    assert np.array_equal(one.effective, fields[2].effective) and one.box == fields[2].box


@pytest.mark.parametrize(("name", "size", "side"), [("resnet18", 224, 7), ("resnet50", (224, 320), 7),
                                                      ("cifar_resnet20", 32, 8), ("resnet50", 1024, 32)])
def test_the_head_note_adds_up_to_the_head_rows_receptive_field(name: str, size, side: int) -> None:
    from explorer.model.presets import get_preset

    table = layer_table(get_preset(name), size)
    fc = table.rows[-1]
    rf, jump = table.totals.rf_size, table.totals.output_stride
    assert fc.type == "Linear" and fc.rf_size == rf + (side - 1) * jump  # the global pool spans every position
    assert f"{rf} + ({side} − 1) × {jump} = {fc.rf_size} px" in head_field_note(table)


@pytest.mark.parametrize("name", ["resnetv2_50", "seresnet50", "ecaresnet50d", "resnest50d", "res2net50_26w_4s",
                                  "cifar_preact_resnet164"])
def test_the_effective_field_runs_for_every_block_kind(name: str) -> None:
    spec = PRESETS[name]
    size = 32 if spec.is_cifar else 64
    model = build_model(spec, seed=0)
    image = torch.randn(3, size, size, generator=torch.Generator().manual_seed(0))
    fields = stage_centre_fields(model, spec, image)
    table = layer_table(spec, size)
    assert [f.stage for f in fields] == list(field_stages(spec))
    assert [f.window_size for f in fields] == [s.rf_size for s in table.stages if s.name != "head"]
    assert all(f.effective.shape == (size, size) and f.effective.max() == 1.0 for f in fields)
