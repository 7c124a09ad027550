"""Every chart and picture of `explorer.figures`: legends off the titles, plain log axes, the
values each draws, a colour and a line per shortcut kind, and the pixels of the rasters."""

from __future__ import annotations

import io
import math

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from explorer.analysis.colour_scale import ColourScale
from explorer.analysis.anatomy import layer_table
from explorer.analysis.compare import aligned_stages
from explorer.analysis.profiling import CostReport, LayerCost
from explorer.analysis.timing import Timing
from explorer.analysis.receptive_field import InputBox, ReceptiveField
from explorer.analysis.shortcuts import SHORTCUT_STYLES, ShortcutKind, line_key
from explorer.analysis.zoo import published_weights
from explorer.figures.architecture import architecture_diagram, heat_css, latency_chart, shape_flow_chart, stage_bars
from explorer.figures.class_answers import RIGHT_COLOUR, WRONG_COLOUR, answers_histogram
from explorer.figures.curves import lines, training_curves
from explorer.figures.layout import log_axis, wrapped_title
from explorer.figures.maps import channel_grid, channel_zoom, mosaic, scaled_maps, stage_outputs
from explorer.figures.predictions import topk_bars
from explorer.figures.rasters import filter_tiles, overlay, receptive_field_picture, viridis_png
from explorer.figures.receptive_field import receptive_field_sizes
from explorer.figures.zoo import ZooAxis, accuracy_vs_cost
from explorer.model.presets import PRESETS, cifar_resnet
from explorer.model.spec import Shortcut
from explorer.runtime.i18n import in_language
from explorer.studies.training import TrainStep

BLOCKS = [f"layer{i}.{j}" for i in range(1, 5) for j in range(3)]
HISTORY = [TrainStep(step=s, loss=2.0 / (s + 1), accuracy=min(1.0, s / 10)) for s in range(12)]


def figures() -> dict[str, go.Figure]:
    r18, r50 = layer_table(PRESETS["resnet18"], 224), layer_table(PRESETS["resnet50"], 224)
    return {
        "lines (log)": lines(BLOCKS, {"flag on": [10.0**-k for k in range(12)], "flag off": [1.0] * 12},
                                    "Gradient norm per layer after one backward pass (log scale), a title longer "
                                    "than half a page", "norm", log=True),
        "lines": lines(BLOCKS, {"a": list(range(12))}, "Branch vs shortcut", "ratio"),
        "training curves": training_curves({"plain": HISTORY, "residual": HISTORY}, "Training the twins"),
        "stage bars": stage_bars(aligned_stages(r18, r50), "resnet18", "resnet50"),
        "shape flow": shape_flow_chart(r50),
        "diagram": architecture_diagram(r50),
        "accuracy vs cost": accuracy_vs_cost(published_weights(), {"resnet18": "A: resnet18",
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
    axis = go.Figure().update_yaxes(**log_axis(values)).layout.yaxis
    for key, value in expected.items():
        assert (tuple(axis[key]) if isinstance(value, tuple) else axis[key]) == value, (key, axis[key])


def test_a_log_chart_says_where_zeros_went() -> None:
    note = "values of exactly 0 are not drawn on a log axis"
    with_zeros = lines(BLOCKS, {"flag on": [0.0] * 12, "flag off": [1.0] * 12}, "norms", "norm", log=True)
    assert [a.text for a in with_zeros.layout.annotations] == [note]
    without = lines(BLOCKS, {"flag off": [1.0] * 12}, "norms", "norm", log=True)
    assert not without.layout.annotations


# ---- one test per chart: the values it draws -------------------------------------------


def shortcut_traces(figure: go.Figure) -> dict[str, tuple[str, str, str]]:
    """legend group (the kind) -> (dash, colour, legend) of the diagram's shortcut lines."""
    return {t.legendgroup: (t.line.dash, t.line.color, t.name) for t in figure.data if t.legendgroup}


@pytest.mark.parametrize(("spec", "kinds"), [
    (PRESETS["resnet18"], {ShortcutKind.IDENTITY, ShortcutKind.PROJECTION}),
    (PRESETS["resnet50d"], {ShortcutKind.IDENTITY, ShortcutKind.PROJECTION, ShortcutKind.AVG_PROJECTION}),
    (cifar_resnet(20), {ShortcutKind.IDENTITY, ShortcutKind.ZERO_PAD}),
    (PRESETS["resnet18"].with_changes(shortcut=Shortcut.NONE), set()),
])
def test_the_diagram_draws_each_shortcut_kind_in_its_style(spec, kinds: set[ShortcutKind]) -> None:
    table = layer_table(spec, spec.natural_input_size)
    figure = architecture_diagram(table)
    assert shortcut_traces(figure) == {
        kind.value: (SHORTCUT_STYLES[kind].dash, SHORTCUT_STYLES[kind].colour, SHORTCUT_STYLES[kind].legend)
        for kind in kinds}
    blocks = figure.data[-1]  # the invisible markers that carry each drawn block's name, for a click
    assert list(blocks.customdata) == [b.name for b in table.blocks]  # short stages: every block drawn
    drawn = [b for b in table.blocks if b.shortcut is not None and b.shortcut is not ShortcutKind.NONE]
    assert len([t for t in figure.data if t.legendgroup]) == len(drawn)  # one line beside each residual block


def test_the_shortcut_key_lists_every_kind_drawn_in_its_line_and_speaks_chinese() -> None:
    kinds = [b.shortcut for b in layer_table(PRESETS["resnet50d"], 224).blocks]
    assert line_key(kinds) == ("solid: identity shortcut · dashed: projection shortcut (1x1 conv, then BN unless pre-activation) · "
                               "dash-dotted: avg-pool + 1x1 projection (V1d)")
    assert line_key([None, ShortcutKind.NONE]) == ""
    with in_language("zh"):
        assert line_key([ShortcutKind.ZERO_PAD]) == "点线：补零恒等映射（选项 A）"


def test_shape_flow_draws_channels_and_height_of_every_block_output() -> None:
    table = layer_table(PRESETS["resnet18"], 224)
    channels, height = shape_flow_chart(table).data
    assert list(channels.x) == [b.name for b in table.blocks if b.name != "head"]
    assert list(channels.y) == [64, 64, 64, 128, 128, 256, 256, 512, 512]
    assert list(height.y) == [56, 56, 56, 28, 28, 14, 14, 7, 7]


def test_stage_bars_put_each_model_in_its_own_colour_and_unit() -> None:
    r18, r50 = layer_table(PRESETS["resnet18"], 224), layer_table(PRESETS["resnet50"], 224)
    pairs = aligned_stages(r18, r50)
    figure = stage_bars(pairs, "resnet18", "resnet50")
    params_a, params_b = figure.data[0], figure.data[1]
    assert (params_a.marker.color, params_b.marker.color) == ("#3498db", "#e67e22")
    assert list(params_a.y) == [p.a_params / 1e6 for p in pairs] and list(params_b.y) == [p.b_params / 1e6 for p in pairs]
    assert list(figure.data[5].y) == [p.b_activation_bytes / 2**20 for p in pairs]


def test_the_latency_chart_puts_the_slowest_call_on_top_with_its_spread() -> None:
    layers = tuple(LayerCost(name, call, Timing((ms - 0.5, ms, ms + 1.0), 2), None) for name, call, ms in
                   (("conv1", 0, 2.0), ("relu", 1, 5.0), ("fc", 0, 0.5), ("relu", 0, 3.0)))
    figure = latency_chart(CostReport("cpu", 1, (32, 32), 3, layers, Timing((10.0, 11.0, 12.0), 3), None), top=3)
    bars = figure.data[0]
    assert list(bars.y) == ["conv1", "relu", "relu (call 2)"] and list(bars.x) == [2.0, 3.0, 5.0]
    assert list(bars.error_x.array) == [1.0] * 3 and list(bars.error_x.arrayminus) == [0.5] * 3  # slowest, fastest
    assert "Slowest 3 layers on cpu, batch 1" in figure.layout.title.text
    assert figure.layout.xaxis.title.text.startswith("milliseconds: median of 3 runs")


# What a 1024 px window leaves the page's main column with the sidebar open (measured in Chromium);
# a Latin character of a 12 px title is about 6.2 px wide on average (0.52 em), a Chinese one twice that.
MAIN_COLUMN_PX = 520


def title_px(line: str, size: float) -> float:
    return sum(2 if ord(c) > 0x2e80 else 1 for c in line) * 0.55 * size


@pytest.mark.parametrize("language", ["en", "zh"])
def test_stage_bar_titles_fit_above_their_own_subplot_at_1024_px(language: str) -> None:
    with in_language(language):
        figure = stage_bars(aligned_stages(layer_table(PRESETS["resnet18"], 224), layer_table(PRESETS["resnet50"], 224)),
                            "resnet18", "resnet50")
    plot_px = MAIN_COLUMN_PX - figure.layout.margin.l - figure.layout.margin.r
    titles = figure.layout.annotations
    assert len(titles) == 3
    for title, axis in zip(titles, ("xaxis", "xaxis2", "xaxis3")):
        low, high = figure.layout[axis].domain
        widest = max(title_px(line, title.font.size) for line in title.text.split("<br>"))
        assert widest < (high - low) * plot_px, (language, title.text)  # it stays over its own subplot


def test_heat_css_reddens_a_cell_by_its_share_of_the_maximum() -> None:
    assert heat_css(0, 10) == "background-color: rgba(231, 76, 60, 0.08)"
    assert heat_css(5, 10) == "background-color: rgba(231, 76, 60, 0.44)"
    assert heat_css(20, 10) == "background-color: rgba(231, 76, 60, 0.80)"  # clipped at the maximum
    assert heat_css(float("nan"), 10) == "" and heat_css(1, 0) == ""


MAPS = np.stack([np.full((2, 3), 1.0), np.arange(6.0).reshape(2, 3), np.full((2, 3), -4.0)]).astype(np.float32)


def test_a_mosaic_tiles_maps_with_nan_gaps() -> None:
    tiled = mosaic(MAPS, 2)  # 2 per row: 2 rows of (2, 3) with 1-pixel gaps
    assert tiled.shape == (5, 7)
    np.testing.assert_array_equal(tiled[0:2, 4:7], MAPS[1])
    np.testing.assert_array_equal(tiled[3:5, 0:3], MAPS[2])
    assert np.isnan(tiled[2]).all() and np.isnan(tiled[:, 3]).all() and np.isnan(tiled[3:5, 4:7]).all()


def test_scaled_maps_stretch_each_channel_or_keep_the_range() -> None:
    values, low, high = scaled_maps(MAPS, ColourScale.PER_CHANNEL, (-4.0, 5.0))
    assert (low, high) == (0.0, 1.0)
    np.testing.assert_allclose(values[1], np.arange(6.0).reshape(2, 3) / 5)
    np.testing.assert_array_equal(values[0], 0.0)  # a flat map: zeros, not NaN
    values, low, high = scaled_maps(MAPS, ColourScale.GLOBAL, (-4.0, 5.0))
    assert (low, high) == (-4.0, 5.0) and values is MAPS
    assert scaled_maps(MAPS, ColourScale.PER_LAYER, (2.0, 2.0))[1:] == (2.0, 3.0)  # an empty range widens


def test_the_channel_grid_title_names_the_scale_and_its_meaning() -> None:
    figure = channel_grid(MAPS, [1, 2], ColourScale.PER_CHANNEL, (-4.0, 5.0), "layer1.0")
    heat = figure.data[0]
    assert (heat.zmin, heat.zmax, heat.colorbar.title.text) == (0.0, 1.0, "0–1")
    assert "colour scale: per channel — each channel stretched to its own min–max" in figure.layout.title.text
    assert [a.text for a in figure.layout.annotations] == ["c1", "c2"]
    with in_language("zh"):
        title = channel_grid(MAPS, [0], ColourScale.GLOBAL, (-4.0, 5.0), "t").layout.title.text
    assert "全局" in title.split("<sup>")[1]


def test_the_channel_zoom_shows_the_map_upright_with_its_range() -> None:
    figure = channel_zoom(MAPS[1], "layer1.0, channel 1")
    np.testing.assert_array_equal(np.asarray(figure.data[0].z), MAPS[1][::-1])  # heatmaps draw row 0 at the bottom
    assert "range 0.000 … 5.000" in figure.layout.title.text


def test_stage_outputs_share_one_range_in_one_row_as_tall_as_the_maps_need() -> None:
    figure = stage_outputs([MAPS[0], MAPS[1], MAPS[2], MAPS[0]], ["layer1", "layer2", "layer3", "layer4"], "resnet18")
    assert len(figure.data) == 4 and {t.coloraxis for t in figure.data} == {"coloraxis"}
    assert (figure.layout.coloraxis.cmin, figure.layout.coloraxis.cmax) == (0.0, 1.0)
    assert figure.layout.height == 80 + 760 // 4
    assert figure.layout.xaxis2.domain[0] > figure.layout.xaxis.domain[1]  # side by side, left to right


def test_filter_tiles_stretch_each_filter_to_black_and_white() -> None:
    weight = np.zeros((2, 3, 2, 2), dtype=np.float32)
    weight[0, :, 0, 0] = 1.0  # filter 0: its top-left pixel is its maximum
    weight[1] = -np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    sheet = filter_tiles(weight, upscale=3)
    assert sheet.shape == (1 * (6 + 2), 2 * (6 + 2), 3) and sheet.dtype == np.uint8
    assert tuple(sheet[1, 1]) == (255, 255, 255) and tuple(sheet[4, 4]) == (0, 0, 0)  # filter 0: max, then min
    assert tuple(sheet[0, 0]) == (255, 255, 255)  # the white border between tiles
    assert tuple(sheet[1, 9]) == (255, 162, 70)  # filter 1 at (0, 0): RGB 0, -4, -8 of its range -11 … 0


def test_the_mosaic_png_is_viridis_with_white_gaps() -> None:
    image = np.asarray(Image.open(io.BytesIO(viridis_png(MAPS[:2], ColourScale.PER_CHANNEL, (0.0, 1.0), columns=2))))
    assert image.shape == (2, 7, 3)
    assert tuple(image[0, 4]) == (68, 1, 84) and tuple(image[1, 6]) == (253, 231, 37)  # channel 1's min and max
    assert tuple(image[0, 3]) == (255, 255, 255)  # the gap


def test_an_overlay_blends_the_jet_coloured_map_over_the_picture() -> None:
    picture = Image.new("RGB", (4, 4), (0, 200, 0))
    heat = np.array([[0.0, 1.0], [0.5, 0.25]])
    assert overlay(picture, heat, alpha=0.0).getpixel((0, 0)) == (0, 200, 0)
    coloured = overlay(picture, heat, alpha=1.0)
    assert coloured.size == (4, 4) and coloured.getpixel((3, 0)) == (128, 0, 0)  # the map's maximum: jet's top
    assert coloured.getpixel((0, 0)) == (0, 0, 131)  # its minimum: jet's bottom


def test_the_receptive_field_picture_draws_the_box_the_square_and_the_field() -> None:
    picture = Image.new("RGB", (8, 8), (0, 0, 200))
    field = np.zeros((8, 8))
    field[4, 4] = 1.0
    drawn = receptive_field_picture(picture, field, InputBox(1, 1, 6, 6), InputBox(3, 3, 5, 5))
    scale = 448 // 8
    assert drawn.size == (8 * scale, 8 * scale)
    assert drawn.getpixel((1 * scale, 3 * scale)) == (0, 229, 255)  # the theoretical box's left edge: cyan
    assert drawn.getpixel((3 * scale, 4 * scale)) == (255, 255, 255)  # the effective square's left edge: white
    # The field's peak: hot's white at 85% over the blue picture.
    assert drawn.getpixel((int(4.5 * scale), int(4.5 * scale))) == (216, 216, 247)
    assert drawn.getpixel((0, 0)) == (0, 0, 200)  # no field, no box: the picture


def test_topk_bars_put_the_best_on_top_in_percent() -> None:
    figure = topk_bars(["tabby", "tiger cat", "lynx"], [0.6, 0.3, 0.05], "resnet18")
    bars = figure.data[0]
    assert list(bars.y) == ["lynx", "tiger cat", "tabby"] and list(bars.x) == [5.0, 30.0, 60.0]
    assert list(bars.text) == ["5.0%", "30.0%", "60.0%"] and tuple(figure.layout.xaxis.range) == (0, 100)


def test_the_answers_histogram_counts_each_choice_and_greens_the_right_one_once_revealed() -> None:
    choices, counts = ["256×14×14", "128×28×28", "256×28×28", "<b>64×7×7</b>"], [5, 2, 0, 1]
    hidden = answers_histogram(choices, counts, None)
    bars = hidden.data[0]
    assert list(bars.y) == ["A  256×14×14", "B  128×28×28", "C  256×28×28", "D  &lt;b&gt;64×7×7&lt;/b&gt;"]
    assert list(bars.x) == counts and list(bars.text) == ["5", "2", "0", "1"] and bars.textposition == "outside"
    assert len(set(bars.marker.color)) == 1 and hidden.layout.yaxis.autorange == "reversed"  # A on top
    assert hidden.layout.title.text == "8 answers" and hidden.layout.height == 260
    revealed = answers_histogram(choices, counts, 0)
    assert list(revealed.data[0].marker.color) == [RIGHT_COLOUR, WRONG_COLOUR, WRONG_COLOUR, WRONG_COLOUR]
    assert answers_histogram(choices[:2], [0, 1], 1).layout.title.text == "1 answer"
    with in_language("zh"):
        assert answers_histogram(choices, counts, None).layout.title.text == "8 个回答"
    for figure in (hidden, revealed, answers_histogram(choices[:2], [0, 0], None)):
        go.Figure(figure.to_dict())  # built unchecked: here through plotly's checks, which raise on any unknown property
    with pytest.raises(ValueError, match="one count per choice"):
        answers_histogram(choices, [1, 2], None)


def test_lines_and_training_curves_draw_each_series_in_its_colour() -> None:
    figure = lines(["a", "b", "c"], {"on": [1.0, 0.0, 2.0], "off": [3.0, 4.0, 5.0]}, "t", "y", log=True)
    assert list(figure.data[0].y) == [1.0, None, 2.0]  # a zero is left out on a log axis
    assert [t.line.color for t in figure.data] == ["#2980b9", "#e67e22"]
    curves = training_curves({"plain": HISTORY, "residual": HISTORY[:3]}, "Training")
    assert [(t.name, t.showlegend) for t in curves.data] == [("plain", None), ("plain", False), ("residual", None),
                                                            ("residual", False)]
    assert list(curves.data[3].y) == [s.accuracy for s in HISTORY[:3]] and curves.data[3].xaxis == "x2"


@pytest.mark.parametrize("axis", list(ZooAxis))
def test_the_zoo_chart_titles_and_hovers_its_axis(axis: ZooAxis) -> None:
    entries = published_weights()
    figure = accuracy_vs_cost(entries, {"resnet18": "A: resnet18"}, axis)
    assert figure.layout.xaxis.title.text == axis.axis_title
    highlighted = next(t for t in figure.data if t.name == "A: resnet18")
    resnet18 = next(e for e in entries if e.model == "resnet18")
    assert list(highlighted.x) == [axis.cost(resnet18)]
    assert highlighted.hovertext[0].endswith({ZooAxis.GMACS: "1.814 GMACs", ZooAxis.PARAMS: "11.7 M params"}[axis])
    assert figure.layout.title.text.startswith(wrapped_title(f"Every torchvision ResNet, ResNeXt and Wide ResNet: "
                                                             f"top-1 against {axis.value}"))


def test_receptive_field_sizes_draw_the_box_the_field_and_the_window() -> None:
    fields = [ReceptiveField("layer1", (0, 0), InputBox(0, 0, 34, 34), InputBox(-10, -10, 34, 34), np.zeros((64, 64)),
                             InputBox(10, 10, 20, 20)),
              ReceptiveField("layer2", (0, 0), InputBox(0, 0, 63, 63), InputBox(-50, -50, 50, 50), np.zeros((64, 64)),
                             None)]
    box, effective, window = receptive_field_sizes(fields, "t").data
    assert list(box.y) == [35, 64] and list(effective.y) == [11, 0] and list(window.y) == [45, 101]
    assert (box.marker.color, effective.marker.color) == ("#5dade2", "#e74c3c") and window.mode == "lines+markers"


def test_a_chinese_title_breaks_between_characters_never_before_punctuation() -> None:
    title = "残差网络的每个残差块计算一个修正量，再通过捷径加到它的输入上，输出 x + F(x)。深层网络因此依然能够训练。"
    lines_ = wrapped_title(title, 30).split("<br>")
    assert "".join(lines_).replace(" ", "") == title.replace(" ", "") and len(lines_) > 1
    for line in lines_:  # a Chinese character counts two; a line may run over by the punctuation it keeps
        assert sum(2 if ord(c) > 0x2e80 else 1 for c in line) <= (32 if line.endswith(("，", "。")) else 30), line
    assert not any(line.startswith(("，", "。")) for line in lines_[1:])
    assert wrapped_title("short") == "short"
