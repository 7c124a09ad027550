"""Depth arithmetic: how many blocks each stage gets for a depth, and the paper's default widths.

The depth counts weighted layers as the paper does (stem conv + residual-branch convs + fc),
so a depth fixes the number of blocks; these functions split them into stages.
"""

from __future__ import annotations

import math

from explorer.model.kinds import Block, enum_value
from explorer.runtime.i18n import _

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


def _block(value: Block | str) -> Block:
    try:
        return enum_value(Block, value)
    except ValueError as error:
        raise ValueError(f"block={error}") from None


def default_block(depth: int, cifar: bool = False) -> Block:
    """The block torchvision/the paper would use for this depth."""
    return Block.BASIC if cifar or depth < 50 else Block.BOTTLENECK


def default_planes(num_stages: int, base: int) -> tuple[int, ...]:
    """Planes doubling each stage, as in every ResNet of the paper."""
    return tuple(base * 2**i for i in range(num_stages))


def default_stages(depth: int, block: Block, num_stages: int, cifar: bool) -> tuple[int, ...] | None:
    """The stage counts `stages_for_depth` gives, or None where no net of that depth is made that way."""
    try:
        return stages_for_depth(depth, block, num_stages, equal=cifar)
    except ValueError:
        return None


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """timm's rounding of a channel count to a multiple of ``divisor`` (``timm.layers.make_divisible``)."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


def split_attention_width(channels: int, radix: int) -> int:
    """Channels of ResNeSt's squeezed gate for a 3x3 of ``channels``: a quarter of radix x channels, at least 32."""
    return make_divisible(channels * radix * 0.25, 8, min_value=32)
