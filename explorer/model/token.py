"""The model link: a `ResNetSpec` as a short, readable URL token, and back.

A token is a preset name, then the fields that differ from it, each as ``field=value``
with the value written by the field's own `FieldInfo.format`:
``resnet50;stem=deep;stride_style=caffe``. Links made by older versions read the same.
"""

from __future__ import annotations

from typing import Any

from explorer.runtime.i18n import _
from explorer.model.presets import PRESETS, get_preset
from explorer.model.kinds import Block, Stem
from explorer.model.spec import SPEC_FIELDS, ResNetSpec

# The longest model link read. A token names at most every field once, each short (a spec has
# at most 8 stages), so real ones stay under 300 characters; a longer one is refused before
# it is split, so a pasted megabyte costs nothing.
MAX_TOKEN_LENGTH = 2000
# How much of a bad assignment a message repeats.
_SHOWN = 80

# The preset a custom spec is written relative to (the fewest differences for its family).
_TOKEN_BASES = {
    (Stem.CIFAR, Block.BASIC): "cifar_resnet20",
    (Stem.CIFAR, Block.BOTTLENECK): "cifar_resnet20",
    (Stem.IMAGENET, Block.BASIC): "resnet18",
    (Stem.DEEP, Block.BASIC): "resnet18",
    (Stem.TIERED, Block.BASIC): "resnet18",
}


def spec_to_token(spec: ResNetSpec) -> str:
    """A short, readable string for URLs: ``resnet50`` or ``resnet50;stride_style=caffe;stem=deep``."""
    if spec.preset is not None:
        return spec.preset
    base_name = _TOKEN_BASES.get((spec.stem, spec.block), "resnet50")
    base = PRESETS[base_name]
    changes = [
        f"{name}={info.format(getattr(spec, name))}"
        for name, info in SPEC_FIELDS.items()
        if getattr(spec, name) != getattr(base, name)
    ]
    return ";".join([base_name, *changes])


def spec_from_token(token: str) -> ResNetSpec:
    """Inverse of `spec_to_token`; raises ValueError naming what it could not read."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError(_("The model link is {length:,} characters long; a model's link is at most {most:,}. "
                           "Choose the model again in the sidebar.").format(length=len(token), most=MAX_TOKEN_LENGTH))
    base_name, *assignments = token.strip().split(";")
    base = get_preset(base_name)
    changes: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or key not in SPEC_FIELDS:
            raise ValueError(_("Cannot read {text!r} in the model link: expected field=value with a ResNetSpec "
                               "field.").format(text=_cut(assignment)))
        try:
            changes[key] = SPEC_FIELDS[key].parse(text)
        except ValueError as error:
            raise ValueError(_("Cannot read {text!r} in the model link: {error}").format(text=_cut(assignment), error=error)) from None
    return base.with_changes(**changes)


def _cut(text: str) -> str:
    """``text`` as a message repeats it: its first `_SHOWN` characters."""
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
