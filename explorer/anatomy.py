"""The layer table: every leaf layer of a ResNet once per call, in execution order.

Shapes come from a forward pass on the ``meta`` device through the real module code (no
weights, no arithmetic), so the table costs the same at 1024 px as at 224 px and can never
disagree with the model. Counting convention: ``macs`` are multiply-accumulates of conv and
linear layers only — torchvision's ``_ops`` and the paper's "FLOPs" column count the same;
FLOPs = 2 x MACs. Receptive fields follow Araujo et al. 2019 (https://distill.pub/2019/computing-receptive-fields/).
"""

from __future__ import annotations

import csv
import enum
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from explorer.build import NoShortcut, ZeroPadShortcut, build_model
from explorer.spec import ResNetSpec, check_input_size

FP32_BYTES = 4


@dataclass(frozen=True)
class LayerRow:
    """One call of one leaf module (torchvision's BasicBlock calls its ``relu`` twice)."""

    index: int  # position in execution order
    name: str  # qualified module name, e.g. "layer2.0.downsample.0"
    call: int  # 0 for a module's first call, 1, 2 ... for reuses
    type: str  # module class name, e.g. "Conv2d"
    stage: str  # "stem", "layer1" ... "layerN", "head"
    block: int | None  # block index inside the stage; None in stem and head
    in_shape: tuple[int, ...]  # input of one image: (C, H, W), or (features,) for fc
    out_shape: tuple[int, ...]  # output of one image
    kernel: tuple[int, int] | None
    stride: tuple[int, int] | None
    padding: tuple[int, int] | None
    dilation: tuple[int, int] | None
    groups: int | None
    downsample: bool  # part of a block's shortcut branch (projection or zero-pad)
    params: int  # counted at the module's first call only, so they add up to the model's
    macs: int  # conv + linear multiply-accumulates for one image
    rf_size: int  # receptive field side, input pixels
    rf_jump: int  # input pixels between neighbouring outputs (the cumulative stride)
    activation_bytes: int  # the output tensor of one image in float32

    @property
    def flops(self) -> int:
        """2 x MACs: one multiply and one add each."""
        return 2 * self.macs

    @property
    def reduces_resolution(self) -> bool:
        """True where the feature map gets smaller (what seed 002 calls "down sample")."""
        return len(self.out_shape) == 3 and self.out_shape[1:] != self.in_shape[1:]


@dataclass(frozen=True)
class BlockRow:
    """A residual block rolled up (the stem and the head appear as one row each)."""

    name: str  # "layer2.0", or "stem" / "head"
    stage: str
    block: int | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    stride: int  # input side / output side
    shortcut: str  # "identity", "projection", "avg-pool projection", "zero-pad", "none" (plain) or "" (stem/head)
    convs: str  # the residual branch, e.g. "1x1,64 → 3x3,64 → 1x1,256"
    params: int
    macs: int
    activation_bytes: int
    rf_size: int
    rf_jump: int
    layers: int  # leaf rows in this block


@dataclass(frozen=True)
class StageRow:
    """A stage rolled up: "stem", "layer1" ... "head"."""

    name: str
    blocks: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    macs: int
    activation_bytes: int
    rf_size: int
    rf_jump: int
    layers: int


@dataclass(frozen=True)
class Totals:
    """Whole-model figures for one image."""

    depth: int
    params: int
    macs: int
    activation_bytes: int  # sum of every layer output, float32 (what a training step keeps)
    layers: int  # leaf rows
    rf_size: int  # receptive field of the last stage's output
    output_stride: int
    input_size: tuple[int, int]

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def param_bytes(self) -> int:
        return self.params * FP32_BYTES


@dataclass(frozen=True)
class LayerTable:
    """Everything `layer_table` knows about one spec at one input size."""

    spec: ResNetSpec
    input_size: tuple[int, int]
    rows: tuple[LayerRow, ...]
    blocks: tuple[BlockRow, ...]
    stages: tuple[StageRow, ...]
    totals: Totals


class Column(str, enum.Enum):
    """Column keys shared by the CLI, the CSV/JSON exports, the pages and the charts."""

    INDEX = "index"
    NAME = "name"
    TYPE = "type"
    STAGE = "stage"
    BLOCK = "block"
    BLOCKS = "blocks"
    IN_SHAPE = "in_shape"
    OUT_SHAPE = "out_shape"
    KERNEL = "kernel"
    STRIDE = "stride"
    PADDING = "padding"
    DILATION = "dilation"
    GROUPS = "groups"
    DOWNSAMPLE = "downsample"
    SHORTCUT = "shortcut"
    CONVS = "convs"
    PARAMS = "params"
    MACS = "macs"
    RF_SIZE = "rf_size"
    RF_JUMP = "rf_jump"
    ACTIVATION_BYTES = "activation_bytes"

    @property
    def label(self) -> str:
        """Header for people; says the unit and the counting convention."""
        return _LABELS.get(self, self.value.replace("_", " ").capitalize())


_LABELS = {
    Column.INDEX: "#",
    Column.IN_SHAPE: "In (C×H×W)",
    Column.OUT_SHAPE: "Out (C×H×W)",
    Column.DOWNSAMPLE: "Shortcut layer",
    Column.PARAMS: "Params",
    Column.MACS: "MACs (conv+linear)",
    Column.RF_SIZE: "RF (px)",
    Column.RF_JUMP: "RF jump (px)",
    Column.ACTIVATION_BYTES: "Activation (bytes, fp32)",
}

LAYER_COLUMNS = (
    Column.INDEX, Column.NAME, Column.TYPE, Column.STAGE, Column.BLOCK, Column.IN_SHAPE, Column.OUT_SHAPE,
    Column.KERNEL, Column.STRIDE, Column.PADDING, Column.DILATION, Column.GROUPS, Column.DOWNSAMPLE,
    Column.PARAMS, Column.MACS, Column.RF_SIZE, Column.RF_JUMP, Column.ACTIVATION_BYTES,
)
BLOCK_COLUMNS = (
    Column.NAME, Column.STAGE, Column.BLOCK, Column.IN_SHAPE, Column.OUT_SHAPE, Column.STRIDE, Column.SHORTCUT,
    Column.CONVS, Column.PARAMS, Column.MACS, Column.RF_SIZE, Column.RF_JUMP, Column.ACTIVATION_BYTES,
)
STAGE_COLUMNS = (
    Column.NAME, Column.BLOCKS, Column.IN_SHAPE, Column.OUT_SHAPE, Column.PARAMS, Column.MACS,
    Column.RF_SIZE, Column.RF_JUMP, Column.ACTIVATION_BYTES,
)


def format_value(value: object) -> object:
    """A cell for people and CSV: shapes as ``64x56x56``, pairs as ``3x3``, flags as "yes"/empty.

    None stays None (an empty cell in a dataframe; the CSV writer prints it as nothing).
    """
    if value is None or value is False:
        return None
    if value is True:
        return "yes"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return value


def records(rows: Iterable[LayerRow | BlockRow | StageRow], columns: Sequence[Column]) -> list[dict[str, object]]:
    """Rows as dicts keyed by column label, values formatted for display and CSV."""
    return [{c.label: format_value(getattr(row, c.value)) for c in columns} for row in rows]


def to_csv(rows: Iterable[LayerRow | BlockRow | StageRow], columns: Sequence[Column]) -> str:
    """The CSV text of exactly these rows and columns (the page's download, the CLI's --csv)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[c.label for c in columns], lineterminator="\n")
    writer.writeheader()
    writer.writerows(records(rows, columns))
    return buffer.getvalue()


# ---- computing the table --------------------------------------------------------------


def _pair(value: object) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, str):  # padding="same" never occurs in ResNets; keep the table honest
        raise TypeError(f"unsupported padding {value!r}")
    first, second = value  # type: ignore[misc]
    return (int(first), int(second))


def _locate(name: str, stage_names: Sequence[str]) -> tuple[str, int | None]:
    """Stage and block of a qualified module name."""
    head, _, rest = name.partition(".")
    if head in stage_names:
        return head, int(rest.split(".")[0])
    return ("head", None) if head in ("avgpool", "fc") else ("stem", None)


def _macs(module: nn.Module, out: torch.Tensor) -> int:
    """Multiply-accumulates of one image through a conv or linear layer."""
    per_image = out.numel() // out.shape[0]
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return per_image * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return per_image * module.in_features
    return 0


def _receptive_field(module: nn.Module, rf: tuple[int, int], in_side: int) -> tuple[int, int]:
    """(size, jump) after ``module`` given (size, jump) before it, along the height axis."""
    size, jump = rf
    if isinstance(module, nn.AdaptiveAvgPool2d):  # a window over the whole map
        return size + (in_side - 1) * jump, jump * in_side
    if isinstance(module, (ZeroPadShortcut, NoShortcut)):
        return size, jump * module.stride
    kernel, stride = getattr(module, "kernel_size", None), getattr(module, "stride", None)
    if kernel is None or stride is None:
        return size, jump
    k, s = _pair(kernel)[0], _pair(stride)[0]
    d = _pair(getattr(module, "dilation", 1))[0]
    return size + (d * (k - 1)) * jump, jump * s


class _Recorder:
    """Forward hooks that turn each leaf call of a private meta model into a `LayerRow`."""

    def __init__(self, model: nn.Module, stage_names: Sequence[str]) -> None:
        self.rows: list[LayerRow] = []
        self.stage_names = stage_names
        self.calls: dict[str, int] = {}
        # id(tensor) -> (rf_size, rf_jump). The tensors are kept alive so ids are not reused.
        self.rf: dict[int, tuple[int, int]] = {}
        self.alive: list[torch.Tensor] = []
        self.last_rf = (1, 1)
        self.names = {module: name for name, module in model.named_modules()}

    def seed(self, x: torch.Tensor) -> None:
        self.rf[id(x)] = (1, 1)
        self.alive.append(x)

    def hook(self, module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        x = args[0]
        name = self.names[module]
        call = self.calls.get(name, 0)
        self.calls[name] = call + 1
        in_side = x.shape[2] if x.dim() == 4 else 1
        rf = _receptive_field(module, self.rf.get(id(x), self.last_rf), in_side)
        self.rf[id(out)] = self.last_rf = rf
        self.alive.append(out)
        stage, block = _locate(name, self.stage_names)
        conv = isinstance(module, nn.Conv2d)
        self.rows.append(LayerRow(
            index=len(self.rows),
            name=name,
            call=call,
            type=type(module).__name__,
            stage=stage,
            block=block,
            in_shape=tuple(x.shape[1:]),
            out_shape=tuple(out.shape[1:]),
            kernel=_pair(getattr(module, "kernel_size", None)),
            stride=_pair(getattr(module, "stride", None)),
            padding=_pair(getattr(module, "padding", None)),
            dilation=_pair(getattr(module, "dilation", None)) if conv else None,
            groups=module.groups if conv else None,
            downsample=".downsample" in name,
            params=0 if call else sum(p.numel() for p in module.parameters(recurse=False)),
            macs=_macs(module, out),
            rf_size=rf[0],
            rf_jump=rf[1],
            activation_bytes=(out.numel() // out.shape[0]) * FP32_BYTES,
        ))


def _keep_shape(x: torch.Tensor) -> torch.Tensor:
    return x


def _leaf_rows(spec: ResNetSpec, input_size: tuple[int, int]) -> list[LayerRow]:
    model = build_model(spec, "meta")  # private to this call: hooks here race with nobody
    recorder = _Recorder(model, model.stage_names)
    for module in model.modules():
        if not any(True for _ in module.children()) and not isinstance(module, nn.Identity):
            module.register_forward_hook(recorder.hook)
        if isinstance(module, nn.BatchNorm2d):
            # BN keeps the shape, and on meta tensors it runs a Python decomposition that
            # costs half the table's time; this model is private, so skip its arithmetic.
            module.forward = _keep_shape  # type: ignore[method-assign]
    x = torch.empty(1, spec.in_channels, *input_size, device="meta")  # (1, C, H, W)
    recorder.seed(x)
    with torch.no_grad():
        model(x)
    return recorder.rows


def _shortcut_kind(rows: Sequence[LayerRow]) -> str:
    shortcut = [r for r in rows if r.downsample]
    if not shortcut:
        return "identity"
    types = {r.type for r in shortcut}
    if "NoShortcut" in types:
        return "none"
    if "ZeroPadShortcut" in types:
        return "zero-pad"
    return "avg-pool projection" if "AvgPool2d" in types else "projection"


def _conv_summary(rows: Sequence[LayerRow]) -> str:
    parts = []
    for r in rows:
        if r.type == "Conv2d" and not r.downsample:
            k = "x".join(map(str, r.kernel))
            groups = f",g{r.groups}" if r.groups and r.groups > 1 else ""
            parts.append(f"{k},{r.out_shape[0]}{groups}")
    return " → ".join(parts)


def _side_ratio(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    if len(in_shape) < 3 or len(out_shape) < 3:
        return 1
    return max(1, round(in_shape[1] / out_shape[1]))


def _group_key(row: LayerRow) -> tuple[str, int | None]:
    return (row.stage, row.block)


def _block_rows(rows: Sequence[LayerRow]) -> tuple[BlockRow, ...]:
    groups: dict[tuple[str, int | None], list[LayerRow]] = {}
    for row in rows:
        groups.setdefault(_group_key(row), []).append(row)
    blocks = []
    for (stage, block), members in groups.items():
        main = [r for r in members if not r.downsample]
        blocks.append(BlockRow(
            name=stage if block is None else f"{stage}.{block}",
            stage=stage,
            block=block,
            in_shape=members[0].in_shape,
            out_shape=members[-1].out_shape,
            stride=_side_ratio(members[0].in_shape, members[-1].out_shape),
            shortcut="" if block is None else _shortcut_kind(members),
            convs=_conv_summary(main),
            params=sum(r.params for r in members),
            macs=sum(r.macs for r in members),
            activation_bytes=sum(r.activation_bytes for r in members),
            rf_size=members[-1].rf_size,
            rf_jump=members[-1].rf_jump,
            layers=len(members),
        ))
    return tuple(blocks)


def _stage_rows(rows: Sequence[LayerRow]) -> tuple[StageRow, ...]:
    groups: dict[str, list[LayerRow]] = {}
    for row in rows:
        groups.setdefault(row.stage, []).append(row)
    return tuple(
        StageRow(
            name=stage,
            blocks=len({r.block for r in members if r.block is not None}),
            in_shape=members[0].in_shape,
            out_shape=members[-1].out_shape,
            params=sum(r.params for r in members),
            macs=sum(r.macs for r in members),
            activation_bytes=sum(r.activation_bytes for r in members),
            rf_size=members[-1].rf_size,
            rf_jump=members[-1].rf_jump,
            layers=len(members),
        )
        for stage, members in groups.items()
    )


@lru_cache(maxsize=128)
def layer_table(spec: ResNetSpec, input_size: int | tuple[int, int] = 224) -> LayerTable:
    """The layer table of ``spec`` for one image of ``input_size`` pixels (side or (H, W)).

    Raises ValueError for an input smaller than the network's output stride.
    """
    size = check_input_size(spec, input_size)
    rows = tuple(_leaf_rows(spec, size))
    stages = _stage_rows(rows)
    last_stage = [s for s in stages if s.name not in ("stem", "head")][-1]
    totals = Totals(
        depth=spec.depth,
        params=sum(r.params for r in rows),
        macs=sum(r.macs for r in rows),
        activation_bytes=sum(r.activation_bytes for r in rows),
        layers=len(rows),
        rf_size=last_stage.rf_size,
        output_stride=last_stage.rf_jump,
        input_size=size,
    )
    return LayerTable(spec=spec, input_size=size, rows=rows, blocks=_block_rows(rows), stages=stages, totals=totals)


def human_count(value: float, unit: str = "") -> str:
    """12,345,678 -> "12.35 M"; for totals shown to people (tables keep exact integers)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:g} {unit}".rstrip()


def human_bytes(value: float) -> str:
    """Bytes in binary units: 102760448 -> "98.0 MiB"."""
    for factor, prefix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= factor:
            return f"{value / factor:.1f} {prefix}"
    return f"{math.floor(value)} B"
