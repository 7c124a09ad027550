"""The Architecture page (every tab and level) and Compare for the family beyond v1, in AppTest."""

from __future__ import annotations

import pytest

from explorer.analysis.anatomy import Level, layer_table
from explorer.analysis.gates import gate_cost_lines
from explorer.analysis.table_notes import table_notes
from explorer.model.presets import PRESETS
from tests.conftest import open_app, open_tab, shown

TABS = ("Diagram", "Shape flow", "Paper Table 1", "Counting conventions", "Measured cost")


def captions(at) -> str:
    return " ".join(shown(c.value) for c in at.caption)


@pytest.mark.parametrize("name", ["resnetv2_50", "seresnet50", "resnest50d", "res2net50_26w_4s"])
def test_every_architecture_tab_and_level_opens(name: str) -> None:
    at = open_app("architecture", model=name, model_input="64")
    table = layer_table(PRESETS[name], 64)
    for note in table_notes(table) + gate_cost_lines(table):
        assert shown(note) in captions(at)
    for level in (Level.BLOCKS, Level.STAGES):
        at.radio(key="arch_level").set_value(level).run()
        assert not at.exception, (level, at.exception)
        assert len(at.dataframe[0].value) == len(table.rows_at(level))
    for label in TABS:
        open_tab(at, label)
    at.button(key="arch_measure").click().run()
    assert not at.exception, at.exception


def test_the_conventions_tab_says_what_the_gates_cost() -> None:
    at = open_tab(open_app("architecture", model="seresnet50"), "Counting conventions")
    text = " ".join(shown(m.value) for m in at.markdown)
    assert "What the channel gates cost" in text and "5.52 M pooling adds" in text and "5.52 M gate multiplies" in text
    counts = next(d.value for d in at.dataframe if "torchinfo mult-adds" in d.value.columns)
    assert "gate multiply" in set(counts["Layer type"]) and "Sigmoid" in set(counts["Layer type"])


def _compare_text(at) -> str:
    return " ".join(shown(m.value) for m in at.markdown)


@pytest.mark.parametrize(("a", "b"), [("resnet50", "seresnet50"), ("resnet50", "resnetv2_50"),
                                      ("resnest50d", "res2net50_26w_4s")])
def test_compare_opens_for_the_family_and_names_the_difference(a: str, b: str) -> None:
    from explorer.analysis.family_diff import family_lines

    at = open_app("compare", a=a, b=b)
    lines = family_lines(layer_table(PRESETS[a], 224), layer_table(PRESETS[b], 224))
    assert lines and all(shown(line) in _compare_text(at) for line in lines)


def test_a_third_model_adds_its_column_its_bars_and_its_sentences() -> None:
    from explorer.analysis.family_diff import family_lines

    at = open_app("compare", a="resnet50", b="seresnet50")
    assert "c" not in at.query_params and not at.toggle(key="cmp_third").value
    at.toggle(key="cmp_third").set_value(True).run()
    assert not at.exception, at.exception
    at.selectbox(key="cmp_model_c_preset").select("resnetv2_50").run()
    assert not at.exception, at.exception
    assert at.query_params["c"] == ["resnetv2_50"] or at.query_params["c"] == "resnetv2_50"
    totals = at.dataframe[0].value
    assert list(totals.columns) == ["", "A: resnet50", "B: seresnet50", "C: resnetv2_50", "B − A", "C − A", "B / A",
                                    "C / A"]
    params = totals[totals[""] == "Parameters"].iloc[0]
    assert (params["B − A"], params["C − A"]) == (28_088_024 - 25_557_032, 25_549_352 - 25_557_032)
    text = _compare_text(at)
    a, b, c = (layer_table(PRESETS[n], 224) for n in ("resnet50", "seresnet50", "resnetv2_50"))
    for line in family_lines(a, b) + family_lines(a, c):
        assert shown(line) in text
    assert "**resnet50 → seresnet50**" in " ".join(m.value for m in at.markdown)
    bars = next(ch for ch in at.get("plotly_chart") if "C: resnetv2_50" in ch.proto.spec)
    assert bars is not None
    stages = next(d.value for d in at.dataframe if "C MACs" in d.value.columns)
    assert stages[stages["stage"] == "layer4"].iloc[0]["B MACs"] - stages[stages["stage"] == "layer4"].iloc[0][
        "A MACs"] == 3 * 2 * 2048 * 128
    at.toggle(key="cmp_third").set_value(False).run()
    assert not at.exception and "c" not in at.query_params


def test_a_link_with_c_opens_the_three_model_compare() -> None:
    at = open_app("compare", a="resnet18", b="resnet50", c="seresnet50")
    assert at.toggle(key="cmp_third").value
    assert "C: seresnet50" in at.dataframe[0].value.columns


def test_the_three_model_compare_speaks_chinese() -> None:
    at = open_app("compare", a="resnet50", b="seresnet50", c="resnetv2_50", lang="zh")
    text = _compare_text(at)
    assert "SE 门控" in text and "预激活" in text and "C: resnetv2_50" in at.dataframe[0].value.columns
    assert at.toggle(key="cmp_third").label == "加入第三个模型（C）"
