"""Spec fields declared once: every field reads back from a link and from the command line,
and the sidebar picker and ``python -m explorer table`` make the same spec from the same choices."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from explorer.cli import build_parser, spec_from_args
from explorer.model.presets import PRESETS
from explorer.model.fields import FieldInfo, Widget
from explorer.model.kinds import Attention, Block, MiddleConv, Shortcut, Stem, StrideStyle
from explorer.model.spec import SPEC_FIELDS, ResNetSpec, stage_name
from explorer.model.token import spec_from_token, spec_to_token
from tests.conftest import open_app

# One change per field, each from a preset where it is valid and differs. A new field
# needs a row here (the walk below fails with a KeyError until it has one).
EXAMPLES: dict[str, tuple[str, Any]] = {
    "stages": ("resnet50", (2, 3, 4, 2)),
    "block": ("resnet50", Block.BASIC),
    "stage_planes": ("resnet50", (32, 64, 128, 256)),
    "groups": ("resnet50", 8),
    "width_per_group": ("resnet50", 16),
    "stem": ("resnet50", Stem.DEEP),
    "stem_width": ("resnet50", 32),
    "avg_down": ("resnet50d", False),
    "stride_style": ("resnet50", StrideStyle.CAFFE),
    "shortcut": ("resnet50", Shortcut.C),
    "dilate": ("resnet50", (False, True, True)),
    "zero_init_residual": ("resnet50", True),
    "num_classes": ("resnet50", 7),
    "in_channels": ("resnet50", 1),
    "middle_conv": ("resnet50", MiddleConv.RES2),
    "radix": ("resnest50d", 4),
    "avd_first": ("resnest50d", True),
    "scales": ("res2net50_26w_4s", 6),
    "attention": ("resnet50", Attention.ECA),
    "attention_reduction": ("seresnet50", 8),
    "preact": ("resnet50", True),
}


def cli_arguments(changes: dict[str, Any]) -> list[str]:
    """The ``table`` flags for these field values, spelled as each field's `FieldInfo` says."""
    arguments = []
    for name, value in changes.items():
        info = SPEC_FIELDS[name]
        flag = info.flag.replace("_", "-")
        if info.widget is Widget.CHECKBOX:
            arguments.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            arguments += [f"--{flag}", info.format(value)]
    return arguments


def cli_spec(preset: str, changes: dict[str, Any], depth: int | None = None) -> ResNetSpec:
    depth_arguments = [] if depth is None else ["--depth", str(depth)]
    return spec_from_args(build_parser().parse_args(["table", preset, *cli_arguments(changes), *depth_arguments]))


@pytest.mark.parametrize("name", [f.name for f in fields(ResNetSpec)])
def test_every_field_is_described_and_reads_back_from_a_link_and_the_command_line(name: str) -> None:
    info = SPEC_FIELDS[name]
    assert isinstance(info, FieldInfo) and info.label and info.help
    preset, value = EXAMPLES[name]
    spec = PRESETS[preset].with_changes(**{name: value})
    assert getattr(spec, name) != getattr(PRESETS[preset], name)
    assert info.parse(info.format(getattr(spec, name))) == getattr(spec, name)
    assert spec_from_token(spec_to_token(spec)) == spec
    assert cli_spec(preset, {name: value}) == spec


def test_links_keep_todays_format() -> None:
    spec = ResNetSpec(stem="deep", avg_down=True, stride_style="caffe", dilate=(False, True, True))
    assert spec_to_token(spec) == "resnet50;stem=deep;avg_down=1;stride_style=caffe;dilate=0,1,1"
    assert spec_from_token("resnet50;stride_style=caffe;stem=deep;dilate=0,1,1;avg_down=1") == spec
    assert spec_to_token(ResNetSpec(stages=(1, 2, 3), block="basic", num_classes=2)) == (
        "resnet18;stages=1,2,3;stage_planes=64,128,256;dilate=0,0;num_classes=2"
    )


# ---- the sidebar picker against the command line --------------------------------------


def picker_spec(preset: str, changes: dict[str, Any], depth: int | None = None) -> ResNetSpec:
    """Drive the sidebar's custom picker as a person would: fields, then the size, then per-stage fields."""
    at = open_app(model=preset)
    at.selectbox(key="model_preset").select("custom…").run()

    def set_field(name: str, value: Any) -> None:
        info = SPEC_FIELDS[name]
        key = f"model_{info.flag}"
        if info.widget is Widget.SELECT:
            at.selectbox(key=key).select(info.format(value)).run()
        elif info.widget is Widget.RADIO:
            at.radio(key=key).set_value(info.format(value)).run()
        elif info.widget is Widget.CHECKBOX:
            at.checkbox(key=key).set_value(value).run()
        elif info.widget is Widget.NUMBER:
            at.number_input(key=key).set_value(value).run()
        elif info.widget is Widget.INTS:
            at.text_input(key=key).input(info.format(value)).run()
        else:
            at.multiselect(key=key).set_value([stage_name(i + 1) for i, on in enumerate(value) if on]).run()
        assert not at.exception, at.exception

    chosen = [name for name in SPEC_FIELDS if name in changes]  # declaration order: block before groups
    for name in chosen:
        if name != "stages" and not SPEC_FIELDS[name].per_stage:
            set_field(name, changes[name])
    if depth is not None:
        at.radio(key="model_by").set_value("depth").run()
        at.number_input(key="model_depth").set_value(depth).run()
    elif "stages" in changes:
        set_field("stages", changes["stages"])
    for name in chosen:
        if SPEC_FIELDS[name].per_stage:
            set_field(name, changes[name])
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at.session_state["sidebar_choice"].spec


@pytest.mark.parametrize(("preset", "changes", "depth", "stages"), [
    pytest.param("resnet50", {
        "stages": (2, 3, 4, 2), "groups": 8, "width_per_group": 16, "stem": Stem.DEEP, "stem_width": 32,
        "avg_down": True, "stride_style": StrideStyle.CAFFE, "shortcut": Shortcut.C, "zero_init_residual": True,
        "num_classes": 7, "in_channels": 1, "stage_planes": (32, 64, 128, 256), "dilate": (False, True, True),
    }, None, (2, 3, 4, 2), id="every-field-but-block"),
    pytest.param("resnet50", {"block": Block.BASIC, "stem": Stem.CIFAR}, 20, (3, 3, 3), id="basic-cifar-stem-depth-20"),
    pytest.param("resnet50", {"stem": Stem.CIFAR}, 20, (2, 2, 2), id="bottleneck-cifar-stem-depth-20"),
    pytest.param("cifar_resnet20", {"shortcut": Shortcut.B, "stem": Stem.IMAGENET}, 34, (3, 4, 6, 3),
                 id="cifar-base-imagenet-stem-depth-34"),
    pytest.param("resnet18", {"block": Block.BOTTLENECK, "shortcut": Shortcut.NONE}, 101, (3, 4, 23, 3),
                 id="plain-bottleneck-depth-101"),
    pytest.param("resnet50d", {"avg_down": False, "stride_style": StrideStyle.CAFFE, "stages": (1, 1, 1)}, None,
                 (1, 1, 1), id="fewer-stages-resets-planes"),
    pytest.param("cifar_resnet20", {"shortcut": Shortcut.A, "num_classes": 100, "stem_width": 8}, 56, (9, 9, 9),
                 id="cifar-depth-56"),
    pytest.param("resnet50", {"stem": Stem.CIFAR, "shortcut": Shortcut.B, "preact": True}, 164, (18, 18, 18),
                 id="preact-cifar-depth-164"),
    pytest.param("resnet18", {"block": Block.BOTTLENECK, "middle_conv": MiddleConv.RES2, "scales": 6,
                              "width_per_group": 26, "attention": Attention.SE, "attention_reduction": 8}, 101,
                 (3, 4, 23, 3), id="res2net-se-depth-101"),
    pytest.param("resnet50", {"stem": Stem.TIERED, "avg_down": True, "attention": Attention.ECA}, 26, (2, 2, 2, 2),
                 id="tiered-eca-depth-26"),
    pytest.param("resnet50d", {"middle_conv": MiddleConv.SPLIT, "radix": 4, "avd_first": True}, 26, (2, 2, 2, 2),
                 id="resnest-radix-4-depth-26"),
])
def test_the_picker_and_the_command_line_make_the_same_spec(
    preset: str, changes: dict[str, Any], depth: int | None, stages: tuple[int, ...],
) -> None:
    from_picker = picker_spec(preset, changes, depth)
    assert from_picker == cli_spec(preset, changes, depth)
    assert from_picker.stages == stages
    for name, value in changes.items():
        assert getattr(from_picker, name) == value
    if depth is not None:
        assert from_picker.depth == depth
