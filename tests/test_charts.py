"""Every figure with a legend keeps it off its title, and log axes are labelled at the decades."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import pytest

from explorer import charts
from explorer.anatomy import layer_table
from explorer.compare import aligned_stages
from explorer.presets import PRESETS
from explorer.training import TrainStep

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
    }


@pytest.mark.parametrize("name", list(figures()))
def test_a_legend_sits_at_the_foot_of_its_figure_and_titles_wrap(name: str) -> None:
    figure = figures()[name]
    legend = figure.layout.legend
    if any(trace.showlegend is not False for trace in figure.data) and len(figure.data) > 1:
        assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("h", "container", 0, "bottom")
    title = figure.layout.title.text or ""
    assert all(len(line) <= 60 for line in title.split("<br>")), title


def test_log_axes_are_labelled_at_powers_of_ten() -> None:
    log_axes = [(name, axis) for name, figure in figures().items() for axis in
                (figure.layout[key] for key in figure.layout if key.startswith(("xaxis", "yaxis")))
                if axis.type == "log"]
    assert {name for name, _ in log_axes} == {"lines (log)", "shape flow"}
    for name, axis in log_axes:
        # Decades (1, 10, 100) everywhere; the shape flow's channels and heights double, so they read 64, 128, 256.
        assert axis.dtick == (math.log10(2) if name == "shape flow" else 1), name


def test_a_narrow_log_axis_still_spans_whole_decades() -> None:
    figure = charts.lines(BLOCKS, {"a": [0.3, 0.5, 2.5]}, "narrow", "value", log=True)
    assert list(figure.layout.yaxis.range) == [-1, 1]  # labels 0.1, 1, 10
    figure = charts.lines(BLOCKS, {"a": [1.0, 0.0]}, "one value", "value", log=True)
    assert list(figure.layout.yaxis.range) == [0, 1]
