"""`ResNetSpec`: the one description of a ResNet that every part of the explorer reads.

A spec is plain, frozen, hashable data, so it can key caches and travel through the URL.
Variants are fields, not subclasses (after timm's ``resnet.py``): the letters of the
"Bag of Tricks" paper (He et al. 2019, https://arxiv.org/abs/1812.01187) map to fields as

* B  (torchvision, "v1.5"): ``stride_style=StrideStyle.PYTORCH`` — stride on the 3x3 conv;
* v1 (the original paper):  ``stride_style=StrideStyle.CAFFE``   — stride on the first 1x1;
* C: ``stem=Stem.DEEP`` — three 3x3 convs instead of one 7x7;
* D: ``stem=Stem.DEEP, avg_down=True`` — plus an average-pooled projection shortcut.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from torchvision.models import list_models

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


def _enum_value(enum_cls: type[enum.Enum], value: Any, field_name: str) -> enum.Enum:
    """Turn a UI/CLI string into an enum member, with a message naming the choices."""
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in enum_cls)
        raise ValueError(f"{field_name}={value!r} is not one of {choices}.") from None


@dataclass(frozen=True)
class ResNetSpec:
    """A complete ResNet architecture. Defaults describe torchvision's ``resnet50``."""

    # Blocks per stage; one entry per stage ("layer1", "layer2", ...).
    stages: tuple[int, ...] = (3, 4, 6, 3)
    # Residual block type; decides the expansion (1 or 4) and how depth is counted.
    block: Block = Block.BOTTLENECK
    # ``planes`` of each stage: the block's inner width before expansion and grouping.
    # Empty means the paper's doubling from 64: (64, 128, 256, 512) for four stages.
    stage_planes: tuple[int, ...] = ()
    # Grouped 3x3 conv in bottlenecks (ResNeXt cardinality); 1 for plain ResNets.
    groups: int = 1
    # torchvision's ``width_per_group``: bottleneck width = int(planes * w / 64) * groups.
    # 4 with groups=32 is ResNeXt "32x4d"; 128 with groups=1 is Wide ResNet "_2".
    width_per_group: int = 64
    # Stem layout; CIFAR nets use a 3x3 stride-1 conv and no max pool.
    stem: Stem = Stem.IMAGENET
    # Channels out of the stem (torchvision's fixed ``inplanes = 64``; 16 for CIFAR).
    stem_width: int = 64
    # V1d: the projection shortcut average-pools first, then a stride-1 1x1 conv, so the
    # shortcut no longer ignores 3 of every 4 pixels.
    avg_down: bool = False
    # Which conv of a stride-2 bottleneck carries the stride.
    stride_style: StrideStyle = StrideStyle.PYTORCH
    # Paper option A/B/C for the shortcut connections, or "none" for a plain network.
    shortcut: Shortcut = Shortcut.B
    # For stages 2..N: replace the stride-2 by dilation (torchvision's
    # ``replace_stride_with_dilation``; segmentation backbones use output stride 8 or 16).
    # Empty means no dilation.
    dilate: tuple[bool, ...] = ()
    # Start each residual branch's last BN at gamma = 0 so every block starts as identity.
    zero_init_residual: bool = False
    # Size of the classifier (``fc``).
    num_classes: int = 1000
    # Channels of the input image (3 for RGB, 1 for grayscale).
    in_channels: int = 3

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: normalise inputs once, here
        set_field(self, "block", _enum_value(Block, self.block, "block"))
        set_field(self, "stem", _enum_value(Stem, self.stem, "stem"))
        set_field(self, "stride_style", _enum_value(StrideStyle, self.stride_style, "stride_style"))
        set_field(self, "shortcut", _enum_value(Shortcut, self.shortcut, "shortcut"))
        set_field(self, "stages", tuple(int(n) for n in self.stages))
        planes = tuple(int(p) for p in self.stage_planes) or _default_planes(len(self.stages), 64)
        set_field(self, "stage_planes", planes)
        set_field(self, "dilate", tuple(bool(d) for d in self.dilate) or (False,) * max(len(self.stages) - 1, 0))
        self._validate()

    def _validate(self) -> None:
        if not self.stages:
            raise ValueError("A ResNet needs at least one stage of residual blocks; stages is empty.")
        if any(n < 1 for n in self.stages):
            raise ValueError(
                f"Every stage needs at least one block, but stages={list(self.stages)} "
                "has a stage with none. Remove that stage or give it a block."
            )
        if sum(self.stages) > MAX_BLOCKS:
            raise ValueError(
                f"{sum(self.stages):,} blocks is far beyond any trained ResNet (the deepest "
                f"published one, CIFAR ResNet-1202, has 600). Use at most {MAX_BLOCKS:,} blocks."
            )
        if len(self.stage_planes) != len(self.stages):
            raise ValueError(
                f"stage_planes has {len(self.stage_planes)} widths but there are "
                f"{len(self.stages)} stages: give one width per stage."
            )
        if len(self.dilate) != len(self.stages) - 1:
            raise ValueError(
                f"dilate needs one flag for each stage after the first ({len(self.stages) - 1}), "
                f"got {len(self.dilate)}."
            )
        for name in ("groups", "width_per_group", "stem_width", "num_classes", "in_channels"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value}.")
        if any(p < 1 for p in self.stage_planes):
            raise ValueError(f"Every stage needs at least one channel; stage_planes={list(self.stage_planes)}.")
        if self.stem is Stem.DEEP and self.stem_width < 2:
            raise ValueError("A deep stem halves stem_width in its first two convs: use stem_width >= 2.")
        if self.block is Block.BASIC:
            if self.groups != 1 or self.width_per_group != 64:
                raise ValueError(
                    "BasicBlock has no grouped or widened 3x3 conv (torchvision supports only "
                    f"groups=1 and width_per_group=64; got groups={self.groups}, "
                    f"width_per_group={self.width_per_group}). Use bottleneck blocks for "
                    "ResNeXt or Wide ResNet widths."
                )
            if any(self.dilate):
                raise ValueError(
                    "torchvision's BasicBlock does not support dilation. Use bottleneck blocks "
                    "(as DeepLab's ResNet-50/101 backbones do) or turn dilation off."
                )
        if self.shortcut is Shortcut.A:
            for stage in range(len(self.stages)):
                if self.stage_out_channels(stage) < self.stage_in_channels(stage):
                    raise ValueError(
                        f"Shortcut option A pads the identity with zero channels, so it cannot "
                        f"shrink {self.stage_in_channels(stage)} channels to "
                        f"{self.stage_out_channels(stage)} (stage {stage + 1}). Use option B or C."
                    )
        for planes in self.stage_planes:
            if self.inner_width(planes) < 1:
                raise ValueError(
                    f"width_per_group={self.width_per_group} makes the bottleneck of a "
                    f"{planes}-plane stage narrower than one channel per group."
                )

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
        return _PRESET_BY_SPEC.get(self)

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
        if self.block is not _default_block(self.depth, self.is_cifar):
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
            raise ValueError(f"Unknown ResNetSpec field(s): {', '.join(unknown)}.")
        return cls(**data)

    def with_changes(self, **changes: Any) -> ResNetSpec:
        """A copy with some fields changed (validated again).

        A new number of stages re-derives ``stage_planes`` and ``dilate`` unless given.
        """
        if "stages" in changes and len(changes["stages"]) != len(self.stages):
            changes.setdefault("stage_planes", ())
            changes.setdefault("dilate", ())
        return replace(self, **changes)


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
    block = _enum_value(Block, block, "block")
    per_block = block.convs_per_block
    blocks, remainder = divmod(depth - 2, per_block)
    if depth < 2 + per_block * num_stages or remainder:
        smallest = 2 + per_block * num_stages
        step = per_block * (num_stages if equal else 1)
        if depth < smallest:
            hint = f"the smallest is {smallest}"
        else:
            below = depth - ((depth - smallest) % step)
            hint = f"the nearest are {below} and {below + step}"
        shape = f"{per_block * num_stages}n+2" if equal else f"{per_block}n+2"
        raise ValueError(
            f"No ResNet of depth {depth} can be made of {block.value} blocks in {num_stages} "
            f"stages: the depth must be {shape} ({per_block} layers per block, plus stem and fc); "
            f"{hint}."
        )
    if equal:
        per_stage, rest = divmod(blocks, num_stages)
        if rest:
            step = per_block * num_stages
            below = depth - rest * per_block
            raise ValueError(
                f"Depth {depth} does not split into {num_stages} equal stages of {block.value} "
                f"blocks: it must be {step}n+2; the nearest are {below} and {below + step}."
            )
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


def _default_block(depth: int, cifar: bool) -> Block:
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


def resnet_for_depth(depth: int, block: Block | str | None = None, **fields_: Any) -> ResNetSpec:
    """An ImageNet ResNet of any depth (basic blocks below 50 layers unless told)."""
    block = _default_block(depth, cifar=False) if block is None else _enum_value(Block, block, "block")
    return ResNetSpec(stages=stages_for_depth(depth, block), block=block, **fields_)


def cifar_resnet(depth: int, block: Block | str = Block.BASIC, **fields_: Any) -> ResNetSpec:
    """The CIFAR ResNets of section 4.2: 3 stages of 16/32/64 planes, depth 6n+2 (basic).

    The paper's CIFAR nets use shortcut option A (parameter-free), so that is the default.
    """
    block = _enum_value(Block, block, "block")
    fields_.setdefault("num_classes", 10)
    fields_.setdefault("shortcut", Shortcut.A)
    return ResNetSpec(
        stages=stages_for_depth(depth, block, num_stages=3, equal=True),
        block=block,
        stage_planes=(16, 32, 64),
        stem=Stem.CIFAR,
        stem_width=16,
        **fields_,
    )


def check_input_size(spec: ResNetSpec, input_size: int | tuple[int, int]) -> tuple[int, int]:
    """Validate an input resolution for a spec and return it as ``(height, width)``.

    The input must be at least the output stride on each side: smaller images reach the
    last stages as 1x1 maps made mostly of zero padding, which is no longer a ResNet.
    """
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    if len(size) != 2 or any(not isinstance(s, int) or isinstance(s, bool) for s in size):
        raise ValueError(f"The input size must be one or two whole numbers of pixels, got {input_size!r}.")
    height, width = size
    if height < 1 or width < 1:
        raise ValueError(f"The input size must be positive, got {height}x{width}.")
    stride = spec.output_stride
    if height < stride or width < stride:
        halvings = int(math.log2(stride))
        raise ValueError(
            f"The {height}x{width} input is too small for {spec.name}: it halves the image "
            f"{halvings} times (output stride {stride}), so each side must be at least "
            f"{stride} pixels."
        )
    return height, width


# ---- presets ------------------------------------------------------------------------

# Parameter counts (1000 classes) from torchvision's weights meta, for the reader.
PRESETS: dict[str, ResNetSpec] = {
    "resnet18": ResNetSpec(stages=(2, 2, 2, 2), block=Block.BASIC),  # 11,689,512
    "resnet34": ResNetSpec(stages=(3, 4, 6, 3), block=Block.BASIC),  # 21,797,672
    "resnet50": ResNetSpec(stages=(3, 4, 6, 3)),  # 25,557,032
    "resnet101": ResNetSpec(stages=(3, 4, 23, 3)),  # 44,549,160
    "resnet152": ResNetSpec(stages=(3, 8, 36, 3)),  # 60,192,808
    "resnext50_32x4d": ResNetSpec(stages=(3, 4, 6, 3), groups=32, width_per_group=4),  # 25,028,904
    "resnext101_32x8d": ResNetSpec(stages=(3, 4, 23, 3), groups=32, width_per_group=8),  # 88,791,336
    "resnext101_64x4d": ResNetSpec(stages=(3, 4, 23, 3), groups=64, width_per_group=4),  # 83,455,272
    "wide_resnet50_2": ResNetSpec(stages=(3, 4, 6, 3), width_per_group=128),  # 68,883,240
    "wide_resnet101_2": ResNetSpec(stages=(3, 4, 23, 3), width_per_group=128),  # 126,886,696
    "resnet50_caffe": ResNetSpec(stride_style=StrideStyle.CAFFE),  # the paper's v1
    "resnet50c": ResNetSpec(stem=Stem.DEEP),  # mmcls ResNetV1c
    "resnet50d": ResNetSpec(stem=Stem.DEEP, avg_down=True),  # mmcls ResNetV1d
    "resnet200": resnet_for_depth(200),
    "cifar_resnet20": cifar_resnet(20),  # 0.27M in the paper
    "cifar_resnet32": cifar_resnet(32),  # 0.46M
    "cifar_resnet44": cifar_resnet(44),  # 0.66M
    "cifar_resnet56": cifar_resnet(56),  # 0.85M
    "cifar_resnet110": cifar_resnet(110),  # 1.7M
    "cifar_resnet1202": cifar_resnet(1202),  # 19.4M
}
# The ImageNet models torchvision ships (with weights enums) under these same names.
TORCHVISION_PRESETS: tuple[str, ...] = tuple(name for name in PRESETS if name in set(list_models()))
_PRESET_BY_SPEC: dict[ResNetSpec, str] = {spec: name for name, spec in PRESETS.items()}


def get_preset(name: str) -> ResNetSpec:
    """A preset by name, with the list of names in the error."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown preset {name!r}. Presets: {', '.join(PRESETS)}.") from None


# ---- URL tokens ---------------------------------------------------------------------

_TOKEN_BASES = {  # the preset a custom spec is written relative to
    (Stem.CIFAR, Block.BASIC): "cifar_resnet20",
    (Stem.CIFAR, Block.BOTTLENECK): "cifar_resnet20",
    (Stem.IMAGENET, Block.BASIC): "resnet18",
    (Stem.DEEP, Block.BASIC): "resnet18",
}


def _token_value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ",".join(_token_value(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def spec_to_token(spec: ResNetSpec) -> str:
    """A short, readable string for URLs: ``resnet50`` or ``resnet50;stride_style=caffe;stem=deep``."""
    if spec.preset is not None:
        return spec.preset
    base_name = _TOKEN_BASES.get((spec.stem, spec.block), "resnet50")
    base = PRESETS[base_name]
    changes = [
        f"{f.name}={_token_value(getattr(spec, f.name))}"
        for f in fields(spec)
        if getattr(spec, f.name) != getattr(base, f.name)
    ]
    return ";".join([base_name, *changes])


def spec_from_token(token: str) -> ResNetSpec:
    """Inverse of `spec_to_token`; raises ValueError naming what it could not read."""
    base_name, *assignments = token.strip().split(";")
    base = get_preset(base_name)
    types = {f.name: f.type for f in fields(ResNetSpec)}
    changes: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or key not in types:
            raise ValueError(f"Cannot read {assignment!r} in the model link: expected field=value with a ResNetSpec field.")
        try:
            if key in ("stages", "stage_planes"):
                changes[key] = tuple(int(v) for v in text.split(",") if v)
            elif key == "dilate":
                changes[key] = tuple(v == "1" for v in text.split(",") if v)
            elif key in ("avg_down", "zero_init_residual"):
                changes[key] = text == "1"
            elif key in ("groups", "width_per_group", "stem_width", "num_classes", "in_channels"):
                changes[key] = int(text)
            else:
                changes[key] = text
        except ValueError:
            raise ValueError(f"Cannot read {assignment!r} in the model link: {text!r} is not a number.") from None
    return base.with_changes(**changes)


__all__ = [
    "Block",
    "MAX_BLOCKS",
    "PRESETS",
    "ResNetSpec",
    "Shortcut",
    "Stem",
    "StrideStyle",
    "TORCHVISION_PRESETS",
    "check_input_size",
    "spec_from_token",
    "spec_to_token",
    "cifar_resnet",
    "get_preset",
    "resnet_for_depth",
    "stages_for_depth",
]
