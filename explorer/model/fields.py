"""How each `ResNetSpec` field is shown, typed in and written in links.

A field's `FieldInfo` sits in its ``dataclasses`` metadata, made by `choice`, `number`,
`switch`, `ints` or `later_stage_flags`; `field_infos` reads them back in declaration order.
The URL token, the command-line flags and the sidebar picker are all made from it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any

from explorer.model.kinds import enum_value
from explorer.runtime.i18n import _


class Widget(enum.Enum):
    """How the sidebar picker shows a field."""

    SELECT = "select"  # a selectbox over the field's enum values
    RADIO = "radio"  # a horizontal radio over the field's enum values
    CHECKBOX = "checkbox"
    NUMBER = "number"  # a whole-number input between the field's bounds
    INTS = "ints"  # a text box of comma-separated whole numbers, one per stage
    LATER_STAGES = "later_stages"  # a multiselect of stages 2..N, one flag each


_FLAGS = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}
# The longest text one field's value is read from, and the most digits in one of its numbers:
# a model of at most 8 stages writes every field in far fewer. Longer text is refused before it
# is split or converted, so a pasted megabyte costs nothing.
MAX_FIELD_TEXT = 200
MAX_DIGITS = 9


def _check_length(text: str) -> None:
    if len(text) > MAX_FIELD_TEXT:
        raise ValueError(_("A value of {length:,} characters is far longer than any field of a ResNet takes "
                           "(at most {most}).").format(length=len(text), most=MAX_FIELD_TEXT))


def _whole_number(text: str, complaint: str) -> int:
    """``int(text)``, refusing more than `MAX_DIGITS` digits before converting; ValueError ``complaint``
    if it is not a number."""
    digits = text.strip().lstrip("+-")
    if len(digits) > MAX_DIGITS:
        raise ValueError(_("A number of {count} digits is far beyond any field of a ResNet (at most {most} "
                           "digits).").format(count=len(digits), most=MAX_DIGITS))
    try:
        return int(text)
    except ValueError:
        raise ValueError(complaint) from None


def _parse_flag(text: str) -> bool:
    _check_length(text)
    try:
        return _FLAGS[text.strip().lower()]
    except KeyError:
        raise ValueError(_("{text!r} is not a yes/no flag: use 1 or 0 (or true/false).").format(text=text)) from None


def _parse_flags(text: str) -> tuple[bool, ...]:
    _check_length(text)
    try:
        return tuple(_FLAGS[v.strip().lower()] for v in text.split(",") if v.strip())
    except KeyError:
        raise ValueError(_("{text!r} is not a list of yes/no flags separated by commas, like F,T,T or 0,1,1.").format(
            text=text)) from None


def _parse_int(text: str) -> int:
    _check_length(text)
    return _whole_number(text, _("{text!r} is not a number: a whole number is expected.").format(text=text))


def _parse_ints(text: str) -> tuple[int, ...]:
    _check_length(text)
    complaint = _("{text!r} is not a list of whole numbers separated by commas, like 3,4,6,3.").format(text=text)
    return tuple(_whole_number(v, complaint) for v in text.replace(" ", "").split(",") if v)


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
    # ("planes": ``--planes``, ``model_planes``); left empty, `field_infos` fills in the field's name.
    flag: str = ""
    enum: type[enum.Enum] | None = None  # the choices of SELECT and RADIO fields
    choice_labels: tuple[str, ...] = ()  # what the picker shows for each choice, if not the value
    # The largest value of a NUMBER field, or of each entry of an INTS one (the smallest is 1),
    # far beyond any published net: past it a value is a typo, and the picker's input needs a bound.
    maximum: int | None = None
    per_stage: bool = False  # one entry per stage (or per later stage): re-derived when the count changes
    # (field, value): the field means something only while that earlier field has that value
    # (a bottleneck's groups, SE's reduction); elsewhere the picker hides it and the spec keeps its default.
    shown_if: tuple[str, str] | None = None

    @property
    def choices(self) -> tuple[str, ...]:
        """The values a SELECT or RADIO field accepts, as text."""
        return tuple(m.value for m in self.enum) if self.enum is not None else ()


_INFO = "explorer"  # the key of a field's `FieldInfo` in its ``dataclasses`` metadata

# The metadata of one field of each widget kind: ``field(default=..., metadata=number(...))``.


def choice(enum_cls: type[enum.Enum], label: str, help: str, widget: Widget = Widget.SELECT,
           choice_labels: tuple[str, ...] = (), flag: str = "",
           shown_if: tuple[str, str] | None = None) -> dict[str, FieldInfo]:
    info = FieldInfo(label, help, widget, partial(enum_value, enum_cls), _format_enum, flag=flag,
                     enum=enum_cls, choice_labels=choice_labels, shown_if=shown_if)
    return {_INFO: info}


def number(label: str, help: str, maximum: int, shown_if: tuple[str, str] | None = None) -> dict[str, FieldInfo]:
    info = FieldInfo(label, help, Widget.NUMBER, _parse_int, str, maximum=maximum, shown_if=shown_if)
    return {_INFO: info}


def switch(label: str, help: str, shown_if: tuple[str, str] | None = None) -> dict[str, FieldInfo]:
    return {_INFO: FieldInfo(label, help, Widget.CHECKBOX, _parse_flag, _format_flag, shown_if=shown_if)}


def ints(label: str, help: str, maximum: int, flag: str = "", per_stage: bool = False) -> dict[str, FieldInfo]:
    return {_INFO: FieldInfo(label, help, Widget.INTS, _parse_ints, _format_ints, flag=flag, maximum=maximum,
                             per_stage=per_stage)}


def later_stage_flags(label: str, help: str) -> dict[str, FieldInfo]:
    return {_INFO: FieldInfo(label, help, Widget.LATER_STAGES, _parse_flags, _format_flags, per_stage=True)}


def field_infos(cls: type) -> dict[str, FieldInfo]:
    """Each field's `FieldInfo` in declaration order, its flag defaulting to the field's name."""
    return {f.name: replace(f.metadata[_INFO], flag=f.metadata[_INFO].flag or f.name) for f in fields(cls)}
