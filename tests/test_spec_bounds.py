"""Every spec field is bounded before anything grows with it, and a link has a length limit.

A student can type or paste anything into the sidebar or the address bar; each case ends in a
`ValueError` with a sentence (the picker shows it), never an overflow deep inside torch.
"""

from __future__ import annotations

import pytest

from explorer.cli import build_parser, spec_from_args
from explorer.model.fields import MAX_DIGITS, MAX_FIELD_TEXT
from explorer.model.presets import PRESETS
from explorer.model.bounds import MAX_DEPTH, MAX_PLANES, MAX_STAGES
from explorer.model.spec import SPEC_FIELDS, ResNetSpec, spec_for_depth
from explorer.model.token import MAX_TOKEN_LENGTH, spec_from_token, spec_to_token
from tests.conftest import open_app

# The token of issue 22: ~300 KB of one-block stages, which cost 20 s and 1.45 GB when the
# default planes 64·2**i were made before the block limit was checked.
HUGE_TOKEN = "resnet18;stages=" + ",".join(["1"] * 150_000)


def test_a_300_kb_token_is_refused_by_its_length_before_it_is_read() -> None:
    assert len(HUGE_TOKEN) > 299_000
    with pytest.raises(ValueError, match=f"is {len(HUGE_TOKEN):,} characters long; a model's link is at most "
                                         f"{MAX_TOKEN_LENGTH:,}"):
        spec_from_token(HUGE_TOKEN)


def test_the_longest_real_token_is_far_under_the_limit() -> None:
    every_field = ResNetSpec(stages=(993,) + (1,) * (MAX_STAGES - 1), stage_planes=(MAX_PLANES,) * MAX_STAGES,
                             groups=256, width_per_group=1024, stem="deep", stem_width=1024, avg_down=True,
                             stride_style="caffe", shortcut="C", dilate=(True,) * (MAX_STAGES - 1),
                             zero_init_residual=True, num_classes=100_000, in_channels=64)
    token = spec_to_token(every_field)
    assert spec_from_token(token) == every_field
    assert len(token) < MAX_TOKEN_LENGTH / 4


def test_too_many_stages_are_refused_before_any_entry_is_read() -> None:
    # The last entry cannot be read as a number: the count rule answers first, so nothing
    # (no entry, no default planes) was made from the 5,000 stages.
    with pytest.raises(ValueError, match=f"5,000 stages is far beyond any ResNet.*at most {MAX_STAGES} stages"):
        ResNetSpec(stages=(1,) * 4999 + ("not a number",))
    with pytest.raises(ValueError, match="5,000 stages"):
        ResNetSpec(stages=(1,) * 5000)
    assert len(ResNetSpec(stages=(1,) * MAX_STAGES, block="basic").stage_planes) == MAX_STAGES
    with pytest.raises(ValueError, match=f"{MAX_STAGES + 1} stages is far beyond"):
        spec_from_token("resnet18;stages=" + ",".join(["1"] * (MAX_STAGES + 1)))


@pytest.mark.parametrize(("fields", "message"), [
    ({"stage_planes": (10**400, 64, 64, 64)}, "stage_planes holds a number of 401 digits, far more than the explorer "
                                              "builds \\(at most 65,536\\)"),
    ({"stage_planes": (64, 128, 256, MAX_PLANES + 1)}, "stage_planes=65,537 is more than the explorer builds"),
    ({"num_classes": -10**400}, "num_classes holds a number of 401 digits"),
    ({"stages": (10**400,)}, "stages holds a number of 401 digits, far more than the explorer builds \\(at most 1,000"),
    ({"groups": 1.5}, "groups must be a whole number, got 1.5"),
    ({"stem_width": "64"}, "stem_width must be a whole number, got '64'"),
    ({"stages": (3, 4.5, 6, 3)}, "stages must be a whole number, got 4.5"),
])
def test_out_of_range_numbers_made_in_code_are_refused_in_words(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResNetSpec(**fields)


def test_the_widest_allowed_planes_still_make_a_spec() -> None:
    assert ResNetSpec(stage_planes=(MAX_PLANES,) * 4).stage_out_channels(3) == 4 * MAX_PLANES


@pytest.mark.parametrize(("assignment", "message"), [
    ("stage_planes=" + "9" * 400 + ",1,1,1", f"A value of 406 characters is far longer than any field of a ResNet "
                                             f"takes \\(at most {MAX_FIELD_TEXT}\\)"),
    ("stage_planes=1234567890,64,64,64", f"A number of 10 digits is far beyond any field of a ResNet \\(at most "
                                         f"{MAX_DIGITS} digits\\)"),
    ("num_classes=-00000000000001", "A number of 14 digits"),
    ("stage_planes=64,64,64,70000", "stage_planes=70,000 is more than the explorer builds"),
])
def test_absurd_numbers_in_a_link_are_refused_before_they_are_converted(assignment: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        spec_from_token(f"resnet50;{assignment}")
    assert len(str(refused.value)) < 300  # the message repeats the start of the text, not all of it


def test_every_number_field_has_an_upper_bound() -> None:
    bounded = {name for name, info in SPEC_FIELDS.items() if info.maximum is not None}
    assert bounded == {"stages", "stage_planes", "groups", "width_per_group", "stem_width", "num_classes",
                       "in_channels", "radix", "scales", "attention_reduction"}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 3, 10**400])
def test_a_depth_far_beyond_any_resnet_is_refused_in_words(depth: int) -> None:
    with pytest.raises(ValueError, match="far beyond any trained ResNet|401 digits"):
        spec_for_depth(PRESETS["resnet50"], depth)
    assert spec_for_depth(PRESETS["resnet50"], MAX_DEPTH).stages == (188, 250, 374, 188)


def test_the_command_line_refuses_huge_planes_in_words() -> None:
    arguments = build_parser().parse_args(["table", "resnet50", "--planes", "1" + "0" * 30 + ",64,64,64"])
    with pytest.raises(ValueError, match="A number of 31 digits"):
        spec_from_args(arguments)


def test_a_long_link_opens_the_app_with_a_warning_and_no_exception() -> None:
    at = open_app(model=HUGE_TOKEN[:20_000])
    warnings = " ".join(w.value for w in at.warning)
    assert "Ignoring the model in the link" in warnings and "characters long" in warnings
    assert len(warnings) < 1000
    assert at.selectbox(key="model_preset").value == "resnet50"
    assert not at.exception
