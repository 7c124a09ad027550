"""The layer table, its counting conventions and its gate figures for the family beyond v1:
pre-activation, SE / ECA gates, ResNeSt's split attention and Res2Net.

Expected numbers are derived here from the blocks' shapes (channels, resolution, reduction),
not from the code under test, and cross-checked with thop and torch's FlopCounterMode.
"""

from __future__ import annotations

import math

import pytest
import thop
import torch
from torch.utils.flop_counter import FlopCounterMode

from explorer.analysis.anatomy import Level, RowKind, layer_table
from explorer.analysis.conventions import GATE_MULTIPLY, RESIDUAL_ADD, count_conventions, counts_table
from explorer.analysis.gates import GateKind, gate_cost_lines, gate_costs
from explorer.model.build import build_model
from explorer.model.presets import PRESETS

FAMILY = ["resnet50", "resnetv2_50", "seresnet50", "ecaresnet50d", "resnest50d", "resnest50d_4s2x40d",
          "res2net50_26w_4s", "cifar_preact_resnet164"]
SIDES = (56, 28, 14, 7)  # each stage's output side at 224 px
BLOCKS = (3, 4, 6, 3)  # ResNet-50's blocks per stage


def _size(name: str) -> int:
    return 32 if PRESETS[name].is_cifar else 224


# ---- gate rows ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "gate_children"), [
    ("seresnet50", {"avgpool", "fc1", "activation", "fc2", "scale_activation"}),
    ("ecaresnet50d", {"avgpool", "conv", "scale_activation"}),
    ("resnest50d", {"avgpool", "fc1", "bn1", "act1", "fc2", "rsoftmax"}),
])
def test_gate_rows_are_flagged_and_coloured_as_gates(name: str, gate_children: set[str]) -> None:
    table = layer_table(PRESETS[name], 224)
    parent = "se" if name != "resnest50d" else "conv2"
    gates = [r for r in table.rows if r.gate]
    assert {r.name.rsplit(".", 1)[1] for r in gates} == gate_children
    assert all(r.name.split(".")[2] == parent and r.kind is RowKind.GATE for r in gates)
    assert len(gates) == 16 * len(gate_children)  # one gate per block
    assert not any(r.gate for r in table.rows if r.name.split(".")[-1] not in gate_children or r.block is None)
    # One number per channel: (C, 1, 1), or (1, C) for ECA's conv along the channels.
    assert all(r.out_shape[-2:] == (1, 1) or r.type == "Conv1d" for r in gates)


@pytest.mark.parametrize("name", ["resnet50", "resnetv2_50", "res2net50_26w_4s", "cifar_preact_resnet164"])
def test_nets_without_gates_have_no_gate_rows(name: str) -> None:
    table = layer_table(PRESETS[name], _size(name))
    assert not any(r.gate for r in table.rows) and gate_costs(table) == () and gate_cost_lines(table) == []


@pytest.mark.parametrize(("name", "blocks"), [
    ("resnet50", {"layer1.0": "1x1,64 → 3x3,64 → 1x1,256", "layer4.2": "1x1,512 → 3x3,512 → 1x1,2048"}),
    ("resnetv2_50", {"layer1.0": "1x1,64 → 3x3,64 → 1x1,256"}),
    ("seresnet50", {"layer1.0": "1x1,64 → 3x3,64 → 1x1,256 + SE", "layer3.5": "1x1,256 → 3x3,256 → 1x1,1024 + SE"}),
    ("ecaresnet50d", {"stem": "3x3,32 → 3x3,32 → 3x3,64", "layer2.0": "1x1,128 → 3x3,128 → 1x1,512 + ECA"}),
    ("resnest50d", {"layer1.0": "1x1,64 → SplitAttn(3x3,128,g2) → 1x1,256",
                    "layer2.0": "1x1,128 → SplitAttn(3x3,256,g2) → avg3x3/2 → 1x1,512",
                    "layer2.1": "1x1,128 → SplitAttn(3x3,256,g2) → 1x1,512"}),
    ("resnest50d_4s2x40d", {"layer2.0": "1x1,160 → avg3x3/2 → SplitAttn(3x3,640,g8) → 1x1,512",
                            "layer1.0": "1x1,80 → SplitAttn(3x3,320,g8) → 1x1,256"}),
    ("res2net50_26w_4s", {"layer1.0": "1x1,104 → Res2[4×26: 3 × 3x3 ∥ avg] → 1x1,256",
                          "layer1.1": "1x1,104 → Res2[4×26: 3 × 3x3 ⇢] → 1x1,256",
                          "layer4.0": "1x1,832 → Res2[4×208: 3 × 3x3 ∥ avg] → 1x1,2048"}),
    ("res2next50", {"layer2.1": "1x1,256 → Res2[4×64: 3 × 3x3,g8 ⇢] → 1x1,512"}),
    ("res2net50_26w_8s", {"layer1.2": "1x1,208 → Res2[8×26: 7 × 3x3 ⇢] → 1x1,256"}),
])
def test_block_rows_say_what_replaces_the_3x3_and_what_gates_the_branch(name: str, blocks: dict[str, str]) -> None:
    rows = {b.name: b for b in layer_table(PRESETS[name], 224).blocks}
    assert {block: rows[block].convs for block in blocks} == blocks


# ---- what the gates cost ------------------------------------------------------------------


def _se_expected() -> dict[str, int]:
    """seresnet50's SE gates from the shapes: C = 4 × planes, squeeze C/16, biases on both 1x1 convs."""
    figures = dict(params=0, macs=0, pooled=0, squashed=0)
    for planes, side, blocks in zip((64, 128, 256, 512), SIDES, BLOCKS):
        channels, squeezed = 4 * planes, 4 * planes // 16
        figures["params"] += blocks * (channels * squeezed + squeezed + squeezed * channels + channels)
        figures["macs"] += blocks * 2 * channels * squeezed
        figures["pooled"] += blocks * channels * side * side
        figures["squashed"] += blocks * channels
    return figures


def test_se_gates_cost_what_their_shapes_say() -> None:
    expected = _se_expected()
    (cost,) = gate_costs(layer_table(PRESETS["seresnet50"], 224))
    assert cost.kind is GateKind.SE and cost.gates == 16
    assert (cost.params, cost.macs, cost.pooled, cost.squashed) == (2_530_992, 2_514_944, 5_519_360, 15_104)
    assert (cost.params, cost.macs, cost.pooled, cost.squashed) == tuple(expected.values())
    assert cost.multiplies == cost.pooled and cost.joining_adds == 0  # the map times its gate, element by element
    # seresnet50 is resnet50 plus its gates: parameters and MACs add up.
    base, gated = layer_table(PRESETS["resnet50"], 224).totals, layer_table(PRESETS["seresnet50"], 224).totals
    assert (gated.params - base.params, gated.macs - base.macs) == (cost.params, cost.macs)
    assert cost.top_stage.stage == "layer4" and cost.top_stage.params == 3 * (2 * 2048 * 128 + 128 + 2048)
    # The gates' outputs: the pooled map, the squeezed, its ReLU, the expanded, the sigmoid, all 1x1.
    assert cost.activation_bytes == 4 * sum(b * (3 * 4 * p + 2 * p // 4)
                                            for p, b in zip((64, 128, 256, 512), BLOCKS))


def test_eca_gates_cost_one_small_kernel_each() -> None:
    def kernel(channels: int) -> int:  # Wang et al. 2020, eq. 12, gamma 2 and b 1, odd, at least 3
        t = int(abs(math.log2(channels) + 1) / 2)
        return max(t if t % 2 else t + 1, 3)

    (cost,) = gate_costs(layer_table(PRESETS["ecaresnet50d"], 224))
    widths = [4 * p for p in (64, 128, 256, 512)]
    assert cost.kind is GateKind.ECA
    assert cost.params == sum(b * kernel(c) for c, b in zip(widths, BLOCKS)) == 86
    assert cost.macs == sum(b * c * kernel(c) for c, b in zip(widths, BLOCKS)) == 87_808
    assert cost.pooled == cost.multiplies == 5_519_360


def test_split_attention_gates_weigh_two_radix_groups() -> None:
    expected = dict(params=0, macs=0, pooled=0)
    sides = (56, 56, 28, 14)  # a stage's first block pools before its strided average pool (avd)
    for planes, first_side, side, blocks in zip((64, 128, 256, 512), sides, SIDES, BLOCKS):
        squeezed = max(32, planes // 2)  # radix × width / 4, at least 32
        expected["params"] += blocks * (planes * squeezed + squeezed + 2 * squeezed + squeezed * 2 * planes + 2 * planes)
        expected["macs"] += blocks * (planes * squeezed + squeezed * 2 * planes)
        expected["pooled"] += planes * (first_side ** 2 + (blocks - 1) * side ** 2)
    (cost,) = gate_costs(layer_table(PRESETS["resnest50d"], 224))
    assert cost.kind is GateKind.SPLIT
    assert (cost.params, cost.macs, cost.pooled) == tuple(expected.values()) == (1_899_424, 1_886_208, 1_906_688)
    assert cost.multiplies == 2 * cost.pooled == cost.joining_adds  # radix 2: two weighed groups, summed twice
    assert cost.squashed == 2 * sum(p * b for p, b in zip((64, 128, 256, 512), BLOCKS))


def test_the_gate_sentence_says_the_counted_and_the_uncounted_work() -> None:
    (line,) = gate_cost_lines(layer_table(PRESETS["seresnet50"], 224))
    for figure in ("**SE gates** (16", "2.53 M parameters", "2.51 M MACs", "5.52 M pooling adds",
                   "5.52 M gate multiplies", "15.10 k sigmoid", "layer4 holds 62%"):
        assert figure in line, figure
    (split,) = gate_cost_lines(layer_table(PRESETS["resnest50d"], 224))
    assert "3.81 M adds joining the radix groups" in split


# ---- counting conventions -----------------------------------------------------------------


def _thop_by_type(name: str) -> dict[str, int]:
    model = build_model(PRESETS[name], "meta")
    types = {n: type(m).__name__ for n, m in model.named_modules()}
    x = torch.empty(1, 3, _size(name), _size(name), device="meta")
    _, _, tree = thop.profile(model, inputs=(x,), verbose=False, ret_layer_info=True)
    counts: dict[str, int] = {}

    def walk(node: dict, prefix: str) -> None:
        for key, (ops, _params, children) in node.items():
            if not children:
                counts[types[prefix + key]] = counts.get(types[prefix + key], 0) + int(ops)
            walk(children, prefix + key + ".")

    walk(tree, "")
    return counts


@pytest.mark.parametrize("name", FAMILY)
def test_conventions_per_layer_type_agree_with_thop_and_flop_counter_mode(name: str) -> None:
    spec = PRESETS[name]
    table = layer_table(spec, _size(name))
    conventions = count_conventions(table)
    rows = {r.layer_type: r for r in conventions.rows}
    thop_counts = _thop_by_type(name)
    for layer_type in ("Conv2d", "Conv1d", "Linear"):  # the layers MACs count, one by one
        if layer_type in rows:
            ours = sum(r.macs for r in table.rows if r.type == layer_type)
            assert rows[layer_type].explorer == ours == thop_counts[layer_type], layer_type
            assert rows[layer_type].flop_counter == 2 * ours, layer_type
    with FlopCounterMode(display=False) as counter, torch.no_grad():  # torch's own, on a private model
        build_model(spec, "meta")(torch.empty(1, 3, _size(name), _size(name), device="meta"))
    assert counter.get_total_flops() == conventions.total("flop_counter") == 2 * table.totals.macs
    biases = sum(m.bias.numel() for m in build_model(spec, "meta").modules()
                 if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)) and m.bias is not None)
    bn = sum(r.params for r in table.rows if r.type == "BatchNorm2d")
    assert conventions.total("torchinfo") == table.totals.macs + bn + spec.num_classes + biases
    # thop's global pools: H·W adds and a divide per pooled value, for the head and every gate.
    pools = [r for r in table.rows if r.type == "AdaptiveAvgPool2d"]
    assert rows["AdaptiveAvgPool2d"].thop == sum(math.prod(r.in_shape) + r.in_shape[0] for r in pools)
    assert all(r.explanation for r in conventions.rows)
    assert len(counts_table(conventions).rows) == len(conventions.rows) + 1
    costs = gate_costs(table)
    assert (GATE_MULTIPLY in rows) == bool(costs) and RESIDUAL_ADD in rows
    if costs:
        assert rows[GATE_MULTIPLY].multiplies == sum(c.multiplies for c in costs)
        assert f"{sum(c.gates for c in costs)} channel gates" in rows["AdaptiveAvgPool2d"].explanation
        assert f"({biases:,})" in rows["Conv2d"].explanation or biases == 0


def test_the_layer_level_kinds_cover_gates_only_at_the_layer_level() -> None:
    table = layer_table(PRESETS["seresnet50"], 224)
    assert {r.kind for r in table.rows_at(Level.LAYERS)} == set(RowKind)
    assert RowKind.GATE not in {r.kind for r in table.rows_at(Level.BLOCKS)}


# ---- compare: where the difference goes ------------------------------------------------------


def test_pre_activation_moves_the_bn_parameters_and_says_where() -> None:
    from explorer.analysis.family_diff import bn_params_by_place, preact_lines

    v1, v2 = layer_table(PRESETS["resnet50"], 224), layer_table(PRESETS["resnetv2_50"], 224)
    outs, ins = (256, 512, 1024, 2048), (64, 256, 512, 1024)  # a stage's output, its first block's input
    change = {
        "stem": -2 * 64,  # no BN-ReLU after the 7x7
        "blocks": -2 * sum(o - i for o, i in zip(outs, ins)),  # first blocks normalize their input, not their output
        "shortcuts": -2 * sum(outs),  # the projections lose their BN
        "head": 2 * 2048,  # final_bn
    }
    places_v1, places_v2 = bn_params_by_place(v1), bn_params_by_place(v2)
    assert {p: places_v2[p] - places_v1[p] for p in change} == change
    assert sum(change.values()) == v2.totals.params - v1.totals.params == -7_680
    (line,) = preact_lines(v1, v2)
    assert "differs from **resnet50** by -7,680 parameters, -7,680 of them BN: stem -128, blocks -3,968, " \
           "shortcuts -7,680, head +4,096" in line
    assert preact_lines(v1, v1) == [] and preact_lines(v2, v2) == []
    assert "**resnet50** differs from **resnetv2_50** by +7,680 parameters" in preact_lines(v2, v1)[0]


def test_the_gate_line_names_what_the_gate_adds_and_where() -> None:
    from explorer.analysis.family_diff import family_lines, gate_lines

    base, se = layer_table(PRESETS["resnet50"], 224), layer_table(PRESETS["seresnet50"], 224)
    gate_params = 28_088_024 - 25_557_032  # timm's seresnet50 less torchvision's resnet50
    (line,) = family_lines(base, se)  # the same blocks otherwise: one sentence
    share = 100 * gate_params / 25_557_032
    assert f"**seresnet50**'s SE gates (16) add {gate_params:,} parameters (+{share:.3g}% on resnet50)" in line
    assert "2.51 M MACs (+0.0615%)" in line and "62% of those parameters in **layer4**" in line
    assert "11.04 M elementwise operations" in line  # 5,519,360 pooling adds + as many multiplies
    (dropped,) = gate_lines(se, base)
    assert dropped.startswith("**resnet50** has no SE gates") and f"{gate_params:,} parameters" in dropped


def test_what_replaces_the_3x3_is_named_with_its_parameters_and_macs() -> None:
    from explorer.analysis.family_diff import middle_lines, middle_rows

    base, split, res2 = (layer_table(PRESETS[n], 224) for n in ("resnet50", "resnest50d", "res2net50_26w_4s"))
    widths = (64, 128, 256, 512)
    conv3x3 = sum(b * (9 * w * w + 2 * w) for w, b in zip(widths, BLOCKS))  # conv2 + bn2
    assert sum(r.params for r in middle_rows(base)) == conv3x3
    gate = sum(b * (w * max(32, w // 2) + 3 * max(32, w // 2) + max(32, w // 2) * 2 * w + 2 * w)
               for w, b in zip(widths, BLOCKS))
    radix_convs = sum(b * (2 * w * (w // 2) * 9 + 2 * 2 * w) for w, b in zip(widths, BLOCKS))  # conv (g2) + bn0
    assert sum(r.params for r in middle_rows(split)) == radix_convs + gate
    (line,) = middle_lines(base, split)
    assert "**resnest50d** has split attention (radix 2" in line and "one 3x3 conv" in line
    assert f"{radix_convs + gate - conv3x3:+,} parameters" in line
    res2_widths = (26, 52, 104, 208)  # 26 × planes / 64
    res2_params = sum(b * 3 * (9 * w * w + 2 * w) for w, b in zip(res2_widths, BLOCKS))
    assert sum(r.params for r in middle_rows(res2)) == res2_params
    assert "Res2Net's 3 3x3 convs on 4 channel groups" in middle_lines(base, res2)[0]
    assert middle_lines(base, layer_table(PRESETS["seresnet50"], 224)) == []


def test_a_gate_rows_field_is_the_whole_map_and_the_path_keeps_its_own() -> None:
    se, base = layer_table(PRESETS["seresnet50"], 224), layer_table(PRESETS["resnet50"], 224)
    rows = {r.name: r for r in se.rows}
    before = rows["layer1.0.bn3"]  # the map the gate pools: 56×56, at the path's field
    pool = rows["layer1.0.se.avgpool"]
    assert pool.in_shape == (256, 56, 56)
    assert pool.rf_size == before.rf_size + 55 * before.rf_jump  # every position of the map, one jump apart
    assert all(r.rf_size == pool.rf_size for r in se.rows if r.name.startswith("layer1.0.se."))
    # The blocks' fields are resnet50's: the gates never widen the path.
    assert [b.rf_size for b in se.blocks] == [b.rf_size for b in base.blocks]


def test_the_handout_says_what_the_gate_adds() -> None:
    from explorer.analysis.family_diff import family_lines
    from explorer.figures.handout import comparison_html

    base, se = layer_table(PRESETS["resnet50"], 224), layer_table(PRESETS["seresnet50"], 224)
    (line,) = family_lines(base, se)
    page = comparison_html(base, se)
    assert "2,530,992 parameters" in line and "2,530,992 parameters" in page


def test_split_attention_gates_of_radix_4_join_four_groups_twice() -> None:
    (two,) = gate_costs(layer_table(PRESETS["resnest50d"], 224))
    (four,) = gate_costs(layer_table(PRESETS["resnest50d"].with_changes(radix=4), 224))
    assert four.pooled == two.pooled == 1_906_688  # the pool takes the groups' sum: C·H·W either way
    assert four.multiplies == 4 * four.pooled  # each of the 4 groups times its weights
    assert four.joining_adds == 2 * 3 * four.pooled == 11_440_128  # 3 adds per element before the pool and after
    assert four.squashed == 4 * sum(p * b for p, b in zip((64, 128, 256, 512), BLOCKS))


def test_an_eca_gates_1d_conv_keeps_the_pools_field() -> None:
    """ECA's Conv1d runs across the channels, not the picture: its row's field is its pool's."""
    rows = {r.name: r for r in layer_table(PRESETS["ecaresnet50d"], 224).rows}
    pool = rows["layer1.0.se.avgpool"]
    assert pool.rf_size == rows["layer1.0.bn3"].rf_size + 55 * rows["layer1.0.bn3"].rf_jump
    assert [(r.rf_size, r.rf_jump) for n, r in rows.items() if n.startswith("layer1.0.se.")] == [
        (pool.rf_size, pool.rf_jump)] * 3
