"""Four ways to count a ResNet's work, side by side and reconciled per layer type.

* explorer — conv + linear multiply-accumulates (MACs), the convention of torchvision's
  ``_ops`` and the paper's Table 1;
* torchinfo ``total_mult_adds`` — the same, plus one per BN affine parameter and per
  linear bias;
* thop ``profile`` — the same conv/linear MACs, plus per-element work of BN and pooling;
* ``torch.utils.flop_counter.FlopCounterMode`` — FLOPs (2 per MAC) of conv and matmul ops.
  Its formulas (``flop_registry``) are applied by a small dispatch mode of our own:
  FlopCounterMode itself installs *global* module hooks (its ModuleTracker) that would fire
  on every other session's forward pass while it counts; dispatch modes are thread-local.

Each tool runs on its own freshly built ``meta`` model: hooks and mode switches of those
tools never touch a model another session uses, and nothing is computed, only counted.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import thop
import torch
import torchinfo
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from explorer.analysis.anatomy import LayerTable, is_leaf_layer
from explorer.analysis.gates import gate_costs
from explorer.model.build import build_model
from explorer.analysis.table_format import RowsTable
from explorer.runtime.i18n import N_, _

# Each tool's column label and what it counts (marked here, shown through _()).
TOOLS = {
    "explorer": (N_("Explorer MACs"), N_("conv + linear multiply-accumulates; no bias, BN, ReLU, pooling or residual add")),
    "torchinfo": (N_("torchinfo mult-adds"), N_("conv + linear MACs, + 1 per BN affine parameter and per linear bias")),
    "thop": (N_("thop MACs"), N_("conv + linear MACs, + per-element BN and pooling work")),
    "flop_counter": (N_("FlopCounterMode FLOPs"), N_("2 × conv and matmul MACs (FLOPs, not MACs); nothing else")),
}
RESIDUAL_ADD = N_("residual add")  # a row's layer type: show it through _()
GATE_MULTIPLY = N_("gate multiply")  # likewise: a channel gate's map × gate, no module of its own
_PSEUDO_TYPES = (RESIDUAL_ADD, GATE_MULTIPLY)
CONV1D_OP = "aten.convolution (1-D)"  # ECA's conv across channels, apart from the 2-D convs
_FLOP_OPS = {"aten.convolution": "Conv2d", CONV1D_OP: "Conv1d", "aten.addmm": "Linear", "aten.mm": "Linear"}


@dataclass(frozen=True)
class CountRow:
    """One layer type counted by every tool, and the numbers that say why they differ.

    Conventions are cached and shared by every session, so a row holds numbers only; its
    `explanation` is written when it is read, in the reader's language.
    """

    layer_type: str
    explorer: int
    torchinfo: int
    thop: int
    flop_counter: int
    outputs: int = 0  # output elements of this type's layers, one image
    bn_params: int = 0  # BN affine parameters of the whole model
    adds: int = 0  # residual additions of the whole model, one image
    conv_biases: int = 0  # biases of this type's convs (the gates' 1x1 convs have them)
    gates: int = 0  # channel gates of the whole model
    pooled: int = 0  # AdaptiveAvgPool2d: elements the global pools add up, one image
    multiplies: int = 0  # gate multiply: map × gate elements, one image

    @property
    def explanation(self) -> str:
        """Why the tools' counts of this layer type differ."""
        return _explain(self)


@dataclass(frozen=True)
class Conventions:
    """Per-type rows and per-tool totals for one spec at one input size (one image)."""

    rows: tuple[CountRow, ...]

    def total(self, tool: str) -> int:
        return sum(getattr(row, tool) for row in self.rows)


def _leaf_types(model: nn.Module) -> dict[str, str]:
    return {name: type(m).__name__ for name, m in model.named_modules() if is_leaf_layer(m)}


def _torchinfo_by_type(table: LayerTable, x: torch.Tensor) -> Counter:
    info = torchinfo.summary(build_model(table.spec, "meta"), input_data=x, verbose=0, device="meta")
    counts: Counter = Counter()
    for layer in info.summary_list:
        if layer.is_leaf_layer:
            counts[layer.class_name] += int(layer.macs)
    return counts


def _thop_by_type(table: LayerTable, x: torch.Tensor) -> Counter:
    model = build_model(table.spec, "meta")
    types = _leaf_types(model)
    _, _, tree = thop.profile(model, inputs=(x,), verbose=False, ret_layer_info=True)
    counts: Counter = Counter()

    def walk(node: dict, prefix: str) -> None:
        for key, (ops, _params, children) in node.items():
            name = prefix + key
            if name in types:
                counts[types[name]] += int(ops)
            walk(children, name + ".")

    walk(tree, "")
    return counts


class _FlopCounter(TorchDispatchMode):
    """FlopCounterMode's per-op FLOP formulas, counted in this thread only (no module hooks)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        if packet in flop_registry:
            op = str(packet)
            if op == "aten.convolution" and args[1].dim() == 3:  # the weight of a Conv1d: (C_out, C_in, k)
                op = CONV1D_OP
            self.counts[op] += int(flop_registry[packet](*args, **kwargs, out_val=out))
        return out


def _flop_counter_by_type(table: LayerTable, x: torch.Tensor) -> Counter:
    model = build_model(table.spec, "meta")
    with _FlopCounter() as counter, torch.no_grad():
        model(x)
    counts: Counter = Counter()
    for op, flops in counter.counts.items():
        counts[_FLOP_OPS.get(op, op)] += flops
    return counts


def _explain(row: CountRow) -> str:
    layer_type = row.layer_type
    per_output = row.thop / row.outputs if row.outputs else 0
    if layer_type == "BatchNorm2d":
        return _("Not a multiply-accumulate layer (foldable into the conv at inference): explorer and "
                 "FlopCounterMode count 0. torchinfo counts its {bn_params:,} affine parameters once "
                 "(not per pixel); thop counts {per_output:g} ops per output element.").format(
            bn_params=row.bn_params, per_output=per_output)
    if layer_type == "AvgPool2d":
        return _("Average pools in the path (the avg-down shortcut, ResNeSt's strided pool, Res2Net's pooled "
                 "group): thop counts the window's adds and one divide per output element (k·k + 1), "
                 "the others 0.")
    if layer_type == "AdaptiveAvgPool2d" and row.gates:
        return _("Global average pools: the head's and the {gates} channel gates' ({pooled:,} elements added up). "
                 "thop counts each window's adds and one divide per output value (H·W + 1), the others 0: "
                 "MACs leave pooling out.").format(gates=row.gates, pooled=row.pooled)
    if layer_type == "AdaptiveAvgPool2d":
        return _("Global average pool: thop counts {per_output:g} ops per output value "
                 "(the window's adds and one divide), the others 0.").format(per_output=per_output)
    if layer_type == RESIDUAL_ADD:
        return _("{adds:,} additions (every element of every block's output, out += identity). No "
                 "tool counts them: the add is not a module (thop, torchinfo) nor a conv/matmul "
                 "(FlopCounterMode).").format(adds=row.adds)
    if layer_type == GATE_MULTIPLY:
        return _("{multiplies:,} multiplications: each gated map times its gate, one per element (radix groups "
                 "each for split attention). No tool counts them: like the residual add, the multiply is no "
                 "module and no conv/matmul.").format(multiplies=row.multiplies)
    if layer_type == "Conv2d" and row.conv_biases:
        return _("Everyone counts k x k x C_in/groups multiply-accumulates per output value; FlopCounterMode "
                 "reports them as FLOPs (x2). The gates' 1x1 convs have biases: torchinfo adds one per bias "
                 "({biases:,}), the others leave them out.").format(biases=row.conv_biases)
    return _(_FIXED_EXPLANATIONS[layer_type]) if layer_type in _FIXED_EXPLANATIONS else ""


_FIXED_EXPLANATIONS = {
    "Conv2d": N_("Everyone counts k x k x C_in/groups multiply-accumulates per output value; "
                 "FlopCounterMode reports them as FLOPs (x2). ResNet convs have no bias."),
    "Linear": N_("in x out multiply-accumulates. torchinfo adds one per bias; "
                 "FlopCounterMode reports addmm as 2 x in x out FLOPs and skips the bias."),
    "ReLU": N_("A comparison, not arithmetic: 0 everywhere."),
    "MaxPool2d": N_("Comparisons: 0 everywhere."),
    "ZeroPadShortcut": N_("Option A shortcut: slicing and zero padding, no arithmetic: 0 everywhere."),
    "Conv1d": N_("ECA's 1-D conv across the pooled channels: k multiply-accumulates per channel. Everyone counts "
                 "them; FlopCounterMode as FLOPs (x2)."),
    "Sigmoid": N_("The gate's squashing of one pooled value per channel: no tool counts it (elementwise, like ReLU)."),
    "RadixSoftmax": N_("Split attention's softmax across the radix groups of each channel: no tool counts it "
                       "(elementwise, like ReLU)."),
}


def count_conventions(table: LayerTable) -> Conventions:
    """Count ``table``'s spec with every tool and line the counts up per layer type."""
    x = torch.empty(1, table.spec.in_channels, *table.input_size, device="meta")  # (1, C, H, W)
    by_tool = {
        "torchinfo": _torchinfo_by_type(table, x),
        "thop": _thop_by_type(table, x),
        "flop_counter": _flop_counter_by_type(table, x),
    }
    ours: Counter = Counter()
    outputs: Counter = Counter()
    pooled: Counter = Counter()
    bn_params = 0
    for row in table.rows:
        ours[row.type] += row.macs
        outputs[row.type] += math.prod(row.out_shape)
        pooled[row.type] += math.prod(row.in_shape)
        bn_params += row.params if row.type == "BatchNorm2d" else 0
    adds = sum(math.prod(b.out_shape) for b in table.blocks if b.block is not None)
    biases = _conv_biases(table)
    costs = gate_costs(table)
    gates = sum(c.gates for c in costs)
    rows = [
        CountRow(
            layer_type=layer_type,
            explorer=ours[layer_type],
            torchinfo=by_tool["torchinfo"][layer_type],
            thop=by_tool["thop"][layer_type],
            flop_counter=by_tool["flop_counter"][layer_type],
            outputs=outputs[layer_type],
            bn_params=bn_params,
            adds=adds,
            conv_biases=biases[layer_type],
            gates=gates,
            pooled=pooled[layer_type],
        )
        for layer_type in dict.fromkeys(row.type for row in table.rows)
    ]
    rows.append(CountRow(RESIDUAL_ADD, 0, 0, 0, 0, adds=adds))
    if costs:
        rows.append(CountRow(GATE_MULTIPLY, 0, 0, 0, 0, gates=gates, multiplies=sum(c.multiplies for c in costs)))
    return Conventions(rows=tuple(rows))


def _conv_biases(table: LayerTable) -> Counter:
    """Conv biases per layer type (torchvision's convs have none; the gates' 1x1 convs do)."""
    model = build_model(table.spec, "meta")
    counts: Counter = Counter()
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d)) and module.bias is not None:
            counts[type(module).__name__] += module.bias.numel()
    return counts


def layer_type_text(layer_type: str) -> str:
    """A layer type as people read it: a class name, or "residual add" / "gate multiply" in their language."""
    return _(layer_type) if layer_type in _PSEUDO_TYPES else layer_type


def counts_table(conventions: Conventions) -> RowsTable:
    """What each tool counts per layer type, and the totals row."""
    tool_labels = {tool: _(label) for tool, (label, _counts) in TOOLS.items()}
    columns = (_("Layer type"), *tool_labels.values())
    rows = [(layer_type_text(r.layer_type), *(getattr(r, tool) for tool in tool_labels)) for r in conventions.rows]
    rows.append((_("total"), *(conventions.total(tool) for tool in tool_labels)))
    return RowsTable(columns, tuple(dict(zip(columns, row)) for row in rows))
