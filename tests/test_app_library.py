"""The pure pieces behind the pages: URL tokens, comparison, conventions, Table 1, costs, charts."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from explorer.analysis.anatomy import layer_table
from explorer.model.build import build_model
from explorer.figures.architecture import architecture_diagram, heat_css, latency_chart, shape_flow_chart, stage_bars
from explorer.analysis.compare import (
    accuracy_table, aligned_stages, anatomy_table, explain_difference, stages_table, totals_diff, totals_table,
)
from explorer.analysis.conventions import RESIDUAL_ADD, count_conventions, counts_table
from explorer.analysis import predict as predict_module
from explorer.analysis import profiling, timing
from explorer.runtime.devices import DeviceKind, describe_device, pick_device, synchronize
from explorer.runtime.memory import RESERVATIONS, DoesNotFit
from explorer.analysis.paper_table import PAPER_GFLOPS, paper_table1, paper_table1_rows
from explorer.model.presets import PRESETS, cifar_resnet, resnet_for_depth
from explorer.analysis.profiling import cost_table, costs_of, measure_layer_costs
from explorer.model.spec import ResNetSpec
from explorer.model.token import spec_from_token, spec_to_token
from explorer.analysis.zoo import weights_of


@pytest.mark.parametrize("spec", [
    PRESETS["resnet50"], PRESETS["cifar_resnet110"], ResNetSpec(stride_style="caffe", stem="deep", avg_down=True),
    resnet_for_depth(26), cifar_resnet(56, shortcut="C"), ResNetSpec(stages=(1, 1, 1), block="basic"),
    ResNetSpec(dilate=(False, True, True), num_classes=2, zero_init_residual=True, in_channels=1),
    ResNetSpec(groups=8, width_per_group=16, stage_planes=(32, 64, 128, 256), stem_width=32),
])
def test_url_tokens_round_trip(spec: ResNetSpec) -> None:
    token = spec_to_token(spec)
    assert spec_from_token(token) == spec
    assert " " not in token


@pytest.mark.parametrize(("token", "message"), [
    ("resnet51", "Unknown preset"), ("resnet50;depth=3", "ResNetSpec field"), ("resnet50;groups=x", "not a number"),
    ("resnet50;stages=1,0", "at least one block"), ("resnet50;stem", "field=value"),
])
def test_bad_url_tokens_say_what_is_wrong(token: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec_from_token(token)


def test_comparison_numbers_come_from_the_tables() -> None:
    a, b = layer_table(PRESETS["resnet18"], 224), layer_table(PRESETS["resnet50"], 224)
    diffs = {d.metric: d for d in totals_diff(a, b)}
    assert diffs["Parameters"].difference == 25_557_032 - 11_689_512
    assert diffs["MACs (conv+linear)"].ratio == pytest.approx(4_089_184_256 / 1_814_073_344)
    pairs = aligned_stages(a, b)
    assert [p.name for p in pairs] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(p.b_macs - p.a_macs for p in pairs) == b.totals.macs - a.totals.macs
    text = " ".join(explain_difference(a, b))
    assert "2.25× the MACs" in text and "**layer3**" in text and "46%" in text
    assert "513,000 vs 2,049,000 parameters" in text
    assert "**layer4**: 8.39 M → 14.96 M" in text  # rounded where the change shows


def test_a_change_too_small_to_show_rounded_is_written_exactly() -> None:
    a, b = layer_table(PRESETS["resnet50"], 224), layer_table(PRESETS["resnetv2_50"], 224)
    text = " ".join(explain_difference(a, b))
    layer4 = next(s for s in aligned_stages(a, b) if s.name == "layer4")
    assert f"**layer4**: {layer4.a_params:,} → {layer4.b_params:,}" in text


def test_the_compare_tables_hold_the_comparisons_numbers() -> None:
    a, b = layer_table(PRESETS["resnet18"], 224), layer_table(PRESETS["resnet50"], 224)
    totals = {row[""]: row for row in totals_table(a, b).rows}
    assert totals["Parameters"]["B − A"] == 25_557_032 - 11_689_512 and totals["Parameters"]["B / A"] == "2.19×"
    stages = stages_table(aligned_stages(a, b))
    assert [row["stage"] for row in stages.rows] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(row["B − A MACs"] for row in stages.rows) == b.totals.macs - a.totals.macs
    anatomy = anatomy_table(b)
    assert [row["stage"] for row in anatomy.rows] == ["layer1", "layer2", "layer3", "layer4"]
    accuracy = accuracy_table({"A": weights_of(a.spec), "B": weights_of(b.spec)})
    assert [row["Model"] for row in accuracy.rows] == ["A: resnet18", "B: resnet50", "B: resnet50"]
    assert accuracy.decimals == {"acc@1 (%)": 3, "acc@5 (%)": 3, "GMACs": 3}
    assert accuracy_table({"A": (), "B": ()}) is None


def test_comparison_aligns_models_with_different_stage_counts() -> None:
    a, b = layer_table(PRESETS["cifar_resnet20"], 32), layer_table(PRESETS["resnet18"], 32)
    pairs = {p.name: p for p in aligned_stages(a, b)}
    assert list(pairs) == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert pairs["layer4"].a_blocks is None and pairs["layer4"].a_macs == 0 and pairs["layer4"].b_blocks == 2
    assert explain_difference(a, a)[0].startswith("**cifar_resnet20** has 20")


@pytest.mark.parametrize(("spec", "size"), [(PRESETS["resnet50"], 224), (PRESETS["resnet50d"], 160), (cifar_resnet(20), 32)])
def test_conventions_reconcile_exactly(spec: ResNetSpec, size: int) -> None:
    table = layer_table(spec, size)
    conventions = count_conventions(table)
    rows = {r.layer_type: r for r in conventions.rows}
    assert conventions.total("explorer") == table.totals.macs
    bn = sum(r.params for r in table.rows if r.type == "BatchNorm2d")
    assert conventions.total("torchinfo") == table.totals.macs + bn + spec.num_classes
    assert conventions.total("flop_counter") == 2 * table.totals.macs
    assert rows["Conv2d"].thop == rows["Conv2d"].explorer and rows["Linear"].thop == rows["Linear"].explorer
    assert rows["BatchNorm2d"].thop > 0 and rows["ReLU"].thop == 0
    adds = sum(math.prod(b.out_shape) for b in table.blocks if b.block is not None)
    assert f"{adds:,} additions" in rows[RESIDUAL_ADD].explanation
    assert all(r.explanation for r in conventions.rows)
    shown = counts_table(conventions)
    assert shown.rows[-1]["Layer type"] == "total" and shown.rows[-1]["Explorer MACs"] == table.totals.macs


def test_paper_table_recomputes_table_1() -> None:
    rows, headers = paper_table1()
    shown = paper_table1_rows()
    assert shown.columns == ("layer", "output size", *headers) and len(shown.rows) == len(rows)
    assert headers == ("18-layer", "34-layer", "50-layer", "101-layer", "152-layer")
    by_layer = {r.layer: r for r in rows}
    assert by_layer["conv1"].output_size == "112×112"
    assert by_layer["conv4_x (layer3)"].cells[3] == "[1x1,256, 3x3,256, 1x1,1024] × 23"
    caffe = [float(v) for v in by_layer["GMACs, stride on 1x1 (caffe, v1)"].cells]
    for value, depth in zip(caffe, PAPER_GFLOPS):
        assert abs(value - PAPER_GFLOPS[depth]) / PAPER_GFLOPS[depth] < 0.02


def test_measured_cost_has_one_entry_per_table_row() -> None:
    report = measure_layer_costs(PRESETS["resnet18"], 64, "cpu", batch=2, repeats=2)
    rows = layer_table(PRESETS["resnet18"], 64).rows
    assert [(c.name, c.call) for c in report.layers] == [(r.name, r.call) for r in rows]
    assert all(c.milliseconds >= 0 for c in report.layers) and report.forward_milliseconds > 0
    assert report.peak_bytes is None and all(c.peak_bytes is None for c in report.layers)


def test_per_layer_times_follow_the_work_not_the_hooks() -> None:
    """A conv of 29 M MACs takes longer than a ReLU over 50 k numbers: the typical conv's median is
    well above the typical ReLU's (medians of medians: a loaded machine can slow any one run)."""
    spec = PRESETS["resnet18"]
    report = measure_layer_costs(spec, 112, "cpu", repeats=5)
    kinds = {(r.name, r.call): r.type for r in layer_table(spec, 112).rows}
    medians = {kind: statistics.median(c.milliseconds for c in report.layers if kinds[(c.name, c.call)] == kind)
               for kind in ("Conv2d", "ReLU")}
    assert medians["Conv2d"] > 20 * medians["ReLU"]  # ~100× on an idle CPU; a fixed overhead per call would bring it near 1
    assert report.repeats == 5 and report.forward.runs == 5 and report.forward.warmups == profiling.FORWARD_WARMUPS
    for cost in report.layers:  # every layer carries its runs: a median within its fastest and slowest
        assert cost.timing.runs == 5 and cost.timing.warmups == profiling.LAYER_WARMUPS
        assert cost.timing.low <= cost.milliseconds == statistics.median(cost.timing.samples) <= cost.timing.high
    assert 0 <= report.clock_milliseconds < min(c.milliseconds for c in report.layers if kinds[(c.name, c.call)] ==
                                                 "Conv2d")


def test_the_cost_table_joins_measurements_to_layers_by_name_and_call() -> None:
    spec = PRESETS["resnet18"]
    report = measure_layer_costs(spec, 64, "cpu", batch=1, repeats=1)
    table = layer_table(spec, 64)
    costs = cost_table(report, table)
    assert [row["Name"] for row in costs.rows][:5] == [c.label for c in report.layers][:5]
    assert "Peak memory (bytes)" not in costs.columns  # measured on CUDA only
    first = costs.rows[0]
    assert (first["Latency (ms)"], first["Fastest (ms)"], first["Slowest (ms)"]) == tuple(
        round(v, 3) for v in (report.layers[0].milliseconds, report.layers[0].timing.low, report.layers[0].timing.high))
    reused = next(r for r in table.rows if r.call == 1)  # BasicBlock's relu, called twice
    assert costs_of(report, [reused])[0].label == f"{reused.name} (call 2)"
    other = layer_table(PRESETS["resnet34"], 64)
    with pytest.raises(ValueError, match="no measurement of layer1.2.conv1"):
        cost_table(report, other)


@pytest.mark.gpu
def test_measured_cost_on_cuda_uses_events_and_reports_peak_memory() -> None:
    report = measure_layer_costs(PRESETS["resnet50"], 224, "cuda", batch=8)
    assert report.peak_bytes and report.peak_bytes > 8 * 3 * 224 * 224 * 4
    conv1 = next(c for c in report.layers if c.name == "conv1")
    assert conv1.peak_bytes >= 8 * 64 * 112 * 112 * 4  # its float32 output at least


def test_memory_guard_refuses_politely_against_the_real_limit() -> None:
    from explorer.analysis.memory_needs import LOWER_BATCH, memory_need, reserved

    totals = layer_table(PRESETS["resnet18"], 224).totals
    assert memory_need(PRESETS["resnet18"], 224, batch=2, params=3.0, activations=2.0) == (
        3 * totals.param_bytes + 2 * 2 * totals.activation_bytes + 2 * 3 * 224 * 224 * 4)
    with pytest.raises(DoesNotFit, match=r"^Training resnet152 needs about .* GiB but only .* is free for it on this "
                                         r"server \((cgroup v[12]|host) limit .*\)\. Use a smaller input size, a "
                                         r"smaller model or a smaller batch\.$"):
        with reserved(PRESETS["resnet152"], 4096, "cpu", "Training resnet152", LOWER_BATCH, batch=64):
            pass
    with reserved(PRESETS["cifar_resnet20"], 32, "cpu", "A tiny model", LOWER_BATCH) as held:
        assert RESERVATIONS.held("cpu") >= held > 0
    assert RESERVATIONS.held("cpu") == 0


def test_device_description() -> None:
    info = describe_device()
    assert info.device == pick_device() and info.kind is DeviceKind.of(pick_device())
    assert info.label


@pytest.mark.parametrize("device, kind", [
    ("cuda", DeviceKind.CUDA), ("cuda:1", DeviceKind.CUDA), (torch.device("cuda", 0), DeviceKind.CUDA),
    ("mps", DeviceKind.MPS), (torch.device("mps"), DeviceKind.MPS), ("cpu", DeviceKind.CPU),
])
def test_synchronize_waits_for_the_kind_of_device_it_is_given(monkeypatch: pytest.MonkeyPatch, device,
                                                              kind: DeviceKind) -> None:
    waited = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waited.append(DeviceKind.CUDA))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waited.append(DeviceKind.MPS))
    assert DeviceKind.of(device) is kind
    synchronize(device)
    assert waited == ([] if kind is DeviceKind.CPU else [kind])  # a CPU computes synchronously


def test_a_device_the_app_does_not_compute_on_is_named() -> None:
    with pytest.raises(ValueError, match="'meta' is not one the app computes on; use one of cuda, mps, cpu"):
        DeviceKind.of("meta")


def test_timings_synchronise_the_device_around_every_timed_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    waited = []
    for module in (profiling, timing, predict_module):
        monkeypatch.setattr(module, "synchronize", lambda device: waited.append(DeviceKind.of(device)))
    profiling.measure_throughput(cifar_resnet(8), 16, "cpu", (1,), repeats=2)
    assert waited == [DeviceKind.CPU] * 4  # before and after each of two repeats
    waited.clear()
    predict_module.predict(build_model(cifar_resnet(8)).eval(), cifar_resnet(8), torch.zeros(3, 16, 16), [str(i) for i in range(10)])
    assert waited == [DeviceKind.CPU]
    waited.clear()
    report = profiling.measure_layer_costs(cifar_resnet(8), 16, "cpu", repeats=1)
    # The timed whole forward (before and after); in each hooked forward, two clock readings around each of a
    # layer call's back-to-back calls and one at its end; two readings and one wait for each empty span.
    hooked = (profiling.LAYER_WARMUPS + 1) * (2 * profiling.LAYER_CALLS * len(report.layers) + 1)
    assert len(waited) == 2 + hooked + 3 * profiling.CLOCK_RUNS


def test_charts_are_built_from_the_tables() -> None:
    table = layer_table(PRESETS["resnet152"], 224)
    diagram = architecture_diagram(table)
    blocks = next(t for t in diagram.data if t.name == "blocks")
    # layer3 has 36 blocks: 4 + last are drawn, 31 elided in one "⋮" box.
    assert sum(name.startswith("layer3.") for name in blocks.customdata) == 5
    assert any("31 more" in a.text for a in diagram.layout.annotations)
    flow = shape_flow_chart(table)
    assert list(flow.data[0].y)[-1] == 2048 and list(flow.data[1].y)[-1] == 7
    pairs = aligned_stages(layer_table(PRESETS["resnet18"], 224), table)
    assert len(stage_bars(pairs, "a", "b").data) == 6
    report = measure_layer_costs(PRESETS["cifar_resnet20"], 32, "cpu", repeats=1)
    assert len(latency_chart(report, top=5).data[0].x) == 5
    assert heat_css(5, 10).startswith("background-color") and heat_css(1, 0) == ""


def test_option_a_diagram_uses_the_dotted_style() -> None:
    diagram = architecture_diagram(layer_table(cifar_resnet(20), 32))
    styles = {t.legendgroup: t.line.dash for t in diagram.data if t.legendgroup}
    assert styles == {"identity": "solid", "zero-pad": "dot"}



def test_counting_installs_no_global_module_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Global hooks would fire on every other session's forward pass; counting must work without them."""
    from torch.nn.modules import module as torch_module
    from torch.utils.flop_counter import FlopCounterMode

    class Refusing(dict):
        def __setitem__(self, key, value):
            raise AssertionError("a global module hook was registered")

    for name in ("_global_forward_pre_hooks", "_global_forward_hooks", "_global_backward_pre_hooks",
                 "_global_backward_hooks"):
        monkeypatch.setattr(torch_module, name, Refusing())
    table = layer_table(PRESETS["resnet18"], 64)
    conventions = count_conventions(table)
    monkeypatch.undo()
    with FlopCounterMode(display=False) as counter, torch.no_grad():  # the reference, in the test's own thread
        build_model(PRESETS["resnet18"], "meta")(torch.empty(1, 3, 64, 64, device="meta"))
    assert conventions.total("flop_counter") == counter.get_total_flops() == 2 * table.totals.macs
