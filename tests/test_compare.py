"""Compare: what the cost buys (published accuracy, the zoo chart), measured speed, one image through both."""

from __future__ import annotations

import io
import json
import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import get_model_weights

from explorer.figures.rasters import overlay
from explorer.figures.zoo import PLOT_AREA, ZooAxis, label_box, overlap, accuracy_vs_cost, place_labels
from explorer.analysis.anatomy import layer_table
from explorer.model.build import build_model
from explorer.analysis.compare import (
    accuracy_lines, accuracy_table, explain_difference, image_through, latency_lines, speed_table, stage_output_points,
    totals_table,
)
from explorer.analysis.memory_needs import memory_need
from explorer.analysis.table_format import human_bytes
from explorer.analysis.training_cost import (
    TRAINING_BATCH, TRAINING_WARMUPS, measure_speeds, measure_training_step, training_lines, training_memory,
    training_memory_table, training_speed_table, training_step_batch,
)
from explorer.figures.handout import cell_text, comparison_html, handout_name, inline
from explorer.runtime.i18n import _, in_language
from explorer.data.images import Preprocessing, decode_image, preprocess, sample_images
from explorer.analysis.predict import grad_cam, predict
from explorer.model.presets import PRESETS, cifar_resnet
from explorer.analysis.profiling import (
    THROUGHPUT_REPEATS, BatchTiming, ThroughputReport, THROUGHPUT_WARMUPS, measure_throughput, measure_throughputs, throughput_batches,
)
from explorer.analysis.timing import NOISY_SPREAD, Timing, format_ms, format_rate, noisy_note, timing_text
from explorer.analysis.receptive_field import theoretical_receptive_field
from explorer.analysis.zoo import Recipe, ops_convention, published_weights, weights_of, zoo_models
from tests.conftest import open_app

# REFERENCE.md's table of torchvision ImageNet models: acc@1 of the V1 and V2 weights, as published.
PUBLISHED_ACC1 = {
    "resnet18": (69.758, None), "resnet34": (73.314, None), "resnet50": (76.130, 80.858),
    "resnet101": (77.374, 81.886), "resnet152": (78.312, 82.284), "resnext50_32x4d": (77.618, 81.198),
    "resnext101_32x8d": (79.312, 82.834), "wide_resnet50_2": (78.468, 81.602), "wide_resnet101_2": (78.848, 82.510),
}


def meta(model: str, weights: str) -> dict:
    return next(w.meta for w in get_model_weights(model) if w.name == weights)


# ---- the zoo: published numbers from the weights meta -----------------------------------


@pytest.mark.parametrize(("model", "weights", "acc1", "acc5"), [
    ("resnet18", "IMAGENET1K_V1", 69.758, 89.078),
    ("resnet50", "IMAGENET1K_V1", 76.13, 92.862),
    ("resnet50", "IMAGENET1K_V2", 80.858, 95.434),
])
def test_published_accuracy_is_the_meta_and_the_published_number(model: str, weights: str, acc1: float, acc5: float) -> None:
    entry = next(e for e in weights_of(PRESETS[model]) if e.weights == weights)
    metrics = meta(model, weights)["_metrics"]["ImageNet-1K"]
    assert (entry.acc1, entry.acc5) == (metrics["acc@1"], metrics["acc@5"]) == (acc1, acc5)
    assert (entry.gmacs, entry.params) == (meta(model, weights)["_ops"], meta(model, weights)["num_params"])
    assert PUBLISHED_ACC1[model][weights == "IMAGENET1K_V2"] == acc1


def test_every_zoo_entry_equals_its_meta_and_the_reference_table() -> None:
    entries = published_weights()
    assert {e.model for e in entries} == set(zoo_models())
    assert set(zoo_models()) == {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                                 "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"}
    assert len(entries) == sum(len(get_model_weights(m)) for m in zoo_models())
    for e in entries:
        m = meta(e.model, e.weights)
        assert (e.acc1, e.acc5, e.gmacs, e.params) == (m["_metrics"]["ImageNet-1K"]["acc@1"],
                                                       m["_metrics"]["ImageNet-1K"]["acc@5"], m["_ops"], m["num_params"])
    by_model = {m: tuple(e.acc1 for e in entries if e.model == m) for m in PUBLISHED_ACC1}
    assert by_model == {m: tuple(a for a in acc1 if a is not None) for m, acc1 in PUBLISHED_ACC1.items()}


def test_torchvision_ops_are_read_as_macs() -> None:
    # That every preset's totals equal its meta is test_anatomy's test_totals_equal_the_published_params_and_macs.
    convention = ops_convention()
    assert convention.meta_ops == 4.089 and convention.table_macs == 4_089_184_256 and convention.counts_macs


def test_a_custom_spec_has_no_published_weights() -> None:
    assert weights_of(PRESETS["resnet50"].with_changes(num_classes=10)) == ()
    assert weights_of(cifar_resnet(20)) == ()
    assert [e.weights for e in weights_of(PRESETS["resnet50"].with_changes(zero_init_residual=True))] == [
        "IMAGENET1K_V1", "IMAGENET1K_V2"]


def test_accuracy_lines_compare_like_for_like_and_name_the_recipe_gain() -> None:
    lines = accuracy_lines("resnet18", weights_of(PRESETS["resnet18"]), "resnet50", weights_of(PRESETS["resnet50"]))
    assert lines[0].startswith("With IMAGENET1K_V1 weights") and "+6.37 points for 2.25× the MACs" in lines[0]
    assert "IMAGENET1K_V2 weights score +4.73 points over IMAGENET1K_V1" in lines[1] and len(lines) == 2


def test_the_recipe_is_read_from_the_meta_not_the_weights_name() -> None:
    recipes = {(e.model, e.weights): e.recipe for e in published_weights()}
    assert recipes.pop(("resnext101_64x4d", "IMAGENET1K_V1")) is Recipe.NEW  # its only weights: the new recipe
    assert all(recipe is (Recipe.NEW if weights == "IMAGENET1K_V2" else Recipe.ORIGINAL)
               for (_model, weights), recipe in recipes.items())
    assert "new training recipe" in meta("resnext101_64x4d", "IMAGENET1K_V1")["_docs"]


def test_accuracy_lines_compare_weights_of_one_recipe_whatever_their_names() -> None:
    lines = accuracy_lines("resnet50", weights_of(PRESETS["resnet50"]), "resnext101_64x4d",
                           weights_of(PRESETS["resnext101_64x4d"]))
    assert lines[0].startswith("With weights of the same recipe (new recipe: IMAGENET1K_V1 and IMAGENET1K_V2), "
                               "**resnext101_64x4d** reaches 83.246% top-1 against 80.858% for **resnet50**")
    assert not any("IMAGENET1K_V1 weights (the same recipe for both)" in line for line in lines)
    assert "**resnet50**'s IMAGENET1K_V2 weights score +4.73 points over IMAGENET1K_V1" in lines[1] and len(lines) == 2


def drawn_points(figure) -> list[tuple[str, str, float, float, str]]:
    """(trace, label text, x, y, marker symbol) of every point of the zoo chart."""
    return [(t.name, text.replace("<b>", "").replace("</b>", ""), x, y, symbol) for t in figure.data if t.mode != "lines"
            for text, x, y, symbol in zip(t.text, t.x, t.y, t.marker.symbol)]


def test_every_point_is_named_and_drawn_by_its_recipe() -> None:
    entries = published_weights()
    figure = accuracy_vs_cost(entries, {"resnet18": "A: resnet18", "resnet50": "B: resnet50"})
    points = drawn_points(figure)
    by_place = {(e.gmacs, e.acc1): e for e in entries}
    assert sorted(text for _, text, *_rest in points) == sorted(e.model for e in entries)
    for trace, text, x, y, symbol in points:
        entry = by_place[(x, y)]
        assert text == entry.model  # resnet34, between the two chosen, is named too
        assert symbol == {Recipe.ORIGINAL: "circle", Recipe.NEW: "diamond"}[entry.recipe]
    (resnext,) = [p for p in points if p[1] == "resnext101_64x4d"]
    assert resnext[0] == "other models, torchvision's new recipe" and resnext[4] == "diamond"
    assert [p[0] for p in points if p[1] == "resnet34"] == ["other models, original recipe"]


@pytest.mark.parametrize("x", list(ZooAxis))
def test_no_label_covers_another_in_a_520_px_column(x: ZooAxis) -> None:
    entries = published_weights()
    figure = accuracy_vs_cost(entries, {"resnet18": "A: resnet18", "resnet50": "B: resnet50"}, x)
    low, high = figure.layout.xaxis.range
    bottom, top = figure.layout.yaxis.range
    width, height = PLOT_AREA
    boxes = [label_box((math.log10(px) - low) / (high - low) * width, (py - bottom) / (top - bottom) * height,
                        t.marker.size / 2, text.replace("<b>", "").replace("</b>", ""), position)
             for t in figure.data if t.mode != "lines"
             for px, py, text, position in zip(t.x, t.y, t.text, t.textposition)]
    assert len(boxes) == len(entries)
    overlaps = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if overlap(a, b) > 0]
    assert overlaps == []


def test_labels_of_two_points_at_one_place_go_to_different_sides() -> None:
    positions = place_labels([(100, 100, 4, "resnet50"), (101, 100, 4, "resnext50"), (300, 50, 4, "resnet18")])
    assert positions[0] != positions[1] and positions[2] == "middle right"


def test_the_chart_holds_one_point_per_weights_entry_and_highlights_both_models() -> None:
    entries = published_weights()
    for x in ZooAxis:
        figure = accuracy_vs_cost(entries, {"resnet18": "A: resnet18", "resnet50": "B: resnet50"}, x)
        points = [(t.name, v, y) for t in figure.data if t.mode != "lines" for v, y in zip(t.x, t.y)]
        assert len(points) == len(entries)
        expected_x = [e.gmacs if x is ZooAxis.GMACS else e.params / 1e6 for e in entries]
        assert sorted((v, y) for _, v, y in points) == sorted(zip(expected_x, (e.acc1 for e in entries)))
        highlighted = {t.name: list(t.y) for t in figure.data if t.name.startswith(("A:", "B:"))}
        assert highlighted == {"A: resnet18": [69.758], "B: resnet50": [76.13, 80.858]}
        axis = figure.layout.xaxis
        assert axis.type == "log" and list(axis.ticktext) == [f"{t:g}" for t in axis.tickvals]
        assert 10 in axis.tickvals and figure.layout.legend.yref == "container"  # plain numbers; the legend at the foot


# ---- measured speed -----------------------------------------------------------------------


def test_a_timing_is_its_runs_median_and_spread_said_in_one_rounding() -> None:
    steady, noisy = Timing((12.3, 11.9, 14.0), warmups=3), Timing((10.0, 10.5, 13.0), warmups=3)
    assert (steady.median, steady.low, steady.high, steady.runs) == (12.3, 11.9, 14.0, 3)
    assert timing_text(steady) == "median 12.3 ms (spread 11.9–14.0 ms over 3 runs)"
    assert steady.spread == pytest.approx(2.1 / 12.3) and not steady.noisy and noisy_note("x", steady) is None
    assert noisy.spread == pytest.approx(3 / 10.5) and noisy.spread > NOISY_SPREAD and noisy.noisy
    assert noisy_note("resnet50, batch 16", noisy).startswith(
        "resnet50, batch 16: the runs spread over 10.0–13.0 ms, 29% of their median.")
    assert [format_ms(v) for v in (0.5123, 5.123, 51.23, 512.3, 5123.0)] == ["0.512", "5.12", "51.2", "512", "5,123"]
    assert [format_rate(v) for v in (0.6, 1.84, 9.94, 9.96, 18.2, 1234.4)] == ["0.6", "1.8", "9.9", "10", "18", "1,234"]
    with pytest.raises(ValueError, match="at least one run"):
        Timing((), warmups=1)


def test_the_summary_and_the_table_round_images_per_second_alike() -> None:
    """The issue's case: the sentence said "(1 vs 2 images/s)" where the table said 0.6 and 1.8."""
    def report(model: str, milliseconds: float) -> ThroughputReport:
        timing = Timing((milliseconds * 0.99, milliseconds, milliseconds * 1.01), THROUGHPUT_WARMUPS)
        return ThroughputReport(model, "cpu", (224, 224), 3, 4_000_000_000, (BatchTiming(1, timing, None),))

    slow, fast = report("resnet152", 1000 / 0.6), report("resnet18", 1000 / 1.8)
    (line,) = latency_lines(fast, slow)
    table = speed_table(fast, slow)
    assert [row["Images/s"] for row in table.rows] == ["1.8", "0.6"]
    assert "(0.6 vs 1.8 images/s)" in line
    assert [row["Latency (ms), median"] for row in table.rows] == ["556", "1,667"]
    assert [row["Fastest–slowest (ms)"] for row in table.rows] == ["550–561", "1,650–1,683"]


def test_throughput_is_batch_over_latency_for_every_batch() -> None:
    steps, texts = [], []
    report = measure_throughput(PRESETS["resnet18"], 32, "cpu", (1, 4),
                                lambda f, t, partial=None: (steps.append(f), texts.append(t)), repeats=2)
    assert [t.batch for t in report.timings] == [1, 4] and report.input_size == (32, 32)
    assert report.macs == layer_table(PRESETS["resnet18"], 32).totals.macs
    for t in report.timings:
        assert t.milliseconds > 0 and t.peak_bytes is None  # CPU: no peak counter
        assert t.images_per_second == pytest.approx(t.batch / (t.milliseconds / 1e3))
        assert report.gmacs_per_second(t) == pytest.approx(report.macs * t.images_per_second / 1e9)
    assert len(steps) == 2 * (THROUGHPUT_WARMUPS + 2) and steps[-1] == 1.0 and steps == sorted(steps)
    forwards = len(steps)
    assert texts[0] == f"resnet18, batch 1: forward 1 of {forwards}"
    assert texts[-1] == f"resnet18, batch 4: forward {forwards} of {forwards}"
    assert throughput_batches("cpu") == (1, 16) and throughput_batches("cuda") == (1, 64)


def test_both_models_are_measured_in_one_run_with_one_progress() -> None:
    fractions = []
    small, big = measure_throughputs((PRESETS["resnet18"], PRESETS["resnet152"]), 64, "cpu", (1, 8),
                                     lambda f, t, partial=None: fractions.append(f), repeats=3)
    assert big.macs > 4 * small.macs
    # No timing is compared: speed belongs to benchmarks/, and a loaded machine can invert any ratio.
    assert [t.batch for t in small.timings] == [t.batch for t in big.timings] == [1, 8]
    assert fractions[-1] == 1.0 and fractions == sorted(fractions) and fractions[len(fractions) // 2 - 1] == 0.5
    assert latency_lines(small, big)[1].startswith("Batch 8: **resnet152** takes ")


def test_a_batch_that_does_not_fit_is_refused_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.analysis.memory_needs import memory_need
    from explorer.runtime import memory
    from explorer.runtime.memory import DoesNotFit, MemoryLimit

    free = int(memory_need(PRESETS["resnet18"], 32, batch=8, params=1.0) / 0.8) + 1  # room for batch 8, not 64
    monkeypatch.setattr(memory, "device_memory", lambda device: MemoryLimit(free, free, "cgroup v2"))
    assert measure_throughput(PRESETS["resnet18"], 32, "cpu", (1, 8), repeats=1).timings[1].batch == 8
    steps = []
    with pytest.raises(DoesNotFit, match="with batch 64"):
        measure_throughput(PRESETS["resnet18"], 32, "cpu", (1, 64), lambda f, t, partial=None: steps.append(f), repeats=1)
    assert steps == []  # refused before any forward


def test_running_out_of_memory_all_the_same_is_refused_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.analysis import profiling
    from explorer.runtime.memory import DoesNotFit

    def out_of_memory(model, x, *args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(profiling, "time_runs", out_of_memory)
    with pytest.raises(DoesNotFit, match="resnet18 ran out of memory on cpu with batches up to 4"):
        measure_throughput(PRESETS["resnet18"], 32, "cpu", (1, 4))


@pytest.mark.gpu
def test_cuda_reports_peak_memory_growing_with_the_batch() -> None:
    report = measure_throughput(PRESETS["resnet18"], 64, "cuda", (1, 32), repeats=2)
    small, large = report.timings
    assert 0 < small.peak_bytes < large.peak_bytes


# ---- training cost ---------------------------------------------------------------------------


def test_training_memory_counts_three_copies_of_the_weights_and_the_batch_activations() -> None:
    table = layer_table(PRESETS["resnet18"], 224)
    memory = training_memory(table)
    assert memory.batch == TRAINING_BATCH == 32
    weights = 11_689_512 * 4
    assert (memory.weights_bytes, memory.gradient_bytes, memory.momentum_bytes) == (weights, weights, weights)
    assert memory.activation_bytes == 32 * table.totals.activation_bytes and memory.input_bytes == 32 * 3 * 224 * 224 * 4
    assert memory.total_bytes == memory_need(PRESETS["resnet18"], 224, batch=32, params=3.0)  # as the guard counts
    rows = training_memory_table(memory, training_memory(layer_table(PRESETS["resnet50"], 224))).rows
    assert [row[""] for row in rows] == ["Weights (float32)", "Gradients (one per weight)",
                                         "SGD momentum (one per weight)", "Activations kept for the backward, batch 32",
                                         "Input batch", "Total"]
    assert rows[0]["A: resnet18"] == human_bytes(weights) and rows[-1]["B / A"] == "3.96×"


def test_a_training_step_is_timed_on_a_private_model_with_its_runs() -> None:
    texts = []
    step = measure_training_step(cifar_resnet(8), 16, "cpu", 4, lambda f, t, partial=None: texts.append(t), repeats=3)
    assert (step.batch, step.input_size, step.peak_bytes) == (4, (16, 16), None)
    assert step.timing.runs == 3 and step.timing.warmups == TRAINING_WARMUPS
    assert step.images_per_second == pytest.approx(4 / (step.timing.median / 1e3))
    assert texts[-1] == f"cifar_resnet8, training batch 4: step {TRAINING_WARMUPS + 3} of {TRAINING_WARMUPS + 3}"
    with pytest.raises(ValueError, match="at least 2 .batch norm., got 1"):
        measure_training_step(cifar_resnet(8), 16, "cpu", 1)


def test_a_training_step_that_does_not_fit_is_refused_before_building(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.analysis import training_cost
    from explorer.runtime import memory
    from explorer.runtime.memory import DoesNotFit, MemoryLimit

    built = []
    monkeypatch.setattr(training_cost, "build_model", lambda *args, **kwargs: built.append(args))
    monkeypatch.setattr(memory, "device_memory", lambda device: MemoryLimit(2**20, 2**20, "cgroup v2"))
    with pytest.raises(DoesNotFit, match="A training step of resnet50 at 224×224 px with batch 8"):
        measure_training_step(PRESETS["resnet50"], 224, "cpu", 8)
    assert built == []


@pytest.mark.gpu
def test_a_cuda_training_step_peaks_above_weights_gradients_and_momentum() -> None:
    step = measure_training_step(PRESETS["resnet18"], 64, "cuda", 16, repeats=2)
    estimate = training_memory(layer_table(PRESETS["resnet18"], 64), batch=16)
    held = estimate.weights_bytes + estimate.gradient_bytes + estimate.momentum_bytes  # all alive at the SGD step
    assert held < step.peak_bytes < 3 * estimate.total_bytes


def test_both_models_inference_and_training_in_one_run_with_one_progress() -> None:
    fractions = []
    speeds = measure_speeds((cifar_resnet(8), cifar_resnet(14)), 16, "cpu", lambda f, t, partial=None: fractions.append(f))
    assert [r.model for r in speeds.inference] == [s.model for s in speeds.training] == ["cifar_resnet8", "cifar_resnet14"]
    assert [t.batch for t in speeds.inference[0].timings] == list(throughput_batches("cpu"))
    assert [s.batch for s in speeds.training] == [training_step_batch("cpu")] * 2 == [8, 8]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    (line,) = training_lines(*speeds.training)
    assert f"trains on {format_rate(speeds.training[1].images_per_second)} images/s" in line
    assert [row["Images/s"] for row in training_speed_table(*speeds.training).rows] == [
        format_rate(s.images_per_second) for s in speeds.training]


# ---- the hand-out ----------------------------------------------------------------------------


class Tables(HTMLParser):
    """Every <table>'s rows of cell texts, and every <h2>, from an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables, self.headings, self.scripts, self._cell, self._heading = [], [], [], None, None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "h2":
            self._heading = ""
        elif tag == "script":
            self.scripts.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell)
            self._cell = None
        elif tag == "h2":
            self.headings.append(self._heading)
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data
        if self._heading is not None:
            self._heading += data


def shown_rows(table) -> list[list[str]]:
    return [list(table.columns)] + [[cell_text(row[c], table.decimals.get(c)) for c in table.columns] for row in table.rows]


def test_the_handout_holds_the_library_numbers_and_opens_offline() -> None:
    a, b = layer_table(PRESETS["resnet18"], 224), layer_table(PRESETS["resnet50"], 224)
    page = comparison_html(a, b)
    parsed = Tables()
    parsed.feed(page)
    assert parsed.tables[0] == shown_rows(totals_table(a, b))
    assert parsed.tables[0][2][:3] == ["Parameters", "11,689,512", "25,557,032"]
    assert parsed.tables[1] == shown_rows(training_memory_table(training_memory(a), training_memory(b)))
    accuracy = shown_rows(accuracy_table({"A": weights_of(a.spec), "B": weights_of(b.spec)}))
    assert parsed.tables[2] == accuracy and ["B: resnet50", "IMAGENET1K_V2", "new recipe", "80.858", "95.434", "4.089",
                                             "25,557,032"] in accuracy
    assert parsed.headings == ["Where the difference goes", "Totals", "Training cost", "What the cost buys", "Conventions"]
    assert all("src" not in script for script in parsed.scripts)  # nothing fetched: plotly.js is inline
    assert page.count("Plotly.newPlot(") == 2 and "plotly.js v" in page  # the stage bars and the accuracy chart
    for line in explain_difference(a, b):
        assert inline(line) in page
    assert all(f'"{model}"' in page for model in zoo_models())  # every point's label
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page


def test_the_handout_speaks_the_readers_language_and_holds_measurements_when_given() -> None:
    a, b = layer_table(cifar_resnet(8), 16), layer_table(cifar_resnet(14), 16)
    speeds = measure_speeds((a.spec, b.spec), 16, "cpu")
    page = comparison_html(a, b, speeds, language="zh")  # a download runs outside the session: told the language
    parsed = Tables()
    parsed.feed(page)
    with in_language("zh"):
        assert parsed.headings[0] == _("Where the difference goes") != "Where the difference goes"
        assert shown_rows(speed_table(*speeds.inference)) in parsed.tables
        assert shown_rows(training_speed_table(*speeds.training)) in parsed.tables
    assert '<html lang="zh">' in page
    assert handout_name(a, b, measured=True) == "compare_cifar_resnet8_cifar_resnet14_16px_measured.html"
    custom = layer_table(PRESETS["resnet18"].with_changes(stages=(2, 2, 2, 1)), 64)
    assert re.fullmatch(r"compare_[A-Za-z0-9_.-]+_resnet18_64px\.html", handout_name(custom, layer_table(
        PRESETS["resnet18"], 64))), custom.spec.name


# ---- one image through both ------------------------------------------------------------


def test_image_through_uses_the_feature_maps_and_predict_code() -> None:
    spec = PRESETS["cifar_resnet20"]
    model = build_model(spec, seed=0)
    tensor = preprocess(decode_image(sample_images()["chelsea"].read_bytes()).image, Preprocessing.for_size(32)).tensor
    names = [f"class {i}" for i in range(10)]
    result = image_through(model, spec, tensor, names)
    assert [(s.stage, s.shape) for s in result.stages] == [
        ("stem", (16, 32, 32)), ("layer1", (16, 32, 32)), ("layer2", (32, 16, 16)), ("layer3", (64, 8, 8))]
    assert [p.key for p in stage_output_points(spec, 32)] == ["stem", "layer1.2", "layer2.2", "layer3.2"]
    with torch.no_grad():
        stem = model.relu(model.bn1(model.conv1(tensor[None])))[0]  # (16, 32, 32)
    assert result.stages[0].mean_map == pytest.approx(stem.mean(0).numpy(), abs=2e-3)  # float16 capture
    stretched = result.stages[2].stretched
    assert stretched.min() == 0 and stretched.max() == 1
    (expected,) = predict(model, spec, tensor, names)
    assert result.prediction.indices == expected.indices
    assert result.cam == pytest.approx(grad_cam(model, spec, tensor, expected.indices[0]))


# ---- the page (AppTest, offline) -----------------------------------------------------------


def frame_with(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_the_page_shows_the_meta_accuracy_and_the_chart() -> None:
    at = open_app("compare")
    accuracy = frame_with(at, "acc@1 (%)")
    expected = [(f"{label}: {m}", w, meta(m, w)["_metrics"]["ImageNet-1K"]["acc@1"],
                 meta(m, w)["_metrics"]["ImageNet-1K"]["acc@5"])
                for label, m, names in (("A", "resnet18", ["IMAGENET1K_V1"]),
                                        ("B", "resnet50", ["IMAGENET1K_V1", "IMAGENET1K_V2"])) for w in names]
    assert list(accuracy[["Model", "Weights", "acc@1 (%)", "acc@5 (%)"]].itertuples(index=False, name=None)) == expected
    assert any("it counts **MACs**" in c.value for c in at.caption)
    chart = json.loads(next(c for c in at.get("plotly_chart") if "Every torchvision ResNet" in c.proto.spec).proto.spec)
    assert sum(len(t["x"]) for t in chart["data"] if t["mode"] != "lines") == len(published_weights())
    at.radio(key="cmp_zoo_x").set_value("params").run()
    chart = json.loads(next(c for c in at.get("plotly_chart") if "Every torchvision ResNet" in c.proto.spec).proto.spec)
    assert chart["layout"]["xaxis"]["title"]["text"].startswith("parameters (millions")


def test_the_page_shows_training_memory_and_hands_out_the_comparison_in_its_readers_language(
        deferred_downloads) -> None:
    at = open_app("compare", lang="zh")
    assert not at.exception
    a, b = layer_table(PRESETS["resnet18"], 224), layer_table(PRESETS["resnet50"], 224)
    with in_language("zh"):
        expected = training_memory_table(training_memory(a), training_memory(b))
        memory = next(d.value for d in at.dataframe if _("SGD momentum (one per weight)") in list(d.value.iloc[:, 0]))
        heading = _("Where the difference goes")
    assert [list(row) for row in memory.itertuples(index=False)] == [list(r.values()) for r in expected.rows]
    (make,) = [make for make, name in deferred_downloads if name == "compare_resnet18_resnet50_224px.html"]
    page = make()  # made on click, outside the session: in the language the page was read in all the same
    assert '<html lang="zh">' in page and f"<h2>{heading}</h2>" in page


def test_a_custom_spec_says_it_has_no_published_weights() -> None:
    at = open_app("compare")
    at.selectbox(key="cmp_model_b_preset").select("custom…").run()
    at.text_input(key="cmp_model_b_stages").input("2,2,2,1").run()
    assert not at.exception
    assert any("B: **" in i.value and "no published weights for this spec" in i.value for i in at.info)
    assert list(frame_with(at, "acc@1 (%)")["Model"]) == ["A: resnet18"]


def test_the_measure_button_gives_inference_and_training_tables_for_both_models(deferred_downloads) -> None:
    at = open_app("compare")
    at.number_input(key="cmp_input").set_value(32).run()
    at.session_state["cmp_speed_open"] = True
    at.run()
    at.button(key="cmp_measure").click().run()
    assert not at.exception and not at.error
    speed = frame_with(at, "Latency (ms), median")
    assert list(zip(speed["Model"], speed["Batch"])) == [("A: resnet18", 1), ("A: resnet18", 16),
                                                          ("B: resnet50", 1), ("B: resnet50", 16)]
    assert (speed["Runs"] == THROUGHPUT_REPEATS).all() and (speed["Peak memory"] == "CUDA only").all()
    speeds = at.session_state["cmp_speed"][1]
    assert list(speed["Images/s"]) == [format_rate(t.images_per_second) for r in speeds.inference for t in r.timings]
    assert list(speed["Fastest–slowest (ms)"]) == [f"{format_ms(t.timing.low)}–{format_ms(t.timing.high)}"
                                                   for r in speeds.inference for t in r.timings]
    summary = " ".join(m.value for m in at.markdown)
    for line in latency_lines(*speeds.inference):  # the sentences' images/s are the table's strings
        assert line in summary
    big_a, big_b = speeds.inference[0].timings[1], speeds.inference[1].timings[1]
    assert (f"({format_rate(big_b.images_per_second)} vs {format_rate(big_a.images_per_second)} images/s)"
            in latency_lines(*speeds.inference)[1])
    training = frame_with(at, "Step (ms), median")
    assert list(training["Batch"]) == [8, 8] and list(training["Images/s"]) == [
        format_rate(s.images_per_second) for s in speeds.training]
    assert any("**resnet50** trains on" in m.value for m in at.markdown)
    assert [w.value for w in at.warning] == speeds.notes()  # a note for each timing whose runs disagree
    measured = next(make for make, name in deferred_downloads if name == "compare_resnet18_resnet50_32px_measured.html")
    assert "Fastest–slowest (ms)" in measured() and "Step (ms), median" in measured()


@pytest.mark.usefixtures("offline", "fresh_class_models")
def test_the_same_image_goes_through_both_models_with_random_weights(media: dict[str, bytes]) -> None:
    at = open_app("compare", timeout=300)
    expanders = at.main.get("expander")  # the page's own; the sidebar has the class expander
    assert all(not e.children for e in expanders)  # closed: nothing computed
    at.session_state["cmp_image_open"] = True
    at.run()
    # Offline, both models' ImageNet weights are missing: one banner for the two.
    banners = [w.value for w in at.warning if "fetch-weights" in w.value]
    assert len(banners) == 1 and "fetch-weights resnet18 resnet50" in banners[0], banners
    for prefix in ("cmp_a", "cmp_b"):
        at.radio(key=f"{prefix}_weights_kind").set_value("random").run()
    assert not at.exception
    stages = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "cmp_stages" in c.proto.id]
    assert [chart["layout"]["title"]["text"] for chart in stages] == [
        "A: resnet18 · random weights, seed 0", "B: resnet50 · random weights, seed 0"]
    assert [[t["name"] for t in chart["data"]] for chart in stages] == [
        ["stem · 64×56×56", "layer1 · 64×56×56", "layer2 · 128×28×28", "layer3 · 256×14×14", "layer4 · 512×7×7"],
        ["stem · 64×56×56", "layer1 · 256×56×56", "layer2 · 512×28×28", "layer3 · 1024×14×14", "layer4 · 2048×7×7"]]
    top5 = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "top-5" in c.proto.spec]
    assert [len(chart["data"][0]["y"]) for chart in top5] == [5, 5]
    assert [[a["text"] for a in chart["layout"]["annotations"] if a.get("name") == "untrained"] for chart in top5] == [
        ["untrained"], ["untrained"]]  # random weights: marked on the chart itself
    assert not [w for w in at.warning if "fetch-weights" in w.value]  # random weights were chosen: nothing is missing
    shown = [i.proto.imgs[0] for i in at.get("image") if i.proto.imgs[0].caption.startswith("Grad-CAM for “class ")]
    assert len(shown) == 2

    # A's picture is the library's Grad-CAM of the first sample over its crop.
    name, path = next(iter(sample_images().items()))
    assert at.selectbox(key="cmp_sample").value == name
    steps = preprocess(decode_image(path.read_bytes()).image, Preprocessing.for_size(224))
    spec = PRESETS["resnet18"]
    result = image_through(build_model(spec, seed=0), spec, steps.tensor, [f"class {i}" for i in range(1000)])
    assert shown[0].caption == (f"Grad-CAM for “{result.prediction.labels[0]}” — **untrained** network: "
                                "this map means nothing")
    pixels = np.asarray(Image.open(io.BytesIO(media[shown[0].url])).convert("RGB"), dtype=float)
    expected = np.asarray(overlay(steps.cropped, result.cam, alpha=0.45, greyed=True), dtype=float)
    plain = np.asarray(steps.cropped.convert("RGB"), dtype=float)
    assert np.abs(pixels - expected).mean() < 10 and np.abs(pixels - plain).mean() > 20  # JPEG: close, not equal


@pytest.mark.usefixtures("offline")
def test_a_capture_over_the_budget_is_a_sentence_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORER_CAPTURE_BUDGET_MB", "0")
    at = open_app("compare")
    at.session_state["cmp_image_open"] = True
    at.run()
    at.radio(key="cmp_a_weights_kind").set_value("random").run()
    at.number_input(key="cmp_a_seed").set_value(4321).run()  # a result no other test stored for the class
    assert not at.exception
    assert any(e.value.startswith("A: Capturing 5 maps needs") and "above the budget" in e.value for e in at.error)


@pytest.mark.usefixtures("offline")
def test_the_receptive_fields_of_both_models_on_the_same_picture() -> None:
    at = open_app("compare")
    at.number_input(key="cmp_input").set_value(96).run()
    at.session_state["cmp_image_open"] = True
    at.run()
    for prefix in ("cmp_a", "cmp_b"):
        at.radio(key=f"{prefix}_weights_kind").set_value("random").run()
    assert not any(s.key.endswith("rf_stage") for s in at.selectbox)  # off: nothing computed
    at.toggle(key="cmp_rf").set_value(True).run()
    assert not at.exception and not at.error
    for prefix, name in (("cmp_a", "resnet18"), ("cmp_b", "resnet50")):
        stage = at.selectbox(key=f"{prefix}_rf_stage").value
        row, column = at.slider(key=f"{prefix}_rf_row_{stage}").value, at.slider(key=f"{prefix}_rf_column_{stage}").value
        box = theoretical_receptive_field(PRESETS[name], stage, (row, column), 96)
        assert any(c.value.startswith(f"**{stage} ({row}, {column})** sees input rows {box.top}–{box.bottom} and "
                                      f"columns {box.left}–{box.right}") for c in at.caption), name
    sizes = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key.endswith("rf_sizes")}
    assert set(sizes) == {"cmp_a_rf_sizes", "cmp_b_rf_sizes"}


@pytest.mark.usefixtures("offline")
def test_two_checkpoint_models_stay_side_by_side_and_reruns_read_neither_again(
        trained_checkpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each upload is read (torch.load + sha256) once and its model loaded once; later reruns,
    with both models shown, read and load nothing (one session slot used to hold one model)."""
    from explorer.ui import inputs, models

    calls = {"read_checkpoint": 0, "torch.load": 0, "load_model": 0}

    def counting(name: str, function, counts=lambda *args: True):
        def wrapper(*args, **kwargs):
            calls[name] += counts(*args)
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(inputs, "read_checkpoint", counting("read_checkpoint", inputs.read_checkpoint))
    monkeypatch.setattr(torch, "load", counting("torch.load", torch.load))
    monkeypatch.setattr(models, "load_model", counting(  # the class's random-weights models are not counted
        "load_model", models.load_model, lambda spec, source, *rest: source.kind == "checkpoint"))
    other = io.BytesIO()
    torch.save(build_model(trained_checkpoint.spec, seed=1).state_dict(), other)

    two_classes = "cifar_resnet20;num_classes=2"
    at = open_app("compare", a=two_classes, b=two_classes)
    at.session_state["cmp_image_open"] = True
    at.run()
    for prefix, data in (("cmp_a", trained_checkpoint.data), ("cmp_b", other.getvalue())):
        at.radio(key=f"{prefix}_weights_kind").set_value("checkpoint").run()
        at.file_uploader(key=f"{prefix}_checkpoint").upload(f"{prefix}.pth", data).run()
    assert not at.exception and not at.error
    assert calls == {"read_checkpoint": 2, "torch.load": 2, "load_model": 2}
    at.run()
    at.toggle(key="cmp_rf").set_value(True).run()  # a rerun that uses both models again
    assert not at.exception and not at.error
    assert calls == {"read_checkpoint": 2, "torch.load": 2, "load_model": 2}
    kept = at.session_state[models.PRIVATE_MODELS]
    assert len(kept) == 2
    stages = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")
              if "cmp_stages" in c.proto.id]
    assert len(stages) == 2 and all("uploaded checkpoint" in title for title in stages) and stages[0] != stages[1]
