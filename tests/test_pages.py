"""AppTest of the multipage app: home, Architecture and Compare, driven through app.py."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import parse_qsl, urlencode

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Widget

from explorer.ui import picker
from explorer.analysis.anatomy import layer_table
from explorer.ui.lesson import FAMILY_LESSON, LESSON, PAGE_SUMMARIES
from explorer.model.presets import PRESETS
from explorer.model.spec import ResNetSpec
from explorer.model.token import spec_from_token
from explorer.runtime.i18n import SESSION_KEY
from explorer.analysis.profiling import cost_notes
from explorer.analysis.table_format import BLOCK_COLUMNS, LAYER_COLUMNS, PAGE_ROWS, to_csv
from explorer.analysis.timing import timing_text
from tests.conftest import open_app, open_tab, shown



def metric_help(at: AppTest, label: str) -> str:
    return next(m.proto.help for m in at.metric if m.label == label)


def test_home_explains_the_pages_and_the_device() -> None:
    at = open_app()
    text = " ".join(m.value for m in at.markdown)
    assert "residual blocks" in text
    assert any("Models run on" in i.value for i in at.info)
    assert at.selectbox(key="model_preset").value == "resnet50"


@pytest.mark.parametrize("name", ["resnet18", "resnet101", "wide_resnet50_2", "resnext50_32x4d"])
def test_switching_presets_shows_that_presets_totals(name: str) -> None:
    # That the totals are torchvision's is test_anatomy's test_totals_equal_the_published_params_and_macs.
    at = open_app("architecture")
    at.selectbox(key="model_preset").select(name).run()
    assert not at.exception
    totals = layer_table(PRESETS[name], 224).totals
    assert metric_help(at, "Parameters") == f"{totals.params:,} parameters."
    assert metric_help(at, "MACs (conv+linear)").startswith(f"{totals.macs:,} ")


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
    assert any(message in shown(e.value) for e in at.error)


def test_impossible_depth_and_tiny_input_are_errors() -> None:
    at = open_app("architecture")
    at.selectbox(key="model_preset").select("custom…").run()
    at.radio(key="model_by").set_value("depth").run()
    at.number_input(key="model_depth").set_value(51).run()
    assert not at.exception
    assert any("nearest are 50 and 53" in shown(e.value) for e in at.error)
    at = open_app("architecture")
    at.number_input(key="model_input").set_value(8).run()
    assert not at.exception
    assert any("at least 32 pixels" in shown(e.value) for e in at.error)


def test_custom_fields_start_from_the_current_preset() -> None:
    at = open_app("architecture")
    at.selectbox(key="model_preset").select("resnext50_32x4d").run()
    at.selectbox(key="model_preset").select("custom…").run()
    assert at.number_input(key="model_groups").value == 32
    at.radio(key="model_style").set_value("caffe").run()
    assert at.query_params["model"] == "resnet50;groups=32;width_per_group=4;stride_style=caffe"


def test_csv_download_is_exactly_the_table_shown_and_encoded_on_click(downloads: list, deferred_downloads: list) -> None:
    at = open_app("architecture")
    encode, name = deferred_downloads[-1]
    assert encode() == to_csv(layer_table(PRESETS["resnet50"], 224).rows, LAYER_COLUMNS)
    assert name == "resnet50_layers_224px.csv"
    at.radio(key="arch_level").set_value("blocks").run()
    at.multiselect(key="arch_stage_filter").set_value(["layer2"]).run()
    assert not at.exception
    blocks = [b for b in layer_table(PRESETS["resnet50"], 224).blocks if b.stage == "layer2"]
    encode, name = deferred_downloads[-1]
    assert encode() == to_csv(blocks, BLOCK_COLUMNS)
    assert name == "resnet50_blocks_224px.csv"
    assert not [n for _, n in downloads if n and n.endswith(".csv")]  # nothing encoded before a click


def test_a_long_table_is_shown_a_page_at_a_time_and_the_csv_holds_it_all(deferred_downloads: list) -> None:
    rows = layer_table(PRESETS["cifar_resnet1202"], 32).rows
    assert len(rows) == 3607
    at = open_app("architecture", model="cifar_resnet1202", model_input="32")
    page = at.number_input(key="arch_page")
    assert (page.value, page.max) == (1, 8)
    shown = at.dataframe[0].value
    assert len(shown) == PAGE_ROWS == 500 and list(shown["Name"][:2]) == ["conv1", "bn1"]
    assert len(deferred_downloads[-1][0]().splitlines()) == 1 + 3607
    page.set_value(8).run()
    shown = at.dataframe[0].value
    assert len(shown) == 3607 - 7 * 500
    assert list(shown["#"]) == [r.index for r in rows[3500:]] and shown["Name"].iloc[-1] == "fc"
    assert any("Rows 3,501–3,607 of 3,607 (page 8 of 8)" in c.value for c in at.caption)
    # One stage of 200 blocks (1,201 rows: 6 a block and layer2.0's zero-pad shortcut) has 3
    # pages: page 8 becomes the last.
    at.multiselect(key="arch_stage_filter").set_value(["layer2"]).run()
    layer2 = [r for r in rows if r.stage == "layer2"]
    assert len(layer2) == 1201
    assert (at.number_input(key="arch_page").value, at.number_input(key="arch_page").max) == (3, 3)
    assert list(at.dataframe[0].value["Name"]) == [r.name for r in layer2[1000:]]
    assert deferred_downloads[-1][0]() == to_csv(layer2, LAYER_COLUMNS)
    at.radio(key="arch_level").set_value("blocks").run()  # 200 block rows: one page, no page picker
    assert len(at.dataframe[0].value) == 200 and "arch_page" not in [n.key for n in at.number_input]


def test_closed_tabs_compute_nothing(spy) -> None:
    from explorer.figures import architecture as architecture_figures
    from explorer.analysis import paper_table as paper
    from explorer.analysis import profiling
    from explorer.ui import models

    spies = {name: spy(module, name) for module, name in (
        (models, "cached_conventions"), (paper, "paper_table1"), (architecture_figures, "architecture_diagram"),
        (architecture_figures, "shape_flow_chart"), (profiling, "measure_layer_costs"))}

    def calls() -> Counter[str]:
        return Counter({name: len(made) for name, made in spies.items() if made})

    at = open_app("architecture", model="resnet18", model_input="64")
    assert calls() == Counter() and len(at.dataframe) == 1 and not at.get("plotly_chart")
    expected = Counter()
    for label, name in (("Diagram", "architecture_diagram"), ("Shape flow", "shape_flow_chart"),
                        ("Paper Table 1", "paper_table1"), ("Counting conventions", "cached_conventions")):
        open_tab(at, label)
        expected[name] += 1
        assert calls() == expected, label
    open_tab(at, "Measured cost")
    assert calls() == expected  # measuring waits for its button
    at.button(key="arch_measure").click().run()
    assert calls() == expected + Counter(measure_layer_costs=1)


def test_diagram_draws_projection_shortcuts_dashed_and_identity_solid() -> None:
    at = open_tab(open_app("architecture"), "Diagram")
    figure = next(c for c in at.get("plotly_chart") if "hover or click a block" in c.proto.spec)
    traces = json.loads(figure.proto.spec)["data"]
    dashes = [t["line"]["dash"] for t in traces if t.get("legendgroup") in ("projection", "identity")]
    assert dashes.count("dash") == 4  # first block of each stage of ResNet-50
    assert dashes.count("solid") == 16 - 4
    blocks = next(t for t in traces if t.get("name") == "blocks")
    assert blocks["customdata"][:2] == ["stem", "layer1.0"] and len(blocks["customdata"]) == 16 + 2


def test_counting_conventions_are_reconciled_on_the_page() -> None:
    at = open_tab(open_app("architecture"), "Counting conventions")
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
    at = open_tab(open_app("architecture"), "Paper Table 1")
    (table,) = at.table  # static: its cells wrap, so no depth's column and no block cell is cut off
    paper = table.value
    assert not any("152-layer" in d.value.columns for d in at.dataframe)
    caffe = paper[paper["layer"].str.startswith("GMACs, stride on 1x1")].iloc[0]
    assert caffe["50-layer"] == "3.86" and caffe["152-layer"] == "11.28"
    assert paper[paper["layer"] == "conv5_x (layer4)"].iloc[0]["152-layer"] == "[1x1,512, 3x3,512, 1x1,2048] × 3"


def test_a_clicked_blocks_layers_show_thousands_separators() -> None:
    from streamlit.util import AttributeDictionary as Attributes

    at = open_tab(open_app("architecture", model="resnet18", model_input="64"), "Diagram")
    points = [{"customdata": "layer2.0"}]  # what a click on the layer2.0 box selects
    at.session_state["arch_diagram"] = Attributes(selection=Attributes(points=points, point_indices=[], box=[], lasso=[]))
    at.run()
    assert not at.exception
    (layers,) = at.dataframe
    assert layers.value["Name"].iloc[0] == "layer2.0.conv1" and layers.value["Params"].max() == 147_456
    formats = {label: config.get("type_config", {}).get("format") for label, config in json.loads(layers.proto.columns).items()}
    assert formats["Params"] == formats["MACs (conv+linear)"] == formats["Activation (bytes, fp32)"] == "localized"


def test_the_head_rows_wider_receptive_field_is_explained_with_its_numbers() -> None:
    at = open_app("architecture", model="resnet18")
    table = layer_table(PRESETS["resnet18"], 224)
    head = next(r for r in table.rows if r.name == "fc").rf_size
    sums = f"{table.totals.rf_size} + (7 − 1) × {table.totals.output_stride} = {head} px"
    assert head == 627 and sums == "435 + (7 − 1) × 32 = 627 px"
    assert any(sums in c.value for c in at.caption)  # under the layer table
    (field,) = [m for m in at.metric if m.label == "Receptive field"]
    assert field.value == "435 px" and sums in field.proto.help


def test_measured_cost_times_every_layer_and_colours_the_layer_table() -> None:
    at = open_tab(open_app("architecture", model="resnet18", model_input="64"), "Measured cost")
    at.button(key="arch_measure").click().run()
    assert not at.exception
    assert any(m.label == "Whole forward (no hooks)" for m in at.metric)
    rows = layer_table(PRESETS["resnet18"], 64).rows
    measured = next(d.value for d in at.dataframe if "Latency (ms)" in d.value.columns)
    assert ((measured["Fastest (ms)"] <= measured["Latency (ms)"]) & (measured["Latency (ms)"] <= measured["Slowest (ms)"])).all()
    report = at.session_state["arch_cost"][1]
    assert any(c.value == f"Whole forward: {timing_text(report.forward)}." for c in at.caption)
    assert f"over {report.repeats} runs" in timing_text(report.forward)
    assert [w.value for w in at.warning] == cost_notes(report)  # a note where the runs disagree
    open_tab(at, "Layer table")
    coloured = at.dataframe[0].value
    for table in (measured, coloured):
        assert len(table) == len(rows) and (table["Latency (ms)"] >= 0).all()
    assert list(coloured["Latency (ms)"]) == list(measured["Latency (ms)"])


def test_compare_defaults_to_resnet18_vs_resnet50() -> None:
    at = open_app("compare")
    assert at.selectbox(key="cmp_model_a_preset").value == "resnet18" and at.selectbox(key="cmp_model_b_preset").value == "resnet50"
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
    at.selectbox(key="cmp_model_b_preset").select("resnet152").run()
    totals = next(d.value for d in at.dataframe if "B / A" in d.value.columns).set_index("")
    assert totals.loc["Parameters", "B: resnet152"] == 60_192_808
    at.selectbox(key="cmp_model_a_preset").select("custom…").run()
    at.text_input(key="cmp_model_a_stages").input("1,-1").run()
    assert not at.exception
    assert any("at least one block" in shown(e.value) for e in at.error)


def test_home_lists_every_page_and_links_the_lesson_in_order() -> None:
    at = open_app()
    links = [link.proto for link in at.get("page_link")]
    titled = [link.label for link in links if not link.query_string]
    assert titled == [f"**{summary.title}**" for summary in PAGE_SUMMARIES]  # English: the marked text itself
    assert [summary.page for summary in PAGE_SUMMARIES] == [name for name in picker.pages() if name != "home"]
    url_path = {name: name.replace("_", "-") for name in picker.pages()}  # as pages() names the addresses
    lesson = [(link.page, link.label, link.query_string) for link in links if link.query_string]
    assert lesson == [(url_path[step.page], f"**{number}. {step.label}**", urlencode(step.query_params))
                      for steps in (LESSON, FAMILY_LESSON) for number, step in enumerate(steps, start=1)]
    assert [step.page for step in LESSON] == ["architecture", "compare", "feature_maps", "zero_init", "predict"]


# A picker's URL parameter and the prefix of its widgets' keys (the page's prefix, then the picker's).
PICKER_KEY_PREFIX = {"model": "model", "a": "cmp_model_a", "b": "cmp_model_b", "c": "cmp_model_c",
                     "pr_b": "pr_model_b"}


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("step", [*LESSON, *FAMILY_LESSON],
                         ids=[*(f"v1-{step.page}" for step in LESSON), *(f"family-{step.page}" for step in FAMILY_LESSON)])
def test_a_lesson_link_opens_its_page_on_its_models_over_the_sessions_choice(step) -> None:
    at = open_app(step.page)
    for param, _ in step.models:  # the student had picked other models there
        if param == "c":
            at.toggle(key="cmp_third").set_value(True).run()
        at.selectbox(key=f"{PICKER_KEY_PREFIX[param]}_preset").select("resnet34").run()
    at.switch_page("../pages/home.py").run()
    number = [*LESSON, *FAMILY_LESSON].index(step)
    link = [link.proto for link in at.get("page_link") if link.query_string][number]
    for key, value in parse_qsl(link.query_string):
        at.query_params[key] = value
    at.switch_page(f"../pages/{step.page}.py").run()
    assert not at.exception
    for param, preset in step.models:
        assert at.selectbox(key=f"{PICKER_KEY_PREFIX[param]}_preset").value == preset
        assert at.query_params[param] == preset
    at.switch_page("../pages/home.py").run()  # a page switch afterwards keeps the linked model
    if step.models[0][0] == "model":
        assert at.selectbox(key="model_preset").value == step.models[0][1]


@pytest.mark.parametrize(("token", "shown", "hidden"), [
    ("resnet18", {"Shortcut layer"}, {"Dilation", "Groups"}),
    ("resnext50_32x4d", {"Groups", "Shortcut layer"}, {"Dilation"}),
    ("resnet50;dilate=0,1,1", {"Dilation"}, {"Groups"}),
    ("resnet18;shortcut=none", set(), {"Shortcut layer", "Dilation", "Groups"}),
])
def test_the_screen_table_leads_with_what_a_reader_needs_and_hides_silent_columns(token: str, shown: set[str],
                                                                                  hidden: set[str]) -> None:
    at = open_app("architecture", model=token)
    columns = list(at.dataframe[0].value.columns)
    assert columns[:5] == ["#", "Name", "Out (C×H×W)", "Params", "MACs (conv+linear)"]
    assert shown <= set(columns) and not hidden & set(columns)
    assert set(columns) | hidden == {c.label for c in LAYER_COLUMNS}  # nothing else is dropped
    name = json.loads(at.dataframe[0].proto.columns)["Name"]  # pinned, and wide enough for every name
    longest = max(len(row.name) for row in layer_table(spec_from_token(token), 224).rows)
    assert name["pinned"] is True and name["width"] >= 7 * longest


# Every widget key starts with its page's prefix; the sidebar's model picker and the language
# switch are on every page. What to set before looking, so the widgets behind a switch are drawn too.
PAGE_KEY_PREFIX = {
    "home": (None, {}), "architecture": ("arch_", {}), "compare": ("cmp_", {"cmp_image_open": True}),
    "feature_maps": ("fm_", {}), "zero_init": ("zi_", {}), "predict": ("pr_", {"pr_compare": True}),
}
SIDEBAR_KEY_PREFIXES = ("model_", SESSION_KEY, "class_")  # the picker, the language, class mode


def widget_keys(at) -> set[str]:
    """The user keys of every widget on the page and in the sidebar."""
    return {node.key for node in (*at.main, *at.sidebar) if isinstance(node, Widget) and node.key}


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("page", PAGE_KEY_PREFIX)
def test_every_widget_key_starts_with_its_pages_prefix(page: str) -> None:
    prefix, switched_on = PAGE_KEY_PREFIX[page]
    at = open_app(page, model="resnet18", model_input="64")
    for key, value in switched_on.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    keys = widget_keys(at)
    allowed = (*SIDEBAR_KEY_PREFIXES, *([prefix] if prefix else []))
    assert sorted(key for key in keys if not key.startswith(allowed)) == []
    assert SESSION_KEY in keys and (prefix is None or sum(key.startswith(prefix) for key in keys) >= 3)
