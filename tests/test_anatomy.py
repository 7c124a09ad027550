"""The layer table against torchvision's meta, torchinfo, thop, real forwards and seed 002."""

from __future__ import annotations

import csv

import pytest
import thop
import torch
import torchinfo
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import get_model_weights

from explorer.analysis.anatomy import Level, RowKind, layer_table
from explorer.model.build import build_model
from explorer.model.presets import PRESETS, TORCHVISION_PRESETS, cifar_resnet, resnet_for_depth
from explorer.model.spec import ResNetSpec, stage_name
from explorer.analysis.shortcuts import ShortcutKind
from explorer.analysis.table_format import BLOCK_COLUMNS, records, screen_records, to_csv
from explorer.runtime.i18n import in_language
from tests.conftest import FIXTURES
from tests.update_golden import GOLDEN_MODELS, golden_table


def _bn_affine_and_bias(spec: ResNetSpec, size: int = 224) -> int:
    """What torchinfo adds to conv+linear MACs: one mult-add per BN affine param and per fc bias."""
    rows = layer_table(spec, size).rows
    return sum(r.params for r in rows if r.type == "BatchNorm2d") + spec.num_classes


# REFERENCE.md's table: parameters and GMACs (torchvision's `_ops`) as published. They pin the
# numbers themselves, so a torchvision release that changed its meta would be noticed.
REFERENCE_TOTALS = {
    "resnet18": (11_689_512, 1.814), "resnet34": (21_797_672, 3.664), "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801), "resnet152": (60_192_808, 11.514),
    "resnext50_32x4d": (25_028_904, 4.230), "resnext101_32x8d": (88_791_336, 16.414),
    "wide_resnet50_2": (68_883_240, 11.398), "wide_resnet101_2": (126_886_696, 22.753),
}


@pytest.mark.parametrize("name", TORCHVISION_PRESETS)
def test_totals_equal_the_published_params_and_macs(name: str) -> None:
    meta = get_model_weights(name).DEFAULT.meta
    totals = layer_table(PRESETS[name], 224).totals
    assert totals.params == meta["num_params"]
    # The meta's _ops is GMACs with three decimals, cut for some models (resnet101: 7.8015 ->
    # 7.801) and rounded for others (resnet34: 3.6638 -> 3.664): equal within 0.001 G.
    assert abs(totals.macs / 1e9 - meta["_ops"]) < 0.001
    if name in REFERENCE_TOTALS:  # resnext101_64x4d is in torchvision, not in REFERENCE.md
        assert (meta["num_params"], meta["_ops"]) == REFERENCE_TOTALS[name]


def test_reference_md_mult_adds_are_torchinfo_convention() -> None:
    # REFERENCE.md quotes 7,801,511,784 (resnet101) and 4,230,549,096 (resnext50_32x4d):
    # torchinfo's count, i.e. conv+linear MACs plus BN affine params plus the fc bias.
    for name, quoted in (("resnet101", 7_801_511_784), ("resnext50_32x4d", 4_230_549_096)):
        spec = PRESETS[name]
        assert layer_table(spec, 224).totals.macs + _bn_affine_and_bias(spec) == quoted


def _thop_conv_linear_ops(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """thop's count for every conv and linear module, by qualified name."""
    _, _, info = thop.profile(model, inputs=(x,), verbose=False, ret_layer_info=True)
    modules = dict(model.named_modules())
    ops_by_name: dict[str, int] = {}

    def walk(tree: dict, prefix: str = "") -> None:
        for key, (ops, _params, children) in tree.items():
            name = prefix + key
            if isinstance(modules[name], (nn.Conv2d, nn.Linear)):
                ops_by_name[name] = int(ops)
            walk(children, name + ".")

    walk(info)
    return ops_by_name


@pytest.mark.parametrize(("spec", "size"), [
    (PRESETS["resnet18"], 224), (PRESETS["resnet50"], 224), (PRESETS["resnet50_caffe"], 160),
    (PRESETS["resnet50d"], 128), (PRESETS["resnext50_32x4d"], 96), (cifar_resnet(20), 32),
    (ResNetSpec(dilate=(False, True, True), num_classes=21), 96),
])
def test_params_and_macs_equal_torchinfo_and_thop_per_layer(spec: ResNetSpec, size: int) -> None:
    table = layer_table(spec, size)
    model = build_model(spec, seed=0)
    x = torch.zeros(1, spec.in_channels, size, size)
    info = torchinfo.summary(model, input_data=x, verbose=0)
    assert info.total_params == table.totals.params
    assert info.total_mult_adds == table.totals.macs + _bn_affine_and_bias(spec, size)
    # Every conv and linear row, one by one (each is called once), and no layer thop counts that we miss.
    ours = {r.name: r.macs for r in table.rows if r.type in ("Conv2d", "Linear")}
    assert _thop_conv_linear_ops(build_model(spec, seed=0), x) == ours
    assert sum(ours.values()) == table.totals.macs


def _hooked_forward(spec: ResNetSpec, size: int) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """(name, in shape, out shape) of every leaf call in a real CPU forward."""
    model = build_model(spec, seed=0)
    seen: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    names = {m: n for n, m in model.named_modules()}
    for module in model.modules():
        if not list(module.children()) and not isinstance(module, nn.Identity):
            module.register_forward_hook(
                lambda m, args, out: seen.append((names[m], tuple(args[0].shape[1:]), tuple(out.shape[1:])))
            )
    with torch.no_grad():
        model(torch.randn(1, spec.in_channels, size, size))
    return seen


@pytest.mark.parametrize(("spec", "size"), [
    (PRESETS["resnet18"], 64), (PRESETS["resnet50"], 64), (PRESETS["resnet50_caffe"], 64),
    (PRESETS["resnet50d"], 96), (ResNetSpec(dilate=(False, True, True)), 64),
    (PRESETS["resnext50_32x4d"], 64), (cifar_resnet(20), 32), (cifar_resnet(20).with_changes(shortcut="C"), 40),
    (ResNetSpec(stages=(1, 1, 1), block="basic", in_channels=1, num_classes=3), 45),
    (cifar_resnet(20, shortcut="none"), 32), (PRESETS["resnet50_caffe"].with_changes(shortcut="none"), 64),
])
def test_every_row_shape_equals_a_real_forward(spec: ResNetSpec, size: int) -> None:
    rows = layer_table(spec, size).rows
    assert [(r.name, r.in_shape, r.out_shape) for r in rows] == _hooked_forward(spec, size)


def test_reused_relu_appears_once_per_call_with_params_counted_once() -> None:
    rows = layer_table(PRESETS["resnet18"], 224).rows
    relu_calls = [r for r in rows if r.name == "layer1.0.relu"]
    assert [r.call for r in relu_calls] == [0, 1]
    bottleneck_relu = [r for r in layer_table(PRESETS["resnet50"], 224).rows if r.name == "layer3.2.relu"]
    assert [r.call for r in bottleneck_relu] == [0, 1, 2]
    model = build_model(PRESETS["resnet18"], "meta")
    assert sum(r.params for r in rows) == sum(p.numel() for p in model.parameters())
    assert len({(r.name, r.call) for r in rows}) == len(rows)


def _seed_rows(path: str) -> list[dict[str, str]]:
    with open(FIXTURES / path, encoding="utf-8") as f:
        return [row for row in csv.reader(f, delimiter="\t") if row][1:]


def _chw(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split("*"))


@pytest.mark.parametrize(("preset", "fixture"), [("resnet34", "seed002_resnet34.tsv"), ("resnet50", "seed002_resnet50.tsv")])
def test_seed_002_per_conv_tables_come_out_row_for_row(preset: str, fixture: str) -> None:
    """Seed 002's rows: "conv3.1[.k]" is stage conv3_x = layer2, first block, k-th conv;
    ".x" stands for every later block. Its "down sample" column marks convs that shrink the
    feature map (ResNet-50's conv2.1 rows say None although layer1.0 has a projection)."""
    rows = [r for r in layer_table(PRESETS[preset], 224).rows if r.type == "Conv2d" and not r.downsample and r.stage != "stem"]
    checked = 0
    for label, in_chw, out_chw, stride, padding, down, kernel in _seed_rows(fixture):
        stage_no, block_id, *conv_no = label.removeprefix("conv").split(".")
        stage = stage_name(int(stage_no) - 2)  # conv2_x is layer1
        in_stage = [r for r in rows if r.stage == stage]
        if conv_no:  # bottleneck: one row per conv of the block
            wanted = [r for r in in_stage if r.name.endswith(f"conv{conv_no[0]}")]
        else:  # basic block: "convN.1" is the first conv of the first block; ".x" every other conv
            wanted = [r for r in in_stage if (r.block, r.name.endswith("conv1")) == (0, True)]
            if block_id == "x":
                wanted = [r for r in in_stage if r not in wanted]
        wanted = [r for r in wanted if (r.block == 0) == (block_id == "1")] if conv_no else wanted
        assert wanted, label
        for row in wanted:
            out_c, in_c, kh, kw = _chw(kernel)
            assert row.in_shape == _chw(in_chw), label
            assert row.out_shape == _chw(out_chw), label
            assert row.stride == (int(stride),) * 2, label
            assert row.padding == (int(padding),) * 2, label
            assert row.reduces_resolution == (down.upper() == "TRUE"), label
            assert (row.out_shape[0], row.in_shape[0] // row.groups, *row.kernel) == (out_c, in_c, kh, kw), label
            checked += 1
    assert checked == len(rows)  # every main-path conv of every stage was matched


def test_caffe_style_lands_on_the_papers_flops_column() -> None:
    # He et al. 2016 Table 1 (multiply-adds): 50-layer 3.8, 101-layer 7.6, 152-layer 11.3 G.
    for depth, paper in ((50, 3.8), (101, 7.6), (152, 11.3)):
        caffe = layer_table(resnet_for_depth(depth, stride_style="caffe"), 224).totals.macs / 1e9
        pytorch = layer_table(resnet_for_depth(depth), 224).totals.macs / 1e9
        assert abs(caffe - paper) / paper < 0.02, depth
        assert pytorch > caffe  # the stride on the 3x3 costs more
    for depth, paper in ((18, 1.8), (34, 3.6)):
        assert abs(layer_table(resnet_for_depth(depth), 224).totals.macs / 1e9 - paper) / paper < 0.02


@pytest.mark.parametrize(("depth", "paper_millions"), [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_parameter_counts_match_the_paper(depth: int, paper_millions: float) -> None:
    params = layer_table(cifar_resnet(depth), 32).totals.params
    assert abs(params / 1e6 - paper_millions) / paper_millions < 0.03
    projection = layer_table(cifar_resnet(depth, shortcut="B"), 32).totals.params
    assert projection > params  # "a projection shortcut adds a little"


def _gradient_receptive_field(spec: ResNetSpec, size: int, stage: str) -> tuple[int, int]:
    """(size, jump) of ``stage``'s receptive field, measured with gradients (all weights positive).

    Size: rows of input pixels that reach the centre pixel of the stage's output. Jump: how
    many rows that window moves down for the output pixel one row below.
    """
    model = build_model(spec, seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    captured = {}
    getattr(model, stage).register_forward_hook(lambda m, a, out: captured.update(out=out))
    x = torch.rand(1, spec.in_channels, size, size, requires_grad=True)
    model(x)
    out = captured["out"]  # (1, C, H, W)
    row, column = out.shape[2] // 2, out.shape[3] // 2

    def rows_reached(output_row: int) -> tuple[int, int]:
        x.grad = None
        out[0, :, output_row, column].sum().backward(retain_graph=True)
        rows = torch.nonzero(x.grad[0].abs().sum(dim=(0, 2)) > 0)
        return int(rows.min()), int(rows.max())

    top, bottom = rows_reached(row)
    next_top, _ = rows_reached(row + 1)  # lower in the image: its top edge is not clipped either
    return bottom - top + 1, next_top - top


@pytest.mark.parametrize(("spec", "size"), [
    (cifar_resnet(20, shortcut="B"), 128), (cifar_resnet(20), 96), (cifar_resnet(20, shortcut="none"), 96),
    (ResNetSpec(stages=(1, 1, 1), stem="cifar", stem_width=16, stage_planes=(8, 16, 32), dilate=(True, True)), 96),
    (ResNetSpec(stages=(1, 1, 1), stem="cifar", stem_width=16, stage_planes=(8, 16, 32), stride_style="caffe"), 96),
])
def test_receptive_field_size_and_jump_equal_the_gradient_footprint(spec: ResNetSpec, size: int) -> None:
    table = layer_table(spec, size)
    for stage in (s for s in table.stages if s.name.startswith("layer")):
        assert _gradient_receptive_field(spec, size, stage.name) == (stage.rf_size, stage.rf_jump), stage.name


def test_known_receptive_fields_of_torchvision_models() -> None:
    assert layer_table(PRESETS["resnet18"], 224).totals.rf_size == 435
    assert layer_table(PRESETS["resnet50"], 224).totals.rf_size == 427


def test_blocks_and_stages_roll_up_the_rows() -> None:
    table = layer_table(PRESETS["resnet50"], 224)
    assert [s.name for s in table.stages] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert [s.blocks for s in table.stages] == [0, 3, 4, 6, 3, 0]
    assert [s.out_shape for s in table.stages] == [
        (64, 56, 56), (256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7), (1000,),
    ]
    assert sum(s.params for s in table.stages) == table.totals.params
    assert sum(b.macs for b in table.blocks) == table.totals.macs
    first = {b.name: b for b in table.blocks}
    assert first["layer1.0"].shortcut is ShortcutKind.PROJECTION and first["layer1.1"].shortcut is ShortcutKind.IDENTITY
    assert first["stem"].shortcut is None and first["head"].shortcut is None
    assert first["layer2.0"].convs == "1x1,128 → 3x3,128 → 1x1,512" and first["layer2.0"].stride == 2
    resnext = {b.name: b for b in layer_table(PRESETS["resnext50_32x4d"], 224).blocks}
    assert resnext["layer1.0"].convs == "1x1,128 → 3x3,128,g32 → 1x1,256"
    d_blocks = {b.name: b for b in layer_table(PRESETS["resnet50d"], 224).blocks}
    assert d_blocks["layer2.0"].shortcut is ShortcutKind.AVG_PROJECTION
    cifar = {b.name: b for b in layer_table(cifar_resnet(20), 32).blocks}
    assert cifar["layer2.0"].shortcut is ShortcutKind.ZERO_PAD and cifar["layer3.0"].out_shape == (64, 8, 8)


def test_shortcut_cells_are_english_words_in_files_and_the_readers_words_on_screen() -> None:
    blocks = layer_table(PRESETS["resnet50d"], 224).blocks
    rows = list(csv.DictReader(to_csv(blocks, BLOCK_COLUMNS).splitlines()))
    assert [r["Shortcut"] for r in rows[:6]] == ["", "projection", "identity", "identity", "avg-pool projection",
                                                 "identity"]
    assert rows[-1]["Shortcut"] == ""  # the head is no block
    assert [type(r["Shortcut"]) for r in records(blocks[:2], BLOCK_COLUMNS)] == [type(None), str]  # "projection", not the enum
    with in_language("zh"):
        cells = [r["捷径"] for r in screen_records(blocks[:5], BLOCK_COLUMNS)]
    assert cells == [None, "投影", "恒等映射", "恒等映射", "平均池化 + 投影"]


def test_projection_shortcuts_are_where_the_reference_says() -> None:
    def projected(name: str) -> list[str]:
        return [b.name for b in layer_table(PRESETS[name], 224).blocks if b.shortcut is ShortcutKind.PROJECTION]

    assert projected("resnet34") == ["layer2.0", "layer3.0", "layer4.0"]
    assert projected("resnet101") == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]


def test_shapes_scale_with_input_and_the_structure_does_not() -> None:
    small, large = layer_table(PRESETS["resnet50"], 224), layer_table(PRESETS["resnet50"], 1024)
    assert [r.name for r in small.rows] == [r.name for r in large.rows]
    assert small.totals.params == large.totals.params
    assert large.stages[-2].out_shape == (2048, 32, 32)
    non_square = layer_table(PRESETS["resnet18"], (224, 320))
    assert non_square.stages[-2].out_shape == (512, 7, 10)


def test_activation_bytes_are_fp32_outputs() -> None:
    row = layer_table(PRESETS["resnet18"], 224).rows[0]
    assert row.name == "conv1" and row.activation_bytes == 64 * 112 * 112 * 4


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("name", GOLDEN_MODELS)
def test_golden_tables(name: str, level: Level) -> None:
    """Whole-table snapshots at every level; after an intended change, `python -m tests.update_golden`."""
    path, text = golden_table(name, level)
    assert text == path.read_text(encoding="utf-8")


def _torchvision_parts(name: str, level: Level) -> dict[str, tuple[int, int, tuple[int, ...]]]:
    """(params, MACs, output shape) per block or stage of torchvision's own model at 224 px.

    Parameters from the submodules, MACs from FlopCounterMode (FLOPs / 2: conv and matmul
    only), shapes from forward hooks: nothing of the explorer's is used.
    """
    with torch.device("meta"):
        model = torchvision.models.get_model(name).eval()
    stages = ("layer1", "layer2", "layer3", "layer4")
    if level is Level.BLOCKS:
        middle = {f"{s}.{i}": (f"{s}.{i}",) for s in stages for i in range(len(model.get_submodule(s)))}
    else:
        middle = {s: (s,) for s in stages}
    parts = {"stem": ("conv1", "bn1", "relu", "maxpool"), **middle, "head": ("avgpool", "fc")}
    outputs: dict[str, tuple[int, ...]] = {}
    for part, modules in parts.items():
        model.get_submodule(modules[-1]).register_forward_hook(
            lambda m, a, out, part=part: outputs.update({part: tuple(out.shape[1:])}))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    flops = counter.get_flop_counts()
    return {
        part: (
            sum(p.numel() for m in modules for p in model.get_submodule(m).parameters()),
            sum(sum(flops.get(f"ResNet.{m}", {}).values()) for m in modules) // 2,
            outputs[part],
        )
        for part, modules in parts.items()
    }


@pytest.mark.parametrize("level", [Level.BLOCKS, Level.STAGES])
@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_block_and_stage_rows_equal_torchvisions_own_model(name: str, level: Level) -> None:
    rows = layer_table(PRESETS[name], 224).rows_at(level)
    assert {r.name: (r.params, r.macs, r.out_shape) for r in rows} == _torchvision_parts(name, level)


@pytest.mark.parametrize("spec", [
    PRESETS["resnet18"], PRESETS["resnet34"], PRESETS["resnet50"], PRESETS["resnet101"], cifar_resnet(20),
    cifar_resnet(56), cifar_resnet(110), PRESETS["resnet50_caffe"], PRESETS["resnet50c"],
], ids=lambda spec: spec.name)
def test_a_plain_net_is_its_residual_net_without_the_shortcut_layers(spec: ResNetSpec) -> None:
    """So the plain net's rows, params, MACs and activation memory are never above the residual net's."""
    size = spec.natural_input_size
    residual = layer_table(spec, size)
    plain = layer_table(spec.with_changes(shortcut="none"), size)

    def main_path(rows) -> list[tuple]:
        return [(r.name, r.call, r.in_shape, r.out_shape, r.params, r.macs, r.activation_bytes, r.rf_size, r.rf_jump)
                for r in rows]

    assert main_path(plain.rows) == main_path(r for r in residual.rows if not r.downsample)
    for figure in ("layers", "params", "macs", "activation_bytes"):
        assert getattr(plain.totals, figure) <= getattr(residual.totals, figure), figure
    assert plain.totals.layers < residual.totals.layers  # every preset here has shortcut layers
    assert {b.shortcut for b in plain.blocks if b.block is not None} == {ShortcutKind.NONE}


def test_rows_at_each_level_and_what_kind_each_row_is() -> None:
    table = layer_table(PRESETS["resnet18"], 224)
    assert [table.rows_at(level) for level in Level] == [table.rows, table.blocks, table.stages]
    assert [b.name for b in table.blocks] == list(dict.fromkeys(r.block_name for r in table.rows))
    layers = {(r.name, r.call): r.kind for r in table.rows}
    assert layers[("layer2.0.downsample.0", 0)] is RowKind.SHORTCUT
    assert layers[("layer2.0.conv1", 0)] is layers[("maxpool", 0)] is RowKind.DOWNSAMPLING
    assert layers[("layer2.0.conv2", 0)] is layers[("layer2.0.relu", 1)] is RowKind.OTHER
    blocks = {b.name: b.kind for b in table.blocks}
    assert [name for name, kind in blocks.items() if kind is RowKind.SHORTCUT] == ["layer2.0", "layer3.0", "layer4.0"]
    assert [name for name, kind in blocks.items() if kind is RowKind.DOWNSAMPLING] == ["stem"]
    plain = {b.name: b.kind for b in layer_table(PRESETS["resnet18"].with_changes(shortcut="none"), 224).blocks}
    assert [name for name, kind in plain.items() if kind is RowKind.DOWNSAMPLING] == ["stem", "layer2.0", "layer3.0", "layer4.0"]
    assert [(s.stage, s.kind) for s in table.stages] == [
        ("stem", RowKind.DOWNSAMPLING), ("layer1", RowKind.OTHER), ("layer2", RowKind.DOWNSAMPLING),
        ("layer3", RowKind.DOWNSAMPLING), ("layer4", RowKind.DOWNSAMPLING), ("head", RowKind.OTHER),
    ]


def test_too_small_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least 32 pixels"):
        layer_table(PRESETS["resnet50"], 8)
