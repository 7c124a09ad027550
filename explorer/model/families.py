"""The two ResNet families and what each is unless told otherwise.

He et al. 2016 build ImageNet ResNets (Table 1: four stages from a 64-wide stem, projection
shortcuts where shapes change, 224 px, 1000 classes) and CIFAR ones (section 4.2: three
stages of 16/32/64 planes, parameter-free shortcuts, 32 px, 10 classes). Every default that
depends on the family is read from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.model.kinds import Shortcut, Stem


@dataclass(frozen=True)
class Family:
    """The defaults of one family of ResNets."""

    prefix: str  # how its generated names start: "resnet50", "cifar_resnet20"
    num_stages: int  # stages a net of a given depth is split into
    stem_width: int  # channels out of the stem
    base_planes: int  # planes of the first stage; each later stage doubles them
    shortcut: Shortcut  # the paper's shortcut option for the family
    num_classes: int  # ImageNet-1K or CIFAR-10
    input_size: int  # the side, in pixels, the family is trained at


IMAGENET = Family(prefix="resnet", num_stages=4, stem_width=64, base_planes=64, shortcut=Shortcut.B,
                  num_classes=1000, input_size=224)
CIFAR = Family(prefix="cifar_resnet", num_stages=3, stem_width=16, base_planes=16, shortcut=Shortcut.A,
               num_classes=10, input_size=32)


def family_of(stem: Stem) -> Family:
    """The family a stem belongs to: a CIFAR stem makes a CIFAR net, any other an ImageNet one."""
    return CIFAR if stem is Stem.CIFAR else IMAGENET
