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
