"""`ResNetSpec`: the one description of a ResNet that every part of the explorer reads.

A spec is plain, frozen, hashable data, so it can key caches and travel through the URL.
Variants are fields, not subclasses (after timm's ``resnet.py``): the letters of the
"Bag of Tricks" paper (He et al. 2019, https://arxiv.org/abs/1812.01187) map to fields as

* B  (torchvision, "v1.5"): ``stride_style=StrideStyle.PYTORCH`` — stride on the 3x3 conv;
* v1 (the original paper):  ``stride_style=StrideStyle.CAFFE``   — stride on the first 1x1;
* C: ``stem=Stem.DEEP`` — three 3x3 convs instead of one 7x7;
* D: ``stem=Stem.DEEP, avg_down=True`` — plus an average-pooled projection shortcut.

Each field carries a `FieldInfo` (label, help, parser, widget kind; `explorer.model.fields`):
the URL token (`explorer.model.token`), the command-line flags (`explorer.cli`) and the
sidebar picker (`explorer.ui.picker`) are all made from it, so a new field is declared here
once. The kinds a field takes are in `explorer.model.kinds`, the depth arithmetic in
`explorer.model.depth`, the family defaults in `explorer.model.families`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from explorer.model.bounds import (MAX_BLOCKS, MAX_DEPTH, MAX_PLANES, check_range, checked_stages, refuse_huge,
                                   whole)
from explorer.model.depth import default_planes, split_attention_width, stages_for_depth
from explorer.model.families import IMAGENET, Family, family_of
from explorer.model.fields import FieldInfo, Widget, choice, field_infos, ints, later_stage_flags, number, switch
from explorer.model.naming import generated_name
from explorer.model.kinds import Attention, Block, MiddleConv, Shortcut, Stem, StrideStyle, enum_value
from explorer.model.preset_rows import PRESET_ROWS
from explorer.runtime.i18n import N_, _


# `FieldInfo.shown_if` of the fields that mean something for bottleneck blocks only.
_BOTTLENECK = ("block", Block.BOTTLENECK.value)
# A field that means nothing unless another has a value, and its default there: kept at the
# default, so that two specs of one network are equal (and one preset, one link).
_UNUSED_UNLESS = {"radix": ("middle_conv", MiddleConv.SPLIT), "avd_first": ("middle_conv", MiddleConv.SPLIT),
                  "scales": ("middle_conv", MiddleConv.RES2),
                  "attention_reduction": ("attention", Attention.SE)}


@dataclass(frozen=True)
class ResNetSpec:
    """A complete ResNet architecture. Defaults describe torchvision's ``resnet50``."""

    # Blocks per stage; one entry per stage ("layer1", "layer2", ...).
    stages: tuple[int, ...] = field(default=(3, 4, 6, 3), metadata=ints(
        N_("Blocks per stage"), N_("Residual blocks in each stage, e.g. 3,4,6,3 (ResNet-50) or 3,24,36,3."),
        MAX_BLOCKS))
    # Residual block type; decides the expansion (1 or 4) and how depth is counted.
    block: Block = field(default=Block.BOTTLENECK, metadata=choice(
        Block, N_("Block"), N_("basic: two 3x3 convs (ResNet-18/34). bottleneck: 1x1 → 3x3 → 1x1, ×4 wider out (50+).")))
    # ``planes`` of each stage: the block's inner width before expansion and grouping.
    # Empty means the paper's doubling from 64: (64, 128, 256, 512) for four stages.
    stage_planes: tuple[int, ...] = field(default=(), metadata=ints(
        N_("Planes per stage"), N_("The inner width of each stage's blocks, e.g. 64,128,256,512; leave empty to double "
        "from 64."), MAX_PLANES, flag="planes", per_stage=True))
    # Grouped 3x3 conv in bottlenecks (ResNeXt cardinality); 1 for plain ResNets.
    groups: int = field(default=1, metadata=number(
        N_("Groups"), N_("ResNeXt cardinality of the 3x3 conv (32 for resnext50_32x4d)."), 256, shown_if=_BOTTLENECK))
    # torchvision's ``width_per_group``: bottleneck width = int(planes * w / 64) * groups.
    # 4 with groups=32 is ResNeXt "32x4d"; 128 with groups=1 is Wide ResNet "_2".
    width_per_group: int = field(default=64, metadata=number(
        N_("Width/group"), N_("64 = plain ResNet; 4 with 32 groups = ResNeXt 32x4d; 128 = Wide ResNet-2; 26 = Res2Net 26w."), 1024,
        shown_if=_BOTTLENECK))
    # What sits between a bottleneck's 1x1 convs: torchvision's 3x3, ResNeSt's split
    # attention (with timm's "avd": the stride moves to a 3x3 average pool beside it) or
    # Res2Net's hierarchy of 3x3 convs over ``scales`` channel groups.
    middle_conv: MiddleConv = field(default=MiddleConv.CONV, metadata=choice(
        MiddleConv, N_("Bottleneck 3x3"), N_("conv: one 3x3 (ResNet, ResNeXt). split: split attention over radix "
        "groups (ResNeSt). res2: a hierarchy of 3x3 convs over channel scales (Res2Net)."), shown_if=_BOTTLENECK))
    # ResNeSt's radix: how many 3x3 groups the split attention weighs against each other.
    radix: int = field(default=2, metadata=number(
        N_("Radix"), N_("Groups of 3x3 convs that split attention weighs per channel (2 in resnest50d)."), 16,
        shown_if=("middle_conv", MiddleConv.SPLIT.value)))
    # timm's "avd_first": a striding split-attention block average-pools before its 3x3, not
    # after it (ResNeSt's 4s2x40d and 1s4x24d ablations), so the 3x3 runs on the smaller map.
    avd_first: bool = field(default=False, metadata=switch(
        N_("Pool before the 3x3 (avd_first)"), N_("Where a split-attention block that strides puts its 3x3 average "
        "pool: before the 3x3 (resnest50d_4s2x40d), or after it (resnest50d). Before, the 3x3 runs on the smaller "
        "map: fewer MACs, the same parameters."), shown_if=("middle_conv", MiddleConv.SPLIT.value)))
    # Res2Net's scale: the block's width is split into this many groups of ``width_per_group``.
    scales: int = field(default=4, metadata=number(
        N_("Scales"), N_("Channel groups of Res2Net's 3x3 hierarchy (4 in res2net50_26w_4s)."), 16,
        shown_if=("middle_conv", MiddleConv.RES2.value)))
    # A channel gate on every block's residual branch, before the add (SENet, ECA-Net).
    attention: Attention = field(default=Attention.NONE, metadata=choice(
        Attention, N_("Channel attention"), N_("A gate that rescales each channel of the residual branch before the "
        "add. se: squeeze-and-excitation (SENet). eca: a 1-D conv across the pooled channels (ECA-Net).")))
    # SE's squeeze: C channels -> C / reduction (rounded to a multiple of 8, as timm does).
    attention_reduction: int = field(default=16, metadata=number(
        N_("SE reduction"), N_("The SE gate squeezes C channels to C/r (a multiple of 8, as timm rounds); 16 in "
        "SENet."), 1024, shown_if=("attention", Attention.SE.value)))
    # Stem layout; CIFAR nets use a 3x3 stride-1 conv and no max pool.
    stem: Stem = field(default=Stem.IMAGENET, metadata=choice(
        Stem, N_("Stem"), N_("imagenet: 7x7/2 + max pool. deep: three 3x3 convs (ResNet-C/D). tiered: the same, "
        "widening 24 → 32 → 64 (timm's resnet50t). cifar: one 3x3/1, no pool.")))
    # Channels out of the stem (torchvision's fixed ``inplanes = 64``; 16 for CIFAR).
    stem_width: int = field(default=64, metadata=number(
        N_("Stem width"), N_("Channels out of the stem: 64 for ImageNet ResNets, 16 for CIFAR ones."), 1024))
    # V1d: the projection shortcut average-pools first, then a stride-1 1x1 conv, so the
    # shortcut no longer ignores 3 of every 4 pixels.
    avg_down: bool = field(default=False, metadata=switch(
        N_("Avg-pool downsampling shortcut (ResNet-D)"), N_("The projection shortcut average-pools, then a stride-1 "
        "1x1 conv (V1d).")))
    # Which conv of a stride-2 bottleneck carries the stride.
    stride_style: StrideStyle = field(default=StrideStyle.PYTORCH, metadata=choice(
        StrideStyle, N_("Stride on"), N_("Which conv of a downsampling bottleneck has stride 2: the 3x3 (pytorch, v1.5) "
        "or the first 1x1 (caffe, the paper's v1)."), Widget.RADIO, (N_("3x3 (pytorch, v1.5)"), N_("1x1 (caffe, v1)")),
        flag="style"))
    # Paper option A/B/C for the shortcut connections, or "none" for a plain network.
    shortcut: Shortcut = field(default=Shortcut.B, metadata=choice(
        Shortcut, N_("Shortcut option"), N_("A: zero-pad identity. B: projection where the shape changes. C: projection "
        "everywhere. none: a plain network without shortcuts (the paper's baseline)."), Widget.RADIO))
    # Pre-activation ("ResNet v2", He et al. 2016b): BN-ReLU before each conv, nothing after
    # the add, so the identity path is clean from input to the final BN-ReLU before the pool.
    preact: bool = field(default=False, metadata=switch(
        N_("Pre-activation (ResNet v2)"), N_("BN and ReLU before each conv instead of after: the shortcut path "
        "carries the signal untouched, and one BN-ReLU follows the last stage.")))
    # For stages 2..N: replace the stride-2 by dilation (torchvision's
    # ``replace_stride_with_dilation``; segmentation backbones use output stride 8 or 16).
    # Empty means no dilation.
    dilate: tuple[bool, ...] = field(default=(), metadata=later_stage_flags(
        N_("Dilate instead of stride"), N_("Stages after the first that keep the resolution and dilate their 3x3 convs "
        "instead of striding (segmentation backbones); on the command line one flag per stage, e.g. F,T,T.")))
    # Start each residual branch's last BN at gamma = 0 so every block starts as identity.
    zero_init_residual: bool = field(default=False, metadata=switch(
        "zero_init_residual", N_("Zero the end of each residual branch (its last BN's γ; a pre-activation block's last "
        "conv), so every block starts as identity.")))
    # Size of the classifier (``fc``).
    num_classes: int = field(default=1000, metadata=number(
        N_("Classes"), N_("Outputs of the classifier (fc): 1000 for ImageNet, 10 for CIFAR-10."), 100_000))
    # Channels of the input image (3 for RGB, 1 for grayscale).
    in_channels: int = field(default=3, metadata=number(
        N_("Input channels"), N_("Channels of the input image: 3 for RGB, 1 for grayscale."), 64))

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: normalise inputs once, here
        for name, info in SPEC_FIELDS.items():
            if info.enum is not None:
                try:
                    set_field(self, name, enum_value(info.enum, getattr(self, name)))
                except ValueError as error:
                    raise ValueError(f"{name}={error}") from None
        for name, info in SPEC_FIELDS.items():
            if info.widget is Widget.NUMBER:
                set_field(self, name, whole(name, getattr(self, name)))
        set_field(self, "stages", checked_stages(self.stages))
        planes = tuple(whole("stage_planes", p) for p in self.stage_planes)
        set_field(self, "stage_planes", planes or default_planes(len(self.stages), IMAGENET.base_planes))
        set_field(self, "dilate", tuple(bool(d) for d in self.dilate) or (False,) * max(len(self.stages) - 1, 0))
        for name, (other, value) in _UNUSED_UNLESS.items():
            if getattr(self, other) is not value:
                set_field(self, name, _DEFAULTS[name])
        self._validate()

    def _validate(self) -> None:
        # Sizes first: every check after these (and every table and build) computes with them.
        if len(self.stage_planes) != len(self.stages):
            raise ValueError(_(
                "stage_planes has {widths} widths but there are "
                "{stages} stages: give one width per stage."
            ).format(widths=len(self.stage_planes), stages=len(self.stages)))
        if len(self.dilate) != len(self.stages) - 1:
            raise ValueError(_(
                "dilate needs one flag for each stage after the first ({expected}), "
                "got {count}."
            ).format(expected=len(self.stages) - 1, count=len(self.dilate)))
        for planes in self.stage_planes:
            refuse_huge("stage_planes", planes, MAX_PLANES)
        if any(p < 1 for p in self.stage_planes):
            raise ValueError(_("Every stage needs at least one channel; stage_planes={planes}.").format(
                planes=list(self.stage_planes)))
        for name, info in SPEC_FIELDS.items():
            if info.widget is Widget.NUMBER:
                check_range(name, getattr(self, name), info.maximum)
            elif info.widget is Widget.INTS and name != "stages":  # stages: checked in `checked_stages`
                for value in getattr(self, name):
                    check_range(name, value, info.maximum)
        if self.stem is Stem.DEEP and self.stem_width < 2:
            raise ValueError(_("A deep stem halves stem_width in its first two convs: use stem_width >= 2."))
        if self.stem is Stem.TIERED and self.stem_width < 8:
            raise ValueError(_("A tiered stem's first conv has 3/8 of stem_width: use stem_width >= 8."))
        if self.block is Block.BASIC:
            if self.groups != 1 or self.width_per_group != 64:
                raise ValueError(_(
                    "BasicBlock has no grouped or widened 3x3 conv (torchvision supports only "
                    "groups=1 and width_per_group=64; got groups={groups}, "
                    "width_per_group={width}). Use bottleneck blocks for "
                    "ResNeXt or Wide ResNet widths."
                ).format(groups=self.groups, width=self.width_per_group))
            if any(self.dilate):
                raise ValueError(_(
                    "torchvision's BasicBlock does not support dilation. Use bottleneck blocks "
                    "(as DeepLab's ResNet-50/101 backbones do) or turn dilation off."
                ))
        self._validate_variants()
        if self.shortcut is Shortcut.A:
            for stage in range(len(self.stages)):
                if self.stage_out_channels(stage) < self.stage_in_channels(stage):
                    raise ValueError(_(
                        "Shortcut option A pads the identity with zero channels, so it cannot "
                        "shrink {before} channels to {after} (stage {stage}). Use option B or C."
                    ).format(before=self.stage_in_channels(stage), after=self.stage_out_channels(stage), stage=stage + 1))
        for planes in self.stage_planes:
            if self.inner_width(planes) < 1:
                raise ValueError(_(
                    "width_per_group={width} makes the bottleneck of a "
                    "{planes}-plane stage narrower than one channel per group."
                ).format(width=self.width_per_group, planes=planes))

    def _validate_variants(self) -> None:
        """The combinations of the beyond-v1 fields that make a network (as timm builds them)."""
        if self.middle_conv is not MiddleConv.CONV and self.block is not Block.BOTTLENECK:
            raise ValueError(_("Split attention and Res2Net's 3x3 hierarchy replace a bottleneck's 3x3 conv: use "
                               "bottleneck blocks."))
        if self.preact and self.middle_conv is not MiddleConv.CONV:
            raise ValueError(_("Pre-activation is built for plain 3x3 bottlenecks only (as timm's ResNetV2): use "
                               "middle_conv=conv with pre-activation."))
        if self.preact and self.shortcut is Shortcut.NONE:
            raise ValueError(_("A pre-activation block is defined by its clean shortcut path; a plain network has "
                               "none. Choose a shortcut option or turn pre-activation off."))
        if self.preact and self.stride_style is StrideStyle.CAFFE and self.block is Block.BOTTLENECK:
            raise ValueError(_("Pre-activation bottlenecks stride on the 3x3 conv (as timm's ResNetV2): use "
                               "stride_style=pytorch with pre-activation."))
        if self.middle_conv is MiddleConv.SPLIT and self.attention is not Attention.NONE:
            raise ValueError(_("Split attention already gates the channels of ResNeSt's 3x3; a second channel "
                               "attention is not built. Set attention=none."))
        if self.middle_conv is MiddleConv.SPLIT:
            for planes in self.stage_planes:
                width = self.inner_width(planes)
                if width % (self.groups * self.radix) or split_attention_width(width, self.radix) % self.groups:
                    raise ValueError(_(
                        "Split attention splits a {width}-channel 3x3 into groups × radix = {parts} convs, and its "
                        "gate into {groups} groups: the widths must divide evenly. Change the radix, the groups or "
                        "the width per group."
                    ).format(width=width, parts=self.groups * self.radix, groups=self.groups))
        if self.middle_conv is not MiddleConv.CONV and self.stride_style is StrideStyle.CAFFE:
            raise ValueError(_("ResNeSt and Res2Net blocks stride in their 3x3 part: use stride_style=pytorch."))

    # ---- derived architecture facts -------------------------------------------------

    def inner_width(self, planes: int) -> int:
        """Channels of a block's inner convs (torchvision's bottleneck ``width``)."""
        if self.block is Block.BASIC:
            return planes
        return int(planes * (self.width_per_group / 64.0)) * self.groups

    def stage_out_channels(self, stage: int) -> int:
        """Channels out of stage ``stage`` (0-based): planes times the block expansion."""
        return self.stage_planes[stage] * self.block.expansion

    def stage_stride(self, stage: int) -> int:
        """Stride of the first block of a stage: 1 for the first stage or a dilated one."""
        if stage == 0 or self.dilate[stage - 1]:
            return 1
        return 2

    def stage_dilation(self, stage: int) -> int:
        """Dilation of the 3x3 convs in a stage: doubles at every dilated stage so far.

        As in torchvision, the first block of a stage keeps the previous stage's dilation.
        """
        return 2 ** sum(self.dilate[:stage])

    def stage_in_channels(self, stage: int) -> int:
        """Channels entering a stage: the stem's output or the previous stage's."""
        return self.stem_width if stage == 0 else self.stage_out_channels(stage - 1)

    @property
    def stem_stride(self) -> int:
        """Downsampling of the stem: 4 (conv /2, max pool /2) or 1 for CIFAR."""
        return 1 if self.stem is Stem.CIFAR else 4

    @property
    def output_stride(self) -> int:
        """Input side divided by the last feature map's side (32 for ImageNet ResNets)."""
        return self.stem_stride * math.prod(self.stage_stride(s) for s in range(len(self.stages)))

    @property
    def depth(self) -> int:
        """Weighted layers on the longest path, as the paper counts them.

        Stem conv + residual-branch convs + fc: ResNet-50 = 1 + 16 x 3 + 1. A deep stem is
        still counted as one layer, as mmcls and timm name ResNet-50-D "50".
        """
        return sum(self.stages) * self.block.convs_per_block + 2

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The stages' module names, "layer1" ... "layerN" (torchvision's)."""
        return tuple(stage_name(stage) for stage in range(len(self.stages)))

    @property
    def family(self) -> Family:
        """The family whose defaults this spec is measured against: CIFAR for a CIFAR stem, else ImageNet."""
        return family_of(self.stem)

    @property
    def is_cifar(self) -> bool:
        return self.stem is Stem.CIFAR

    @property
    def natural_input_size(self) -> int:
        """The input side the family is trained at: 32 px for CIFAR nets, 224 px otherwise."""
        return self.family.input_size

    @property
    def preset(self) -> str | None:
        """The preset this spec equals, if any (``"resnet50"``)."""
        return _PRESET_BY_SPEC.get(self)

    @property
    def name(self) -> str:
        """A readable, unique-enough name: the preset's, else one built from the fields."""
        if self.preset is not None:
            return self.preset
        return generated_name(self)

    # ---- conversions ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (enums as their values, tuples as lists)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResNetSpec:
        """Inverse of `to_dict`; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(_("Unknown ResNetSpec field(s): {fields}.").format(fields=", ".join(unknown)))
        return cls(**data)

    def with_changes(self, **changes: Any) -> ResNetSpec:
        """A copy with some fields changed (validated again).

        A new number of stages re-derives the per-stage fields (``stage_planes``, ``dilate``)
        unless given.
        """
        if "stages" in changes and len(changes["stages"]) != len(self.stages):
            for name, info in SPEC_FIELDS.items():
                if info.per_stage:
                    changes.setdefault(name, ())
        return replace(self, **changes)


# Each field's `FieldInfo`, in declaration order: what the token, the CLI and the picker walk.
SPEC_FIELDS: dict[str, FieldInfo] = field_infos(ResNetSpec)
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(ResNetSpec)}
# The preset each spec equals (`ResNetSpec.preset`); the same rows make `explorer.model.presets.PRESETS`.
_PRESET_BY_SPEC: dict[ResNetSpec, str] = {ResNetSpec(**row): name for name, row in PRESET_ROWS.items()}


def stage_name(stage: int) -> str:
    """The module name of stage ``stage`` (0-based): "layer1" for 0, as torchvision names it.

    The build names its stages so, torchvision checkpoints key their tensors so, and every
    table, picker and guess reads stage names from here.
    """
    return f"layer{stage + 1}"


def spec_for_depth(base: ResNetSpec, depth: int) -> ResNetSpec:
    """``base`` with the stage counts of a ``depth``-layer net of its block type and stem.

    The stem decides how many stages: a CIFAR stem gets the three equal stages of section
    4.2 (depth 6n+2 with basic blocks, 9n+2 with bottlenecks); any other stem the four of
    Table 1, split as published or in the paper's 3:4:6:3 proportions. The base's own
    number of stages does not count, so resnet50 with a CIFAR stem at depth 20 has three
    stages (2,2,2 of bottlenecks; 3,3,3 of basic blocks), in the picker and on the command
    line alike. A new stage count re-derives the per-stage fields (see `with_changes`).
    """
    depth = whole("depth", depth)
    if depth > MAX_DEPTH:  # before any arithmetic on it: a depth may come from a command line
        refuse_huge("depth", depth, MAX_DEPTH)
        raise ValueError(_("A depth of {depth:,} is far beyond any trained ResNet (the deepest published one, "
                           "CIFAR ResNet-1202, has 1202 layers). Use at most {most:,}.").format(
                               depth=depth, most=MAX_DEPTH))
    num_stages = base.family.num_stages
    return base.with_changes(stages=stages_for_depth(depth, base.block, num_stages, equal=base.is_cifar))


def check_input_size(spec: ResNetSpec, input_size: int | tuple[int, int]) -> tuple[int, int]:
    """Validate an input resolution for a spec and return it as ``(height, width)``.

    The input must be at least the output stride on each side: smaller images reach the
    last stages as 1x1 maps made mostly of zero padding, which is no longer a ResNet.
    """
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    if len(size) != 2 or any(not isinstance(s, int) or isinstance(s, bool) for s in size):
        raise ValueError(_("The input size must be one or two whole numbers of pixels, got {size!r}.").format(
            size=input_size))
    height, width = size
    if height < 1 or width < 1:
        raise ValueError(_("The input size must be positive, got {height}x{width}.").format(height=height, width=width))
    stride = spec.output_stride
    if height < stride or width < stride:
        halvings = int(math.log2(stride))
        raise ValueError(_(
            "The {height}x{width} input is too small for {model}: it halves the image "
            "{halvings} times (output stride {stride}), so each side must be at least "
            "{stride} pixels."
        ).format(height=height, width=width, model=spec.name, halvings=halvings, stride=stride))
    return height, width
