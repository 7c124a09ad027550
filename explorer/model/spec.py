"""`ResNetSpec`: the one description of a ResNet that every part of the explorer reads.

A spec is plain, frozen, hashable data, so it can key caches and travel through the URL.
Variants are fields, not subclasses (after timm's ``resnet.py``): the letters of the
"Bag of Tricks" paper (He et al. 2019, https://arxiv.org/abs/1812.01187) map to fields as

* B  (torchvision, "v1.5"): ``stride_style=StrideStyle.PYTORCH`` — stride on the 3x3 conv;
* v1 (the original paper):  ``stride_style=StrideStyle.CAFFE``   — stride on the first 1x1;
* C: ``stem=Stem.DEEP`` — three 3x3 convs instead of one 7x7;
* D: ``stem=Stem.DEEP, avg_down=True`` — plus an average-pooled projection shortcut.

Each field carries a `FieldInfo` (label, help, parser, widget kind): the URL token
(`explorer.spec_token`), the command-line flags (`explorer.cli`) and the sidebar picker
(`explorer.ui`) are all made from it, so a new field is declared here once.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from typing import Any

from explorer.runtime.i18n import N_, _

# The largest published ResNet (CIFAR ResNet-1202) has 600 blocks; far beyond that a spec
# is a typo, and building it would only hang the app.
MAX_BLOCKS = 1000


class Block(str, enum.Enum):
    """Residual block type (He et al. 2016, Fig. 5)."""

    BASIC = "basic"  # two 3x3 convs, expansion 1 (ResNet-18/34, CIFAR nets)
    BOTTLENECK = "bottleneck"  # 1x1 reduce, 3x3, 1x1 expand x4 (ResNet-50/101/152)

    @property
    def expansion(self) -> int:
        """Output channels of a block divided by its ``planes``."""
        return 1 if self is Block.BASIC else 4

    @property
    def convs_per_block(self) -> int:
        """Weighted layers on the residual branch; what the depth counts."""
        return 2 if self is Block.BASIC else 3


class Stem(str, enum.Enum):
    """How the network turns the image into the first feature map."""

    IMAGENET = "imagenet"  # 7x7/2 conv + 3x3/2 max pool: total stride 4
    DEEP = "deep"  # three 3x3 convs (first stride 2) + 3x3/2 max pool (mmcls V1c, timm "c")
    CIFAR = "cifar"  # one 3x3/1 conv, no pool (He et al. 2016, section 4.2)


class StrideStyle(str, enum.Enum):
    """Where a bottleneck block that halves the resolution puts its stride."""

    PYTORCH = "pytorch"  # on the 3x3 conv (torchvision, "ResNet v1.5")
    CAFFE = "caffe"  # on the first 1x1 conv (the paper's original, "v1")


class Shortcut(str, enum.Enum):
    """The paper's shortcut options (He et al. 2016, section 3.3)."""

    A = "A"  # identity; zero-padded channels and strided subsampling where shapes change
    B = "B"  # identity, projection (1x1 conv + BN) only where shapes change (torchvision)
    C = "C"  # projection on every block
    NONE = "none"  # no shortcut at all: the paper's "plain" baseline network


def _enum_value(enum_cls: type[enum.Enum], value: Any) -> Any:
    """Turn a UI/CLI/URL string into an enum member, with a message naming the choices."""
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in enum_cls)
        raise ValueError(_("{value!r} is not one of {choices}.").format(value=value, choices=choices)) from None


# ---- field metadata: how each field is shown, typed in and written in links ------------


class Widget(enum.Enum):
    """How the sidebar picker shows a field."""

    SELECT = "select"  # a selectbox over the field's enum values
    RADIO = "radio"  # a horizontal radio over the field's enum values
    CHECKBOX = "checkbox"
    NUMBER = "number"  # a whole-number input between the field's bounds
    INTS = "ints"  # a text box of comma-separated whole numbers, one per stage
    LATER_STAGES = "later_stages"  # a multiselect of stages 2..N, one flag each


_FLAGS = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}


def _parse_flag(text: str) -> bool:
    try:
        return _FLAGS[text.strip().lower()]
    except KeyError:
        raise ValueError(_("{text!r} is not a yes/no flag: use 1 or 0 (or true/false).").format(text=text)) from None


def _parse_flags(text: str) -> tuple[bool, ...]:
    try:
        return tuple(_FLAGS[v.strip().lower()] for v in text.split(",") if v.strip())
    except KeyError:
        raise ValueError(_("{text!r} is not a list of yes/no flags separated by commas, like F,T,T or 0,1,1.").format(
            text=text)) from None


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(_("{text!r} is not a number: a whole number is expected.").format(text=text)) from None


def _parse_ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise ValueError(_("{text!r} is not a list of whole numbers separated by commas, like 3,4,6,3.").format(
            text=text)) from None


def _format_flag(value: bool) -> str:
    return "1" if value else "0"


def _format_flags(values: tuple[bool, ...]) -> str:
    return ",".join(map(_format_flag, values))


def _format_ints(values: tuple[int, ...]) -> str:
    return ",".join(map(str, values))


def _format_enum(value: enum.Enum) -> str:
    return str(value.value)


@dataclass(frozen=True)
class FieldInfo:
    """What the picker, the command line and the URL token need to know about one field.

    The URL token keys a field by its name (``stride_style=caffe``), so links stay stable.
    """

    label: str  # the picker's label
    help: str  # for people: the picker's tooltip and the flag's ``--help`` line
    widget: Widget
    parse: Callable[[str], Any]  # text from a link or a command line -> value; ValueError naming the text
    format: Callable[[Any], str]  # value -> text for a link; the inverse of ``parse``
    # The command-line flag without dashes and the picker's widget key after its prefix
    # ("planes": ``--planes``, ``model_planes``); left empty, `SPEC_FIELDS` fills in the field's name.
    flag: str = ""
    enum: type[enum.Enum] | None = None  # the choices of SELECT and RADIO fields
    choice_labels: tuple[str, ...] = ()  # what the picker shows for each choice, if not the value
    # The largest value of a NUMBER field (the smallest is 1), far beyond any published net:
    # past it a value is a typo, and the picker's input needs a bound.
    maximum: int | None = None
    per_stage: bool = False  # one entry per stage (or per later stage): re-derived when the count changes
    bottleneck_only: bool = False  # meaningless for basic blocks: the picker hides it there

    @property
    def choices(self) -> tuple[str, ...]:
        """The values a SELECT or RADIO field accepts, as text."""
        return tuple(m.value for m in self.enum) if self.enum is not None else ()


_INFO = "explorer"  # the key of a field's `FieldInfo` in its ``dataclasses`` metadata


def _choice(enum_cls: type[enum.Enum], label: str, help: str, widget: Widget = Widget.SELECT,
            choice_labels: tuple[str, ...] = (), flag: str = "") -> dict[str, FieldInfo]:
    info = FieldInfo(label, help, widget, partial(_enum_value, enum_cls), _format_enum, flag=flag,
                     enum=enum_cls, choice_labels=choice_labels)
    return {_INFO: info}


def _number(label: str, help: str, maximum: int, bottleneck_only: bool = False) -> dict[str, FieldInfo]:
    info = FieldInfo(label, help, Widget.NUMBER, _parse_int, str, maximum=maximum, bottleneck_only=bottleneck_only)
    return {_INFO: info}


def _switch(label: str, help: str) -> dict[str, FieldInfo]:
    return {_INFO: FieldInfo(label, help, Widget.CHECKBOX, _parse_flag, _format_flag)}


def _ints(label: str, help: str, flag: str = "", per_stage: bool = False) -> dict[str, FieldInfo]:
    return {_INFO: FieldInfo(label, help, Widget.INTS, _parse_ints, _format_ints, flag=flag, per_stage=per_stage)}


def _later_stage_flags(label: str, help: str) -> dict[str, FieldInfo]:
    return {_INFO: FieldInfo(label, help, Widget.LATER_STAGES, _parse_flags, _format_flags, per_stage=True)}


@dataclass(frozen=True)
class ResNetSpec:
    """A complete ResNet architecture. Defaults describe torchvision's ``resnet50``."""

    # Blocks per stage; one entry per stage ("layer1", "layer2", ...).
    stages: tuple[int, ...] = field(default=(3, 4, 6, 3), metadata=_ints(
        N_("Blocks per stage"), N_("Residual blocks in each stage, e.g. 3,4,6,3 (ResNet-50) or 3,24,36,3.")))
    # Residual block type; decides the expansion (1 or 4) and how depth is counted.
    block: Block = field(default=Block.BOTTLENECK, metadata=_choice(
        Block, N_("Block"), N_("basic: two 3x3 convs (ResNet-18/34). bottleneck: 1x1 → 3x3 → 1x1, ×4 wider out (50+).")))
    # ``planes`` of each stage: the block's inner width before expansion and grouping.
    # Empty means the paper's doubling from 64: (64, 128, 256, 512) for four stages.
    stage_planes: tuple[int, ...] = field(default=(), metadata=_ints(
        N_("Planes per stage"), N_("The inner width of each stage's blocks, e.g. 64,128,256,512; leave empty to double "
        "from 64."), flag="planes", per_stage=True))
    # Grouped 3x3 conv in bottlenecks (ResNeXt cardinality); 1 for plain ResNets.
    groups: int = field(default=1, metadata=_number(
        N_("Groups"), N_("ResNeXt cardinality of the 3x3 conv (32 for resnext50_32x4d)."), 256, bottleneck_only=True))
    # torchvision's ``width_per_group``: bottleneck width = int(planes * w / 64) * groups.
    # 4 with groups=32 is ResNeXt "32x4d"; 128 with groups=1 is Wide ResNet "_2".
    width_per_group: int = field(default=64, metadata=_number(
        N_("Width/group"), N_("64 = plain ResNet; 4 with 32 groups = ResNeXt 32x4d; 128 = Wide ResNet-2."), 1024,
        bottleneck_only=True))
    # Stem layout; CIFAR nets use a 3x3 stride-1 conv and no max pool.
    stem: Stem = field(default=Stem.IMAGENET, metadata=_choice(
        Stem, N_("Stem"), N_("imagenet: 7x7/2 + max pool. deep: three 3x3 convs (ResNet-C/D). cifar: one 3x3/1, no pool.")))
    # Channels out of the stem (torchvision's fixed ``inplanes = 64``; 16 for CIFAR).
    stem_width: int = field(default=64, metadata=_number(
        N_("Stem width"), N_("Channels out of the stem: 64 for ImageNet ResNets, 16 for CIFAR ones."), 1024))
    # V1d: the projection shortcut average-pools first, then a stride-1 1x1 conv, so the
    # shortcut no longer ignores 3 of every 4 pixels.
    avg_down: bool = field(default=False, metadata=_switch(
        N_("Avg-pool downsampling shortcut (ResNet-D)"), N_("The projection shortcut average-pools, then a stride-1 "
        "1x1 conv (V1d).")))
    # Which conv of a stride-2 bottleneck carries the stride.
    stride_style: StrideStyle = field(default=StrideStyle.PYTORCH, metadata=_choice(
        StrideStyle, N_("Stride on"), N_("Which conv of a downsampling bottleneck has stride 2: the 3x3 (pytorch, v1.5) "
        "or the first 1x1 (caffe, the paper's v1)."), Widget.RADIO, (N_("3x3 (pytorch, v1.5)"), N_("1x1 (caffe, v1)")),
        flag="style"))
    # Paper option A/B/C for the shortcut connections, or "none" for a plain network.
    shortcut: Shortcut = field(default=Shortcut.B, metadata=_choice(
        Shortcut, N_("Shortcut option"), N_("A: zero-pad identity. B: projection where the shape changes. C: projection "
        "everywhere. none: a plain network without shortcuts (the paper's baseline)."), Widget.RADIO))
    # For stages 2..N: replace the stride-2 by dilation (torchvision's
    # ``replace_stride_with_dilation``; segmentation backbones use output stride 8 or 16).
    # Empty means no dilation.
    dilate: tuple[bool, ...] = field(default=(), metadata=_later_stage_flags(
        N_("Dilate instead of stride"), N_("Stages after the first that keep the resolution and dilate their 3x3 convs "
        "instead of striding (segmentation backbones); on the command line one flag per stage, e.g. F,T,T.")))
    # Start each residual branch's last BN at gamma = 0 so every block starts as identity.
    zero_init_residual: bool = field(default=False, metadata=_switch(
        "zero_init_residual", N_("Start each residual branch's last BN at γ = 0, so every block starts as identity.")))
    # Size of the classifier (``fc``).
    num_classes: int = field(default=1000, metadata=_number(
        N_("Classes"), N_("Outputs of the classifier (fc): 1000 for ImageNet, 10 for CIFAR-10."), 100_000))
    # Channels of the input image (3 for RGB, 1 for grayscale).
    in_channels: int = field(default=3, metadata=_number(
        N_("Input channels"), N_("Channels of the input image: 3 for RGB, 1 for grayscale."), 64))

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: normalise inputs once, here
        for name, info in SPEC_FIELDS.items():
            if info.enum is not None:
                try:
                    set_field(self, name, _enum_value(info.enum, getattr(self, name)))
                except ValueError as error:
                    raise ValueError(f"{name}={error}") from None
        set_field(self, "stages", tuple(int(n) for n in self.stages))
        planes = tuple(int(p) for p in self.stage_planes) or _default_planes(len(self.stages), 64)
        set_field(self, "stage_planes", planes)
        set_field(self, "dilate", tuple(bool(d) for d in self.dilate) or (False,) * max(len(self.stages) - 1, 0))
        self._validate()

    def _validate(self) -> None:
        if not self.stages:
            raise ValueError(_("A ResNet needs at least one stage of residual blocks; stages is empty."))
        if any(n < 1 for n in self.stages):
            raise ValueError(_(
                "Every stage needs at least one block, but stages={stages} "
                "has a stage with none. Remove that stage or give it a block."
            ).format(stages=list(self.stages)))
        if sum(self.stages) > MAX_BLOCKS:
            raise ValueError(_(
                "{blocks:,} blocks is far beyond any trained ResNet (the deepest "
                "published one, CIFAR ResNet-1202, has 600). Use at most {most:,} blocks."
            ).format(blocks=sum(self.stages), most=MAX_BLOCKS))
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
        for name, info in SPEC_FIELDS.items():
            if info.widget is not Widget.NUMBER:
                continue
            value = getattr(self, name)
            if value < 1:
                raise ValueError(_("{name} must be a positive whole number, got {value}.").format(name=name, value=value))
            if info.maximum is not None and value > info.maximum:
                raise ValueError(_(
                    "{name}={value:,} is more than the explorer builds (at most {most:,}); "
                    "no published ResNet comes near it."
                ).format(name=name, value=value, most=info.maximum))
        if any(p < 1 for p in self.stage_planes):
            raise ValueError(_("Every stage needs at least one channel; stage_planes={planes}.").format(
                planes=list(self.stage_planes)))
        if self.stem is Stem.DEEP and self.stem_width < 2:
            raise ValueError(_("A deep stem halves stem_width in its first two convs: use stem_width >= 2."))
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
    def is_cifar(self) -> bool:
        return self.stem is Stem.CIFAR

    @property
    def natural_input_size(self) -> int:
        """The input side the family is trained at: 32 px for CIFAR nets, 224 px otherwise."""
        return 32 if self.is_cifar else 224

    @property
    def preset(self) -> str | None:
        """The preset this spec equals, if any (``"resnet50"``)."""
        # The preset table is made of specs, so it is imported once specs exist.
        from explorer.model.presets import preset_name

        return preset_name(self)

    @property
    def name(self) -> str:
        """A readable, unique-enough name: the preset's, else one built from the fields."""
        if self.preset is not None:
            return self.preset
        family = "cifar_resnet" if self.is_cifar else "resnet"
        parts = [f"{family}{self.depth}"]
        default_stages = _default_stages(self.depth, self.block, len(self.stages), self.is_cifar)
        if default_stages != self.stages:
            parts.append("[" + ",".join(map(str, self.stages)) + "]")
        if self.block is not default_block(self.depth, self.is_cifar):
            parts.append(self.block.value)
        if self.groups != 1 or self.width_per_group != 64:
            width = self.width_per_group * self.groups
            parts.append(f"{self.groups}x{self.width_per_group}d" if self.groups > 1 else f"wide{width // 64}")
        if self.stem is Stem.DEEP:
            parts.append("deep-stem")
        if self.avg_down:
            parts.append("avg-down")
        if self.stride_style is StrideStyle.CAFFE and self.block is Block.BOTTLENECK:
            parts.append("caffe")
        if self.shortcut is Shortcut.NONE:
            parts.append("plain")
        elif self.shortcut is not (Shortcut.A if self.is_cifar else Shortcut.B):
            parts.append(f"shortcut-{self.shortcut.value}")
        if any(self.dilate):
            parts.append(f"os{self.output_stride}")
        if self.zero_init_residual:
            parts.append("zero-init")
        if self.num_classes != (10 if self.is_cifar else 1000):
            parts.append(f"{self.num_classes}cls")
        if self.in_channels != 3:
            parts.append(f"in{self.in_channels}")
        default_planes = _default_planes(len(self.stages), self.stem_width if self.is_cifar else 64)
        if self.stage_planes != default_planes:
            parts.append("planes" + "-".join(map(str, self.stage_planes)))
        if self.stem_width != (16 if self.is_cifar else 64):
            parts.append(f"stem{self.stem_width}")
        return " ".join(parts)

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
SPEC_FIELDS: dict[str, FieldInfo] = {
    f.name: replace(f.metadata[_INFO], flag=f.metadata[_INFO].flag or f.name) for f in fields(ResNetSpec)
}


# ---- depth <-> stage counts ---------------------------------------------------------

# Stage counts of the published ImageNet ResNets (He et al. 2016 Table 1; ResNet-200 from
# He et al. 2016b "Identity Mappings"; ResNet-10/14/26 as timm builds them).
_PUBLISHED_STAGES: dict[tuple[Block, int], tuple[int, ...]] = {
    (Block.BASIC, 10): (1, 1, 1, 1),
    (Block.BASIC, 18): (2, 2, 2, 2),
    (Block.BASIC, 34): (3, 4, 6, 3),
    (Block.BOTTLENECK, 14): (1, 1, 1, 1),
    (Block.BOTTLENECK, 26): (2, 2, 2, 2),
    (Block.BOTTLENECK, 50): (3, 4, 6, 3),
    (Block.BOTTLENECK, 101): (3, 4, 23, 3),
    (Block.BOTTLENECK, 152): (3, 8, 36, 3),
    (Block.BOTTLENECK, 200): (3, 24, 36, 3),
}
# The proportions of ResNet-34/50 (3:4:6:3), used for depths no paper published.
_PAPER_PROPORTIONS = (3, 4, 6, 3)


def stages_for_depth(depth: int, block: Block | str, num_stages: int = 4, equal: bool = False) -> tuple[int, ...]:
    """Blocks per stage for a requested depth.

    Published depths get their published split; other depths split the blocks in the
    paper's 3:4:6:3 proportions (largest remainder, at least one block a stage), or
    equally with ``equal=True`` (the CIFAR nets of section 4.2: depth 6n+2 -> n, n, n).
    """
    block = _block(block)
    per_block = block.convs_per_block
    blocks, remainder = divmod(depth - 2, per_block)
    if depth < 2 + per_block * num_stages or remainder:
        smallest = 2 + per_block * num_stages
        step = per_block * (num_stages if equal else 1)
        shape = f"{per_block * num_stages}n+2" if equal else f"{per_block}n+2"
        values = {"depth": depth, "block": block.value, "stages": num_stages, "shape": shape, "per_block": per_block}
        if depth < smallest:
            raise ValueError(_(
                "No ResNet of depth {depth} can be made of {block} blocks in {stages} "
                "stages: the depth must be {shape} ({per_block} layers per block, plus stem and fc); "
                "the smallest is {smallest}."
            ).format(**values, smallest=smallest))
        below = depth - ((depth - smallest) % step)
        raise ValueError(_(
            "No ResNet of depth {depth} can be made of {block} blocks in {stages} "
            "stages: the depth must be {shape} ({per_block} layers per block, plus stem and fc); "
            "the nearest are {below} and {above}."
        ).format(**values, below=below, above=below + step))
    if equal:
        per_stage, rest = divmod(blocks, num_stages)
        if rest:
            step = per_block * num_stages
            below = depth - rest * per_block
            raise ValueError(_(
                "Depth {depth} does not split into {stages} equal stages of {block} "
                "blocks: it must be {step}n+2; the nearest are {below} and {above}."
            ).format(depth=depth, stages=num_stages, block=block.value, step=step, below=below, above=below + step))
        return (per_stage,) * num_stages
    if num_stages == 4 and (block, depth) in _PUBLISHED_STAGES:
        return _PUBLISHED_STAGES[(block, depth)]
    weights = _PAPER_PROPORTIONS if num_stages == 4 else (1,) * num_stages
    spare = blocks - num_stages  # every stage gets one block first
    shares = [spare * w / sum(weights) for w in weights]
    counts = [1 + math.floor(s) for s in shares]
    by_remainder = sorted(range(num_stages), key=lambda i: (-(shares[i] % 1), -weights[i], i))
    for i in by_remainder[: blocks - sum(counts)]:
        counts[i] += 1
    return tuple(counts)


def spec_for_depth(base: ResNetSpec, depth: int) -> ResNetSpec:
    """``base`` with the stage counts of a ``depth``-layer net of its block type and stem.

    The stem decides how many stages: a CIFAR stem gets the three equal stages of section
    4.2 (depth 6n+2 with basic blocks, 9n+2 with bottlenecks); any other stem the four of
    Table 1, split as published or in the paper's 3:4:6:3 proportions. The base's own
    number of stages does not count, so resnet50 with a CIFAR stem at depth 20 has three
    stages (2,2,2 of bottlenecks; 3,3,3 of basic blocks), in the picker and on the command
    line alike. A new stage count re-derives the per-stage fields (see `with_changes`).
    """
    num_stages = 3 if base.is_cifar else 4
    return base.with_changes(stages=stages_for_depth(depth, base.block, num_stages, equal=base.is_cifar))


def _block(value: Block | str) -> Block:
    try:
        return _enum_value(Block, value)
    except ValueError as error:
        raise ValueError(f"block={error}") from None


def default_block(depth: int, cifar: bool = False) -> Block:
    """The block torchvision/the paper would use for this depth."""
    return Block.BASIC if cifar or depth < 50 else Block.BOTTLENECK


def _default_planes(num_stages: int, base: int) -> tuple[int, ...]:
    """Planes doubling each stage, as in every ResNet of the paper."""
    return tuple(base * 2**i for i in range(num_stages))


def _default_stages(depth: int, block: Block, num_stages: int, cifar: bool) -> tuple[int, ...] | None:
    try:
        return stages_for_depth(depth, block, num_stages, equal=cifar)
    except ValueError:
        return None


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
