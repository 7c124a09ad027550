"""AppTest of the multipage app: home, Architecture and Compare, driven through app.py."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest
from torchvision.models import get_model_weights

from explorer.anatomy import layer_table
from explorer.presets import PRESETS
from explorer.spec import ResNetSpec
from explorer.table_format import BLOCK_COLUMNS, LAYER_COLUMNS, to_csv
from tests.conftest import open_app



def metric_help(at: AppTest, label: str) -> str:
    return next(m.proto.help for m in at.metric if m.label == label)


def test_home_explains_the_pages_and_the_device() -> None:
    at = open_app()
    text = " ".join(m.value for m in at.markdown)
    assert "residual blocks" in text
    assert any("Models run on" in i.value for i in at.info)
    assert at.selectbox(key="model_preset").value == "resnet50"


@pytest.mark.parametrize("name", ["resnet18", "resnet101", "wide_resnet50_2", "resnext50_32x4d"])
def test_switching_presets_gives_torchvisions_totals(name: str) -> None:
    at = open_app("architecture")
    at.selectbox(key="model_preset").select(name).run()
    assert not at.exception
    params = get_model_weights(name).DEFAULT.meta["num_params"]
    assert metric_help(at, "Parameters") == f"{params:,} parameters."
    macs = int(metric_help(at, "MACs (conv+linear)").split()[0].replace(",", ""))
    assert abs(macs / 1e9 - get_model_weights(name).DEFAULT.meta["_ops"]) < 0.001


def test_the_choice_survives_a_page_switch_and_lives_in_the_url() -> None:
    at = open_app()
    at.selectbox(key="model_preset").select("resnet50_caffe").run()
    assert at.query_params["model"] == "resnet50_caffe"
    at.switch_page("../pages/architecture.py").run()
    assert not at.exception
    assert metric_help(at, "MACs (conv+linear)").startswith("3,857,973,248 ")


def test_a_shared_link_opens_that_model() -> None:
    at = open_app("architecture", model="resnet50;stem=deep;stride_style=caffe", model_input="320")
    assert at.selectbox(key="model_preset").value == "custom…"
    assert at.number_input(key="model_input").value == 320
    spec = ResNetSpec(stem="deep", stride_style="caffe")
    expected = layer_table(spec, 320).totals.macs
    assert metric_help(at, "MACs (conv+linear)") == f"{expected:,} multiply-accumulates per image."


def test_a_broken_link_falls_back_with_a_warning() -> None:
    at = open_app(model="resnet50;stages=x")
    assert any("Ignoring the model in the link" in w.value for w in at.warning)
    assert at.selectbox(key="model_preset").value == "resnet50"
    assert at.query_params["model"] == "resnet50"


@pytest.mark.parametrize(("widget", "value", "message"), [
    ("model_stages", "2,0,2", "at least one block"),
    ("model_stages", "three", "whole numbers separated by commas"),
    ("model_planes", "64,0,256,512", "at least one channel"),
    ("model_stages", "10000", "far beyond any trained ResNet"),
])
def test_a_bad_custom_combination_shows_an_error_not_a_traceback(widget: str, value: str, message: str) -> None:
    at = open_app("architecture")
    at.selectbox(key="model_preset").select("custom…").run()
    at.text_input(key=widget).input(value).run()
    assert not at.exception
    assert any(message in e.value for e in at.error)


def test_impossible_depth_and_tiny_input_are_errors() -> None:
    at = open_app("architecture")
    at.selectbox(key="model_preset").select("custom…").run()
    at.radio(key="model_by").set_value("depth").run()
    at.number_input(key="model_depth").set_value(51).run()
    assert not at.exception
    assert any("nearest are 50 and 53" in e.value for e in at.error)
    at = open_app("architecture")
    at.number_input(key="model_input").set_value(8).run()
    assert not at.exception
    assert any("at least 32 pixels" in e.value for e in at.error)


def test_custom_fields_start_from_the_current_preset() -> None:
    at = open_app("architecture")
    at.selectbox(key="model_preset").select("resnext50_32x4d").run()
    at.selectbox(key="model_preset").select("custom…").run()
    assert at.number_input(key="model_groups").value == 32
    at.radio(key="model_style").set_value("caffe").run()
    assert at.query_params["model"] == "resnet50;groups=32;width_per_group=4;stride_style=caffe"


def test_csv_download_is_exactly_the_table_shown(downloads: list) -> None:
    at = open_app("architecture")
    csv_files = [data for data, name in downloads if name and name.endswith(".csv")]
    assert csv_files[-1].decode() == to_csv(layer_table(PRESETS["resnet50"], 224).rows, LAYER_COLUMNS)
    at.radio(key="arch_level").set_value("blocks").run()
    at.multiselect(key="arch_stage_filter").set_value(["layer2"]).run()
    assert not at.exception
    blocks = [b for b in layer_table(PRESETS["resnet50"], 224).blocks if b.stage == "layer2"]
    data, name = [d for d in downloads if d[1] and d[1].endswith(".csv")][-1]
    assert data.decode() == to_csv(blocks, BLOCK_COLUMNS)
    assert name == "resnet50_blocks_224px.csv"


def test_diagram_draws_projection_shortcuts_dashed_and_identity_solid() -> None:
    at = open_app("architecture")
    figure = next(c for c in at.get("plotly_chart") if "hover or click a block" in c.proto.spec)
    traces = json.loads(figure.proto.spec)["data"]
    dashes = [t["line"]["dash"] for t in traces if t.get("legendgroup") in ("projection", "identity")]
    assert dashes.count("dash") == 4  # first block of each stage of ResNet-50
    assert dashes.count("solid") == 16 - 4
    blocks = next(t for t in traces if t.get("name") == "blocks")
    assert blocks["customdata"][:2] == ["stem", "layer1.0"] and len(blocks["customdata"]) == 16 + 2


def test_counting_conventions_are_reconciled_on_the_page() -> None:
    at = open_app("architecture")
    frames = [d.value for d in at.dataframe]
    counts = next(f for f in frames if "torchinfo mult-adds" in f.columns)
    total = counts[counts["Layer type"] == "total"].iloc[0]
    table = layer_table(PRESETS["resnet50"], 224)
    bn_affine = sum(r.params for r in table.rows if r.type == "BatchNorm2d")
    assert total["Explorer MACs"] == table.totals.macs
    assert total["torchinfo mult-adds"] == table.totals.macs + bn_affine + 1000
    assert total["FlopCounterMode FLOPs"] == 2 * table.totals.macs
    assert total["thop MACs"] > table.totals.macs


def test_paper_table_is_computed_for_both_stride_styles() -> None:
    at = open_app("architecture")
    paper = next(d.value for d in at.dataframe if "152-layer" in d.value.columns)
    caffe = paper[paper["layer"].str.startswith("GMACs, stride on 1x1")].iloc[0]
    assert caffe["50-layer"] == "3.86" and caffe["152-layer"] == "11.28"


def test_measured_cost_times_every_layer() -> None:
    at = open_app("architecture", model="resnet18", model_input="64")
    at.button(key="arch_measure").click().run()
    assert not at.exception
    assert any(m.label == "Whole forward (no hooks)" for m in at.metric)
    tables = [d.value for d in at.dataframe if "Latency (ms)" in d.value.columns]
    assert len(tables) == 2  # coloured on the layer table, and in the measured-cost tab
    assert all(len(t) == len(layer_table(PRESETS["resnet18"], 64).rows) for t in tables)
    assert all((t["Latency (ms)"] >= 0).all() for t in tables)


def test_compare_defaults_to_resnet18_vs_resnet50() -> None:
    at = open_app("compare")
    assert at.selectbox(key="a_preset").value == "resnet18" and at.selectbox(key="b_preset").value == "resnet50"
    totals = next(d.value for d in at.dataframe if "B / A" in d.value.columns).set_index("")
    assert totals.loc["Parameters", "A: resnet18"] == 11_689_512
    assert totals.loc["Parameters", "B: resnet50"] == 25_557_032
    assert totals.loc["MACs (conv+linear)", "B − A"] == 4_089_184_256 - 1_814_073_344
    explanation = " ".join(m.value for m in at.markdown)
    assert "2.19× the parameters" in explanation and "expansion 4" in explanation
    bars = next(c for c in at.get("plotly_chart") if "Parameters (M)" in c.proto.spec)
    assert "resnet18" in bars.proto.spec and "resnet50" in bars.proto.spec


def test_compare_follows_its_pickers_and_reports_errors() -> None:
    at = open_app("compare")
    at.selectbox(key="b_preset").select("resnet152").run()
    totals = next(d.value for d in at.dataframe if "B / A" in d.value.columns).set_index("")
    assert totals.loc["Parameters", "B: resnet152"] == 60_192_808
    at.selectbox(key="a_preset").select("custom…").run()
    at.text_input(key="a_stages").input("1,-1").run()
    assert not at.exception
    assert any("at least one block" in e.value for e in at.error)
