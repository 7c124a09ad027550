"""Class-mode quick checks: the right choice is what the model computes, the wrong ones are
distinct plausible mistakes, one seed gives one question, and a stored question is checked."""

from __future__ import annotations

import json
import math
import random
import re

import pytest
from torch import nn

from explorer.analysis.anatomy import HEAD_MODULES, LayerTable, layer_table
from explorer.analysis.quick_checks import (
    MAX_CHOICES, MAX_TEXT, Question, QuestionKind, available_kinds, explanation_text, kind_label, make_question,
    question_from_dict, question_text, question_to_dict,
)
from explorer.analysis.receptive_field import field_stages, theoretical_receptive_field
from explorer.model.build import build_model
from explorer.model.presets import get_preset
from explorer.model.spec import ResNetSpec
from explorer.runtime.i18n import in_language

MODELS = ("resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "cifar_resnet20", "custom",
          # the family beyond v1: gate rows, pre-activation's head, split attention, Res2Net's groups
          "resnetv2_50", "seresnet50", "ecaresnet50d", "resnest50d", "res2net50_26w_4s", "cifar_preact_resnet164")
SEEDS = range(6)
CJK = re.compile(r"[\u4e00-\u9fff]")


def spec_of(name: str) -> ResNetSpec:
    """A preset, or "custom": two one-block basic stages, whose only projection is in layer2.0."""
    return ResNetSpec(stages=(1, 1), block="basic") if name == "custom" else get_preset(name)


def table_of(name: str) -> LayerTable:
    spec = spec_of(name)
    return layer_table(spec, 32 if spec.is_cifar else 64 if name == "custom" else 224)


def other_of(name: str) -> LayerTable | None:
    """Model B on the Compare page: resnet50 against resnet18, resnet18 against the rest."""
    return table_of("resnet50" if name == "resnet18" else "resnet18") if name != "custom" else None


def block_names(text: str) -> set[str]:
    """ "layer1.0–2, layer2.0" -> {"layer1.0", "layer1.1", "layer1.2", "layer2.0"}."""
    names = set()
    for part in text.split(", "):
        stage, _dot, blocks = part.partition(".")
        first, _dash, last = blocks.partition("–")
        names |= {f"{stage}.{i}" for i in range(int(first), int(last or first) + 1)}
    return names


def expected_answer(q: Question, table: LayerTable, other: LayerTable | None) -> str:
    """The right choice, computed apart from `quick_checks`: from the built model, the receptive-field
    index maps and the leaf rows."""
    spec = table.spec
    model = build_model(spec, "meta")  # the real module code; meta: no memory for the weights
    if q.kind is QuestionKind.OUTPUT_SHAPE:
        row = next(r for r in table.rows if r.name == q.subject)
        conv = model.get_submodule(q.subject)
        sides = [(side + 2 * conv.padding[i] - conv.dilation[i] * (conv.kernel_size[i] - 1) - 1) // conv.stride[i] + 1
                 for i, side in enumerate(row.in_shape[1:])]
        assert (conv.out_channels, *sides) == row.out_shape
        return "×".join(map(str, row.out_shape))
    if q.kind is QuestionKind.CONV_PARAMS:
        module = model.get_submodule(q.subject)
        assert isinstance(module, nn.Conv2d) and module.bias is None
        return f"{sum(p.numel() for p in module.parameters()):,}"
    if q.kind is QuestionKind.MACS_RATIO:
        return f"{other.totals.macs / table.totals.macs:.2f}×"
    if q.kind is QuestionKind.PROJECTION_BLOCKS:
        projecting = {f"{stage}.{i}" for stage in spec.stage_names for i, block in enumerate(model.get_submodule(stage))
                      if block.downsample is not None and any(isinstance(m, nn.Conv2d) for m in block.downsample.modules())}
        assert block_names(q.choices[q.answer]) == projecting
        return q.choices[q.answer]
    if q.kind is QuestionKind.STAGE_RF:
        box = theoretical_receptive_field(spec, q.subject, (0, 0), table.input_size, clip=False)
        assert box.bottom - box.top == box.right - box.left
        return f"{box.bottom - box.top + 1:,}"
    if q.kind is QuestionKind.PEAK_ACTIVATION:
        held: dict[str, int] = {}
        for row in table.rows:
            part = row.name.split(".")[0] if row.block is None else ".".join(row.name.split(".")[:2])
            part = "head" if part in HEAD_MODULES else part if row.block is not None else "stem"
            held[part] = held.get(part, 0) + 4 * math.prod(row.out_shape)
        most = max(held.values())
        assert held[q.choices[q.answer]] == most
        assert all(held[choice] < most for i, choice in enumerate(q.choices) if i != q.answer)
        return q.choices[q.answer]
    raise AssertionError(q.kind)


@pytest.mark.parametrize("name", MODELS)
def test_every_kind_answers_what_the_model_computes_among_distinct_choices(name: str) -> None:
    table, other = table_of(name), other_of(name)
    kinds = available_kinds(table, other)
    assert QuestionKind.OUTPUT_SHAPE in kinds and QuestionKind.STAGE_RF in kinds
    for kind in kinds:
        for seed in SEEDS:
            q = make_question(kind, table, random.Random(seed), other)
            assert (q.kind, q.model) == (kind, table.spec.name)
            assert len(set(q.choices)) == len(q.choices) and 0 <= q.answer < len(q.choices)
            assert len(q.choices) == 4 or (name == "custom" and len(q.choices) >= 2), (kind, q.choices)
            assert q.choices[q.answer] == expected_answer(q, table, other), (kind, q)


def test_stage_fields_are_the_known_ones_for_resnet18_and_resnet50() -> None:
    """The theoretical fields the receptive-field page and anatomy agree on (REFERENCE.md has none)."""
    known = {"resnet18": [11, 43, 99, 211, 435], "resnet50": [11, 35, 91, 267, 427]}
    for name, sizes in known.items():
        table = table_of(name)
        asked = {}
        for seed in range(40):
            q = make_question(QuestionKind.STAGE_RF, table, random.Random(seed))
            asked[q.subject] = int(q.choices[q.answer].replace(",", ""))
        assert asked == dict(zip(field_stages(table.spec), sizes))


def question_about(kind: QuestionKind, table: LayerTable, subject: str, other: LayerTable | None = None) -> Question:
    return next(q for seed in range(400) if (q := make_question(kind, table, random.Random(seed), other)).subject == subject)


def test_the_wrong_choices_are_the_typical_mistakes() -> None:
    r18, r50 = table_of("resnet18"), table_of("resnet50")
    shape = question_about(QuestionKind.OUTPUT_SHAPE, r18, "layer3.0.conv1")  # 128×28×28 -> 256×14×14
    assert shape.choices[shape.answer] == "256×14×14" and {"128×28×28", "256×28×28"} < set(shape.choices)
    params = question_about(QuestionKind.CONV_PARAMS, r18, "layer3.1.conv2")
    assert params.choices[params.answer] == "589,824" and "590,080" in params.choices  # + a bias
    assert dict(params.facts)["product"] == "3·3·256·256"
    macs = make_question(QuestionKind.MACS_RATIO, r18, random.Random(0), r50)
    assert macs.subject == "resnet18 → resnet50" and macs.choices[macs.answer] == "2.25×"
    assert {"0.44×", f"{r50.totals.params / r18.totals.params:.2f}×"} < set(macs.choices)  # inverse, params
    projection = make_question(QuestionKind.PROJECTION_BLOCKS, r50, random.Random(0))
    assert projection.choices[projection.answer] == "layer1.0, layer2.0, layer3.0, layer4.0"
    assert "layer2.0, layer3.0, layer4.0" in projection.choices  # layer1.0's 64 -> 256 forgotten
    field = question_about(QuestionKind.STAGE_RF, r50, "layer3")
    assert field.choices[field.answer] == "267" and {"91", "427"} < set(field.choices)  # the neighbours
    grouped = question_about(QuestionKind.CONV_PARAMS, table_of("resnext50_32x4d"), "layer3.0.conv2")
    assert dict(grouped.facts)["groups"] == "32" and "(512/32)" in dict(grouped.facts)["product"]


def test_a_kind_that_cannot_be_asked_is_not_offered_and_raises() -> None:
    cifar = table_of("cifar_resnet20")  # option A: zero-padded shortcuts, no projection
    assert QuestionKind.PROJECTION_BLOCKS not in available_kinds(cifar)
    assert QuestionKind.MACS_RATIO not in available_kinds(cifar)
    assert QuestionKind.MACS_RATIO in available_kinds(cifar, table_of("resnet18"))
    with pytest.raises(ValueError, match="projection_blocks"):
        make_question(QuestionKind.PROJECTION_BLOCKS, cifar, random.Random(0))
    with pytest.raises(ValueError, match="macs_ratio"):
        make_question(QuestionKind.MACS_RATIO, cifar, random.Random(0))
    plain = layer_table(ResNetSpec(stages=(1, 1), block="basic", shortcut="none"), 64)
    assert QuestionKind.PROJECTION_BLOCKS not in available_kinds(plain)


def test_option_c_projects_every_block_and_says_so() -> None:
    table = layer_table(ResNetSpec(stages=(3, 4, 6, 3), shortcut="C"), 64)
    q = make_question(QuestionKind.PROJECTION_BLOCKS, table, random.Random(0))
    assert q.choices[q.answer] == "layer1.0–2, layer2.0–3, layer3.0–5, layer4.0–2" and len(q.choices) == 4
    assert "every block" in explanation_text(q)


def test_one_seed_gives_one_question_and_seeds_vary_the_subject_and_the_place() -> None:
    table = table_of("resnet50")
    for kind in available_kinds(table):
        assert make_question(kind, table, random.Random(7)) == make_question(kind, table, random.Random(7))
    asked = [make_question(QuestionKind.OUTPUT_SHAPE, table, random.Random(seed)) for seed in range(12)]
    assert len({q.subject for q in asked}) > 6 and len({q.answer for q in asked}) > 2
    state = random.getstate()
    make_question(QuestionKind.CONV_PARAMS, table, random.Random(0))
    assert random.getstate() == state  # the global random is left alone


@pytest.mark.parametrize("name", MODELS)
def test_texts_speak_english_and_chinese_and_survive_the_store(name: str) -> None:
    table, other = table_of(name), other_of(name)
    for kind in available_kinds(table, other):
        q = make_question(kind, table, random.Random(3), other)
        with in_language("en"):
            english = (question_text(q), explanation_text(q), kind_label(kind))
        with in_language("zh"):
            chinese = (question_text(q), explanation_text(q), kind_label(kind))
        assert all(english) and not any(CJK.search(t) for t in english)
        assert all(CJK.search(t) for t in chinese)
        stored = json.loads(json.dumps(question_to_dict(q)))
        assert question_from_dict(stored) == q


def test_the_explanations_say_the_conventions() -> None:
    r18 = table_of("resnet18")
    macs = explanation_text(make_question(QuestionKind.MACS_RATIO, r18, random.Random(0), table_of("resnet50")))
    assert "multiply-accumulates" in macs and "one image" in macs and "FLOPs = 2 × MACs" in macs
    params = explanation_text(question_about(QuestionKind.CONV_PARAMS, r18, "layer3.1.conv2"))
    assert "3·3·256·256 = 589,824" in params and "no bias" in params


def mutations(stored: dict) -> list[object]:
    """Broken copies of a stored question, as a shared store might hand them back."""
    def changed(**fields: object) -> dict:
        return {**stored, **fields}
    missing = {k: v for k, v in stored.items() if k != "answer"}
    return [
        None, [], "question", missing, changed(extra=1), changed(kind="blood_type"), changed(kind=["output_shape"]),
        changed(subject=7), changed(subject="x" * (MAX_TEXT + 1)), changed(model=None),
        changed(choices="256×14×14"), changed(choices="abcd"), changed(choices=tuple(stored["choices"])), changed(choices=[1, 2, 3, 4]), changed(choices=["a"]),
        changed(choices=[f"c{i}" for i in range(MAX_CHOICES + 1)]), changed(choices=["a", "a", "b", "c"]),
        changed(choices=["y" * 10_000, *stored["choices"][1:]]),
        changed(answer=len(stored["choices"])), changed(answer=-1), changed(answer="0"), changed(answer=True),
        changed(answer=1.0), changed(facts={"kernel": "3×3"}), changed(facts=stored["facts"][:-1]),
        changed(facts=[["kernel", 3], *stored["facts"][1:]]), changed(facts=[["kernel"], *stored["facts"][1:]]),
        changed(facts=[*stored["facts"], ["extra", "1"]]), changed(facts=stored["facts"][::-1]),
    ]


def test_a_malformed_stored_question_is_refused() -> None:
    q = make_question(QuestionKind.CONV_PARAMS, table_of("resnet18"), random.Random(0))
    stored = question_to_dict(q)
    assert question_from_dict(stored) == q
    for broken in mutations(stored):
        with pytest.raises(ValueError):
            question_from_dict(broken)
