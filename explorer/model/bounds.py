"""Bounds on a `ResNetSpec`'s numbers, checked before anything grows with them.

A spec can come from a link, a text box or a command line, so its numbers are whatever a
student typed: each is refused with a sentence past a bound far beyond any published net,
and a number too long to show is named by its digit count, never written out.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from explorer.runtime.i18n import _

# The largest published ResNet (CIFAR ResNet-1202) has 600 blocks; far beyond that a spec
# is a typo, and building it would only hang the app.
MAX_BLOCKS = 1000
# The depth of `MAX_BLOCKS` bottlenecks (3 convs each, plus stem and fc): `spec_for_depth` refuses more.
MAX_DEPTH = 3 * MAX_BLOCKS + 2
# Published ResNets have 3 (CIFAR) or 4 stages; each stage halves the picture, so past 8 the
# last maps would be 1x1 even at 512 px. Checked first, before anything grows with the count.
MAX_STAGES = 8
# The widest stage of any published ResNet has 512 planes (2048 channels out); 65536 is far
# beyond it and still a number every later step computes with exactly.
MAX_PLANES = 65536


def checked_stages(stages: Any) -> tuple[int, ...]:
    """``stages`` as whole numbers, refused (ValueError) before anything is made from them.

    The count of stages is checked before the entries are read, and the blocks before any
    per-stage default is made: the paper's planes double per stage (``64·2**i``), so a
    link of thousands of stages would otherwise cost seconds and gigabytes of big integers.
    """
    stages = tuple(stages)
    if not stages:
        raise ValueError(_("A ResNet needs at least one stage of residual blocks; stages is empty."))
    if len(stages) > MAX_STAGES:
        raise ValueError(_(
            "{count:,} stages is far beyond any ResNet (published ones have 3 or 4, and each stage "
            "halves the picture). Use at most {most} stages."
        ).format(count=len(stages), most=MAX_STAGES))
    stages = tuple(whole("stages", n) for n in stages)
    if any(n < 1 for n in stages):
        raise ValueError(_(
            "Every stage needs at least one block, but stages={stages} "
            "has a stage with none. Remove that stage or give it a block."
        ).format(stages=list(stages)))
    if sum(stages) > MAX_BLOCKS:
        refuse_huge("stages", sum(stages), MAX_BLOCKS)
        raise ValueError(_(
            "{blocks:,} blocks is far beyond any trained ResNet (the deepest "
            "published one, CIFAR ResNet-1202, has 600). Use at most {most:,} blocks."
        ).format(blocks=sum(stages), most=MAX_BLOCKS))
    return stages


def whole(name: str, value: Any) -> int:
    """``value`` as an int (ints and int-like numbers such as numpy's); ValueError for anything else."""
    try:
        return operator.index(value)
    except TypeError:
        shown = repr(value)
        raise ValueError(_("{name} must be a whole number, got {value}.").format(
            name=name, value=shown if len(shown) <= 40 else shown[:40] + "…")) from None


def refuse_huge(name: str, value: int, most: int) -> None:
    """ValueError naming only the digit count of a ``value`` too long to show in a message."""
    if abs(value) >= 10**15:
        raise ValueError(_("{name} holds a number of {count} digits, far more than the explorer builds (at most "
                           "{most:,}).").format(name=name, count=_digits(value), most=most))


def _digits(value: int) -> int:
    """How many decimal digits ``value`` has, without writing it out (Python limits that to 4300)."""
    return math.floor(math.log10(abs(value))) + 1


def check_range(name: str, value: int, most: int | None) -> None:
    """ValueError unless ``1 <= value <= most``, naming the field."""
    refuse_huge(name, value, most or 1)
    if value < 1:
        raise ValueError(_("{name} must be a positive whole number, got {value}.").format(name=name, value=value))
    if most is not None and value > most:
        raise ValueError(_(
            "{name}={value:,} is more than the explorer builds (at most {most:,}); "
            "no published ResNet comes near it."
        ).format(name=name, value=value, most=most))

