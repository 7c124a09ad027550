"""Every figure with a legend keeps it off its title, and log axes are labelled at the decades."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import pytest

from explorer.figures import charts
from explorer.analysis.anatomy import layer_table
from explorer.analysis.compare import aligned_stages
from explorer.model.presets import PRESETS
from explorer.studies.training import TrainStep
from explorer.analysis.zoo import published_weights

BLOCKS = [f"layer{i}.{j}" for i in range(1, 5) for j in range(3)]
HISTORY = [TrainStep(step=s, loss=2.0 / (s + 1), accuracy=min(1.0, s / 10)) for s in range(12)]


def figures() -> dict[str, go.Figure]:
    r18, r50 = layer_table(PRESETS["resnet18"], 224), layer_table(PRESETS["resnet50"], 224)
    return {
        "lines (log)": charts.lines(BLOCKS, {"flag on": [10.0**-k for k in range(12)], "flag off": [1.0] * 12},
                                    "Gradient norm per layer after one backward pass (log scale), a title longer "
                                    "than half a page", "norm", log=True),
        "lines": charts.lines(BLOCKS, {"a": list(range(12))}, "Branch vs shortcut", "ratio"),
        "training curves": charts.training_curves({"plain": HISTORY, "residual": HISTORY}, "Training the twins"),
        "stage bars": charts.stage_bars(aligned_stages(r18, r50), "resnet18", "resnet50"),
        "shape flow": charts.shape_flow_chart(r50),
        "diagram": charts.architecture_diagram(r50),
        "accuracy vs cost": charts.accuracy_vs_cost(published_weights(), {"resnet18": "A: resnet18",
                                                                           "resnet50": "B: resnet50"}),
    }


@pytest.mark.parametrize("name", list(figures()))
def test_a_legend_sits_at_the_foot_of_its_figure_and_titles_wrap(name: str) -> None:
    figure = figures()[name]
    legend = figure.layout.legend
    if any(trace.showlegend is not False for trace in figure.data) and len(figure.data) > 1:
        assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("h", "container", 0, "bottom")
    title = figure.layout.title.text or ""
    assert all(len(line) <= 60 for line in title.split("<br>") if not line.startswith("<sup>")), title


def test_log_axes_read_plain_numbers() -> None:
    log_axes = {name: axis for name, figure in figures().items() for axis in
                (figure.layout[key] for key in figure.layout if key.startswith(("xaxis", "yaxis"))) if axis.type == "log"}
    assert set(log_axes) == {"lines (log)", "shape flow", "accuracy vs cost"}
    assert log_axes["lines (log)"].dtick == 1  # 12 decades: labelled at 1e-11 … 1 only
    assert log_axes["shape flow"].dtick == math.log10(2)  # channels and heights double: 64, 128, 256
    zoo = log_axes["accuracy vs cost"]  # 1.8 to 23 GMACs: one decade, labelled 2, 5, 10, 20
    assert list(zoo.ticktext) == ["2", "5", "10", "20"] and list(zoo.tickvals) == [2, 5, 10, 20]


@pytest.mark.parametrize(("values", "expected"), [
    ([1e-5, 0.2, 3.0], {"range": (-5, 1), "dtick": 1}),  # 5.5 decades: whole decades
    ([0.3, 0.5, 2.5], {"tickvals": (0.5, 1, 2), "ticktext": ("0.5", "1", "2")}),  # under one: 1-2-5
    ([7.0, 7.0], {"tickvals": (5, 10), "ticktext": ("5", "10")}),  # one value: the labels either side
])
def test_a_log_axis_reads_decades_or_the_1_2_5_series(values: list[float], expected: dict) -> None:
    axis = go.Figure().update_yaxes(**charts.log_axis(values)).layout.yaxis
    for key, value in expected.items():
        assert (tuple(axis[key]) if isinstance(value, tuple) else axis[key]) == value, (key, axis[key])


def test_a_log_chart_says_where_zeros_went() -> None:
    note = "values of exactly 0 are not drawn on a log axis"
    with_zeros = charts.lines(BLOCKS, {"flag on": [0.0] * 12, "flag off": [1.0] * 12}, "norms", "norm", log=True)
    assert [a.text for a in with_zeros.layout.annotations] == [note]
    without = charts.lines(BLOCKS, {"flag off": [1.0] * 12}, "norms", "norm", log=True)
    assert not without.layout.annotations
