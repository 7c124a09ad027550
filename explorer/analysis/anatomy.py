"""The layer table: every leaf layer of a ResNet once per call, in execution order.

Shapes come from a forward pass on the ``meta`` device through the real module code (no
weights, no arithmetic), so the table costs the same at 1024 px as at 224 px and can never
disagree with the model. Counting convention: ``macs`` are multiply-accumulates of conv and
linear layers only — torchvision's ``_ops`` and the paper's "FLOPs" column count the same;
FLOPs = 2 x MACs. Receptive fields follow Araujo et al. 2019 (https://distill.pub/2019/computing-receptive-fields/).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from explorer.model.blocks import gate_module_names, has_gate
from explorer.analysis.block_summary import branch_summary, shortcut_kind
from explorer.analysis.layer_math import macs_of, pair, receptive_field_after
from explorer.model.build import build_model, is_block
from explorer.runtime.i18n import N_, _
from explorer.analysis.shortcuts import ShortcutKind
from explorer.model.kinds import Shortcut
from explorer.model.spec import ResNetSpec, check_input_size

FP32_BYTES = 4


def is_leaf_layer(module: nn.Module) -> bool:
    """A module the layer table lists: no children, and not an ``nn.Identity`` placeholder."""
    return next(module.children(), None) is None and not isinstance(module, nn.Identity)


class Level(str, enum.Enum):
    """How finely a layer table is listed (the CLI's ``--level`` values)."""

    LAYERS = "layers"  # every call of every leaf layer
    BLOCKS = "blocks"  # every residual block, plus the stem and the head
    STAGES = "stages"  # stem, layer1 ... layerN, head

    @property
    def label(self) -> str:
        """The level's name for people ("leaf layers", "blocks", "stages"), in their language."""
        return _(_LEVEL_LABELS[self])


_LEVEL_LABELS = {Level.LAYERS: N_("leaf layers"), Level.BLOCKS: N_("blocks"), Level.STAGES: N_("stages")}


class RowKind(enum.Enum):
    """What a row is, for colouring tables: part of a shortcut, a channel gate, a resolution drop, or neither."""

    SHORTCUT = "shortcut"  # a projection / zero-pad layer, or a block with such a shortcut
    GATE = "gate"  # a layer that only computes a channel gate (SE, ECA, split attention's weights)
    DOWNSAMPLING = "downsampling"  # the feature map gets smaller here
    OTHER = "other"  # neither


def _shrinks(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> bool:
    return len(out_shape) == 3 and out_shape[1:] != in_shape[1:]


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
    gate: bool = False  # computes a channel gate: pools the whole map, its outputs are one number per channel

    @property
    def flops(self) -> int:
        """2 x MACs: one multiply and one add each."""
        return 2 * self.macs

    @property
    def reduces_resolution(self) -> bool:
        """True where the feature map gets smaller (what seed 002 calls "down sample")."""
        return _shrinks(self.in_shape, self.out_shape)

    @property
    def block_name(self) -> str:
        """The `BlockRow` this row rolls up into: "layer2.0", or "stem" / "head"."""
        return self.stage if self.block is None else f"{self.stage}.{self.block}"

    @property
    def kind(self) -> RowKind:
        if self.downsample:
            return RowKind.SHORTCUT
        if self.gate:
            return RowKind.GATE
        return RowKind.DOWNSAMPLING if self.reduces_resolution else RowKind.OTHER


@dataclass(frozen=True)
class BlockRow:
    """A residual block rolled up (the stem and the head appear as one row each)."""

    name: str  # "layer2.0", or "stem" / "head"
    stage: str
    block: int | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    stride: int  # input side / output side
    shortcut: ShortcutKind | None  # None for the stem and the head, which are no blocks
    convs: str  # the residual branch, e.g. "1x1,64 → 3x3,64 → 1x1,256"
    params: int
    macs: int
    activation_bytes: int
    rf_size: int
    rf_jump: int
    layers: int  # leaf rows in this block

    @property
    def kind(self) -> RowKind:
        if self.shortcut is not None and self.shortcut.computed:
            return RowKind.SHORTCUT
        return RowKind.DOWNSAMPLING if self.stride > 1 else RowKind.OTHER


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

    @property
    def stage(self) -> str:
        """The stage, named as on `LayerRow` and `BlockRow`."""
        return self.name

    @property
    def kind(self) -> RowKind:
        return RowKind.DOWNSAMPLING if _shrinks(self.in_shape, self.out_shape) else RowKind.OTHER


TableRow = LayerRow | BlockRow | StageRow


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

    def rows_at(self, level: Level) -> tuple[TableRow, ...]:
        """The rows listed at ``level``: leaf-layer calls, blocks or stages."""
        return {Level.LAYERS: self.rows, Level.BLOCKS: self.blocks, Level.STAGES: self.stages}[level]


# ---- computing the table --------------------------------------------------------------


# The modules after the last stage: a pre-activation net's final BN-ReLU, the pool, the classifier.
HEAD_MODULES = ("final_bn", "final_relu", "avgpool", "fc")


def _locate(name: str, stage_names: Sequence[str]) -> tuple[str, int | None]:
    """Stage and block of a qualified module name."""
    head, _dot, rest = name.partition(".")
    if head in stage_names:
        return head, int(rest.split(".")[0])
    return ("head", None) if head in HEAD_MODULES else ("stem", None)


def _storage(x: torch.Tensor) -> int:
    """Which storage ``x`` views: a split or reshaped map keeps the receptive field of the map it views."""
    return x.untyped_storage()._cdata


class _Recorder:
    """Forward hooks that turn each leaf call of a private meta model into a `LayerRow`.

    Receptive fields follow the feature maps' path. A channel gate (SE, ECA, split
    attention's weights) pools the whole map into one number per channel: its rows show
    that window, but the block's output keeps the path's receptive field (the column's
    convention, said in the table's caption), so the gate never sets ``last_rf``. A map the
    hooks never saw (a sum or a concat of a block's branches, as Res2Net joins its groups) has the
    widest field of that block's path so far.
    """

    def __init__(self, model: nn.Module, stage_names: Sequence[str]) -> None:
        self.rows: list[LayerRow] = []
        self.stage_names = stage_names
        self.calls: dict[str, int] = {}
        # storage of a map -> (rf_size, rf_jump). The tensors are kept alive so storages are not reused.
        self.rf: dict[int, tuple[int, int]] = {}
        self.alive: list[torch.Tensor] = []
        self.last_rf = (1, 1)
        self.block_widest: tuple[int, int] | None = None  # the widest path field in the current block
        self.names = {module: name for name, module in model.named_modules()}
        self.gates = gate_module_names(model)

    def seed(self, x: torch.Tensor) -> None:
        self.rf[_storage(x)] = (1, 1)
        self.alive.append(x)

    def block_start(self, module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        self.block_widest = None

    def path_hook(self, module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        """After a gated module or a block: its output map has the path's receptive field so far."""
        self.rf[_storage(out)] = self.last_rf
        self.alive.append(out)

    def hook(self, module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        x = args[0]
        name = self.names[module]
        call = self.calls.get(name, 0)
        self.calls[name] = call + 1
        in_side = x.shape[2] if x.dim() == 4 else 1
        rf = receptive_field_after(module, self.rf.get(_storage(x), self.block_widest or self.last_rf), in_side)
        self.rf[_storage(out)] = rf
        if name not in self.gates:
            self.last_rf = rf
            self.block_widest = max(self.block_widest or rf, rf)
        self.alive.append(out)
        stage, block = _locate(name, self.stage_names)
        conv = isinstance(module, (nn.Conv2d, nn.Conv1d))
        self.rows.append(LayerRow(
            index=len(self.rows),
            name=name,
            call=call,
            type=type(module).__name__,
            stage=stage,
            block=block,
            in_shape=tuple(x.shape[1:]),
            out_shape=tuple(out.shape[1:]),
            kernel=pair(getattr(module, "kernel_size", None)),
            stride=pair(getattr(module, "stride", None)),
            padding=pair(getattr(module, "padding", None)),
            dilation=pair(getattr(module, "dilation", None)) if conv else None,
            groups=module.groups if conv else None,
            downsample=".downsample" in name,
            params=0 if call else sum(p.numel() for p in module.parameters(recurse=False)),
            macs=macs_of(module, out),
            rf_size=rf[0],
            rf_jump=rf[1],
            activation_bytes=(out.numel() // out.shape[0]) * FP32_BYTES,
            gate=name in self.gates,
        ))


def _keep_shape(x: torch.Tensor) -> torch.Tensor:
    return x


def _leaf_rows(spec: ResNetSpec, input_size: tuple[int, int]) -> list[LayerRow]:
    model = build_model(spec, "meta")  # private to this call: hooks here race with nobody
    recorder = _Recorder(model, model.stage_names)
    for module in model.modules():
        if is_leaf_layer(module):
            module.register_forward_hook(recorder.hook)
        elif is_block(module) or has_gate(module):
            module.register_forward_hook(recorder.path_hook)
        if is_block(module):
            module.register_forward_pre_hook(recorder.block_start)
        if isinstance(module, nn.BatchNorm2d):
            # BN keeps the shape, and on meta tensors it runs a Python decomposition that
            # costs half the table's time; this model is private, so skip its arithmetic.
            module.forward = _keep_shape  # type: ignore[method-assign]
    x = torch.empty(1, spec.in_channels, *input_size, device="meta")  # (1, C, H, W)
    recorder.seed(x)
    with torch.no_grad():
        model(x)
    return recorder.rows


def _side_ratio(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    if len(in_shape) < 3 or len(out_shape) < 3:
        return 1
    return max(1, round(in_shape[1] / out_shape[1]))


def _grouped(rows: Sequence[LayerRow], key) -> dict[str, list[LayerRow]]:
    """Rows by ``key(row)``, in execution order."""
    groups: dict[str, list[LayerRow]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


def _last_map(members: Sequence[LayerRow]) -> LayerRow:
    """The last row on the feature maps' path: a pre-activation block with a gate ends in gate rows."""
    return next(r for r in reversed(members) if not r.gate)


def _rollup(members: Sequence[LayerRow]) -> dict[str, object]:
    """What a block row and a stage row both sum up from their leaf rows."""
    last = _last_map(members)
    return dict(
        in_shape=members[0].in_shape,
        out_shape=last.out_shape,
        params=sum(r.params for r in members),
        macs=sum(r.macs for r in members),
        activation_bytes=sum(r.activation_bytes for r in members),
        rf_size=last.rf_size,
        rf_jump=last.rf_jump,
        layers=len(members),
    )


def _block_rows(rows: Sequence[LayerRow], plain: bool) -> tuple[BlockRow, ...]:
    blocks = []
    for name, members in _grouped(rows, lambda row: row.block_name).items():
        stage, block = members[0].stage, members[0].block
        blocks.append(BlockRow(
            name=name,
            stage=stage,
            block=block,
            stride=_side_ratio(members[0].in_shape, _last_map(members).out_shape),
            shortcut=None if block is None else shortcut_kind(members, plain),
            convs=branch_summary(members),  # it leaves the shortcut's conv out itself
            **_rollup(members),
        ))
    return tuple(blocks)


def _stage_rows(rows: Sequence[LayerRow]) -> tuple[StageRow, ...]:
    return tuple(
        StageRow(name=stage, blocks=len({r.block for r in members if r.block is not None}), **_rollup(members))
        for stage, members in _grouped(rows, lambda row: row.stage).items()
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
    blocks = _block_rows(rows, plain=spec.shortcut is Shortcut.NONE)
    return LayerTable(spec=spec, input_size=size, rows=rows, blocks=blocks, stages=stages, totals=totals)
