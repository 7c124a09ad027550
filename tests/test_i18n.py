"""简体中文: every marked string has its translation, no user-facing string is left unmarked,
and every page opens in Chinese."""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from explorer.runtime.i18n import CATALOGS, LANGUAGES, _, in_language
from tests.conftest import REPO_ROOT, open_app, open_tab

KEYWORDS = {"_": None, "N_": None}
# Where people read what the code says: every page, and the modules pages draw with.
UI_SOURCES = [*sorted((REPO_ROOT / "pages").glob("*.py")), *sorted((REPO_ROOT / "explorer" / "ui").glob("*.py")),
              REPO_ROOT / "explorer" / "app.py"]
# Streamlit calls whose first argument (or these keywords) people read.
SHOWN_CALLS = {
    "title", "header", "subheader", "markdown", "caption", "write", "text", "info", "warning", "error", "success",
    "toast", "button", "download_button", "radio", "selectbox", "multiselect", "select_slider", "slider",
    "number_input", "text_input", "checkbox", "toggle", "file_uploader", "expander", "metric", "page_link",
    "spinner", "status", "progress", "segmented_control", "pills", "tabs", "Page",
}
SHOWN_KEYWORDS = {"label", "help", "caption", "placeholder", "text", "title", "body"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def marked_messages() -> dict[str, list[str]]:
    """Every string marked with _() or N_() in the app, and where."""
    found: dict[str, list[str]] = {}
    for folder in ("explorer", "pages"):
        for filename, lineno, message, *_rest in extract_from_dir(REPO_ROOT / folder, [("**.py", "python")],
                                                                  keywords=KEYWORDS):
            found.setdefault(message, []).append(f"{folder}/{filename}:{lineno}")
    return found


def catalog(code: str):
    with CATALOGS[code].open("rb") as po:
        return read_po(po)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_marked_string_has_a_chinese_translation_and_keeps_its_placeholders() -> None:
    messages, zh = marked_messages(), catalog("zh")
    missing = [f"{where[0]}: {m!r}" for m, where in messages.items() if not (zh.get(m) and zh.get(m).string)]
    assert not missing, f"{len(missing)} strings lack a Chinese translation:\n" + "\n".join(missing[:40])
    fuzzy = [m.id for m in zh if m.id and m.fuzzy]
    assert not fuzzy, fuzzy[:10]
    broken = [m.id for m in zh if m.id and fields(m.id) != fields(m.string)]
    assert not broken, f"translations whose {{placeholders}} differ: {broken[:10]}"


def test_the_catalog_holds_no_string_the_code_no_longer_has() -> None:
    marked = marked_messages()  # once: extracting every module is what costs
    stale = [m.id for m in catalog("zh") if m.id and m.id not in marked]
    assert not stale, stale[:20]


def unmarked(path: Path) -> list[str]:
    """Literal text passed straight to a Streamlit call people read, not through _()."""
    def literal_text(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return bool(re.search(r"[A-Za-z]{2}", node.value))
        if isinstance(node, ast.JoinedStr):
            return any(literal_text(v) for v in node.values)
        if isinstance(node, ast.BinOp):
            return literal_text(node.left) or literal_text(node.right)
        if isinstance(node, ast.IfExp):
            return literal_text(node.body) or literal_text(node.orelse)
        if isinstance(node, (ast.List, ast.Tuple)) :
            return any(literal_text(e) for e in node.elts)
        return False

    problems = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SHOWN_CALLS):
            continue
        shown = node.args[:1] + [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
        if node.func.attr == "tabs":
            shown = node.args[:1]
        if node.func.attr == "Page":  # st.Page(path, title=...): the path is a file name
            shown = [k.value for k in node.keywords if k.arg == "title"]
        problems += [f"{path.relative_to(REPO_ROOT)}:{n.lineno}: {ast.unparse(n)[:80]}" for n in shown if literal_text(n)]
    return problems


def test_no_user_facing_string_is_left_unmarked() -> None:
    problems = [problem for path in UI_SOURCES for problem in unmarked(path)]
    assert not problems, f"{len(problems)} unmarked strings:\n" + "\n".join(problems[:60])


def test_the_language_follows_in_language_and_defaults_to_english() -> None:
    assert _("Architecture") == "Architecture"
    with in_language("zh"):
        assert CJK.search(_("Architecture"))
    assert set(LANGUAGES) == {"en", *CATALOGS}


def test_the_language_comes_from_the_link_and_stays_across_pages() -> None:
    at = open_app(lang="zh")
    assert at.title[0].value == "ResNet 探索器" and at.radio(key="lang").value == "zh"
    at.switch_page("../pages/architecture.py").run()
    at.switch_page("../pages/home.py").run()
    assert at.title[0].value == "ResNet 探索器" and at.query_params["lang"] == "zh"
    at.radio(key="lang").set_value("en").run()
    assert at.title[0].value == "ResNet Explorer" and at.query_params["lang"] == "en"
    english = open_app()
    assert english.title[0].value == "ResNet Explorer" and english.radio(key="lang").value == "en"


def shown_text(at) -> str:
    """What a reader sees of a page: titles, prose, captions, messages and widget labels."""
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error")
             for e in getattr(at, kind)]
    parts += [w.label for kind in ("radio", "selectbox", "multiselect", "number_input", "slider", "toggle", "checkbox",
                                   "button") for w in getattr(at, kind)]
    return " ".join(str(p) for p in parts)


def chinese_share(text: str) -> float:
    """Chinese characters among the letters of ``text`` (a Latin word counts as one letter's worth:
    identifiers and model names stay in Latin script; addresses, file paths and `code` (a command to
    type) are not text)."""
    text = re.sub(r"https?://\S+|(?<!\S)/\S+|`[^`]*`", " ", text)
    words = re.findall(r"[A-Za-z]+", text)
    han = len(CJK.findall(text))
    return han / max(1, han + len(words))


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("page", ["home", "architecture", "compare", "feature_maps", "zero_init", "predict"])
def test_every_page_opens_in_chinese(page: str) -> None:
    at = open_app(None if page == "home" else page, lang="zh")
    assert not at.exception
    assert CJK.search(at.title[0].value), at.title[0].value
    share = chinese_share(shown_text(at))
    assert share > 0.8, f"{page}: only {share:.0%} of what it shows is Chinese:\n{shown_text(at)[:2000]}"


ARCHITECTURE_TABS = ("Layer table", "Diagram", "Shape flow", "Paper Table 1", "Counting conventions", "Measured cost")


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("tab", ARCHITECTURE_TABS)
def test_every_architecture_tab_opens_in_chinese(tab: str) -> None:
    at = open_tab(open_app("architecture", lang="zh", model="resnet18", model_input="64"), tab)
    if tab == "Diagram":
        at.radio(key="arch_diagram_style").set_value("Paper style (Figure 3)").run()
    if tab == "Measured cost":
        at.button(key="arch_measure").click().run()
    assert not at.exception
    with in_language("zh"):
        labels = [_(label) for label in ARCHITECTURE_TABS]
    assert [t.label for t in at.tabs] == labels and all(CJK.search(label) for label in labels)
    opened = next(t for t in at.tabs if t.label == labels[ARCHITECTURE_TABS.index(tab)])
    if tab == "Shape flow":  # a chart only (its texts are figures.architecture's)
        assert opened.get("plotly_chart")
        return
    text = shown_text(opened) + " ".join(str(d.value.columns.tolist()) for d in opened.dataframe)
    assert chinese_share(text) > 0.6, text[:2000]


@pytest.mark.usefixtures("offline")
def test_feature_maps_browse_and_show_receptive_fields_in_chinese() -> None:
    """Layer browser (prev/next, the scale and channel radios by their English values), a block's
    residual parts and the receptive field section, all in Chinese with no exception."""
    import json

    at = open_app("feature_maps", lang="zh", model="resnet18", model_input="96")
    if at.radio(key="fm_weights_kind").value != "random":  # offline: ImageNet falls back to random anyway
        at.radio(key="fm_weights_kind").set_value("random").run()
    at.toggle(key="fm_rf").set_value(True).run()
    at.button(key="fm_next").click().run()
    at.button(key="fm_next").click().run()
    at.button(key="fm_prev").click().run()
    at.radio(key="fm_scale").set_value("global").run()
    at.radio(key="fm_which").set_value("all, paged").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="fm_layer").value == "layer1.0"
    with in_language("zh"):
        residual = _("What makes {block} a residual block").format(block="layer1.0")
        shortcut, branch = _("shortcut {formula}").format(formula="x"), _("residual branch F(x)")
    assert residual in [s.value for s in at.subheader] and CJK.search(residual)
    (parts,) = [c for c in at.get("plotly_chart") if c.key == "fm_parts"]
    titles = [a["text"] for a in json.loads(parts.proto.spec)["layout"]["annotations"]]
    assert titles == [shortcut, branch, "relu(x + F(x))"] and CJK.search(shortcut)
    layer_names = at.selectbox(key="fm_layer").options  # formatted during the run, in Chinese
    assert all(CJK.search(name) for name in layer_names) and any("relu(x + F(x))" in name for name in layer_names)
    assert all(CJK.search(option) for option in at.radio(key="fm_scale").options + at.radio(key="fm_which").options)
    (seen,) = [c.value for c in at.caption if c.value.startswith("**layer2 (")]
    assert CJK.search(seen), seen
    share = chinese_share(shown_text(at))
    assert share > 0.8, f"only {share:.0%} is Chinese:\n{shown_text(at)[:2000]}"


def test_capture_labels_and_refusals_are_written_in_the_readers_language() -> None:
    """A capture shared by the class holds no sentences: its layer names and a refusal are written when read."""
    from explorer.analysis.activations import CaptureTooLarge, capture_points
    from explorer.model.presets import cifar_resnet

    points = capture_points(cifar_resnet(20), 32, detail=True, residual_parts=True)
    refusal = CaptureTooLarge(len(points), 3 * 2**30, 2**30)
    assert str(refusal).endswith("above the budget of 1,024 MiB. Capture block outputs only, or use a smaller input size.")
    assert [p.label for p in points[:2]] == ["stem · output · 16×32×32", "layer1.0.conv1 · Conv2d · 16×32×32"]
    with in_language("zh"):
        labels = [p.label for p in points]
        assert CJK.search(str(refusal)) and "1,024 MiB" in str(refusal)
    assert labels[0] == "stem · 输出 · 16×32×32" and labels[1] == "layer1.0.conv1 · Conv2d · 16×32×32"
    assert all(CJK.search(label) for point, label in zip(points, labels) if point.role != "layer")
    assert any("ReLU（第 2 次调用）" in label for label in labels)


def test_a_bad_upload_is_explained_in_the_readers_language() -> None:
    """The upload boundaries (`decode_image`, `read_checkpoint`) explain in Chinese under ``?lang=zh``,
    in English otherwise; a message made in a class-shared worker thread is said when it is read."""
    import io

    from PIL import Image

    from explorer.data.images import ImageError, decode_image
    from explorer.runtime.progress import RunStopped
    from explorer.model.checkpoint import CheckpointError, read_checkpoint
    from explorer.model.pretrained import WeightsUnavailable

    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")

    def messages() -> list[str]:
        with pytest.raises(ImageError) as not_a_picture:
            decode_image(b"\x00garbage, not a picture" * 10)
        with pytest.raises(CheckpointError) as a_picture:
            read_checkpoint(png.getvalue())
        return [str(not_a_picture.value), str(a_picture.value)]

    assert messages() == [
        "This file is not an image that Pillow can read (JPEG, PNG, WebP, BMP, GIF, TIFF, …).",
        "This file is a PNG picture, not a checkpoint. Give pictures to the image uploader; here, a .pth/.pt file "
        "written by torch.save, or a .safetensors file.",
    ]
    with in_language("zh"):
        chinese = messages()
    assert all(CJK.search(message) for message in chinese) and "PNG" in chinese[1], chinese

    offline = WeightsUnavailable("The download of {file} was corrupted (hash mismatch); try again.", file="w.pth")
    assert str(offline) == "The download of w.pth was corrupted (hash mismatch); try again."
    with in_language("zh"):  # raised in English in a worker thread, read in Chinese by a session
        assert CJK.search(str(offline)) and "w.pth" in str(offline)
        assert CJK.search(str(RunStopped(RunStopped.MESSAGE)))


def test_compare_speaks_chinese_in_its_expanders_tables_and_charts() -> None:
    at = open_app("compare", lang="zh")
    at.number_input(key="cmp_input").set_value(64).run()
    at.session_state["cmp_speed_open"] = True
    at.session_state["cmp_image_open"] = True
    at.run()
    for prefix in ("cmp_a", "cmp_b"):
        at.radio(key=f"{prefix}_weights_kind").set_value("random").run()
    at.button(key="cmp_measure").click().run()
    at.toggle(key="cmp_rf").set_value(True).run()
    assert not at.exception and not at.error
    with in_language("zh"):
        speed_columns = [_(c) for c in ("Model", "Batch", "Latency (ms), median", "Fastest–slowest (ms)", "Runs",
                                        "Images/s", "GMAC/s achieved", "Peak memory")]
        training_columns = [_(c) for c in ("Model", "Batch", "Step (ms), median", "Fastest–slowest (ms)", "Runs",
                                           "Images/s", "Peak memory")]
        memory_rows = [_(r) for r in ("Weights (float32)", "SGD momentum (one per weight)")]
        totals = [_(d) for d in ("Depth (weighted layers)", "Receptive field (px)")]
    assert any(list(d.value.columns) == speed_columns for d in at.dataframe)
    assert any(list(d.value.columns) == training_columns for d in at.dataframe)
    assert any(set(memory_rows) <= set(d.value.iloc[:, 0]) for d in at.dataframe)
    assert any(set(totals) <= set(d.value.iloc[:, 0]) for d in at.dataframe)
    assert all(CJK.search(e.label) for e in at.get("expander")) and CJK.search(at.toggle(key="cmp_rf").label)
    assert any(m.value.startswith("- 批大小 1：") for m in at.markdown)  # the latency lines
    charts = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    assert CJK.search(charts["cmp_zoo"]["layout"]["title"]["text"])
    assert all(CJK.search(a["text"]) for a in charts["cmp_bars"]["layout"]["annotations"])  # subplot titles
    for label in "AB":
        assert CJK.search(charts[f"cmp_top5_{label}"]["layout"]["xaxis"]["title"]["text"])
    for key in ("cmp_a_rf_sizes", "cmp_b_rf_sizes"):
        assert all(CJK.search(trace["name"]) for trace in charts[key]["data"])
    captions = [i.proto.imgs[0].caption for i in at.get("image") if "Grad-CAM" in i.proto.imgs[0].caption]
    assert len(captions) == 2 and all(c.endswith("”的 Grad-CAM——**未训练**的网络：这张图没有任何意义") for c in captions)


def test_chart_texts_follow_the_language() -> None:
    from explorer.figures.architecture import architecture_diagram, shape_flow_chart, stage_bars
    from explorer.analysis.anatomy import layer_table
    from explorer.analysis.compare import aligned_stages
    from explorer.model.presets import PRESETS

    r18, r50 = layer_table(PRESETS["resnet18"], 64), layer_table(PRESETS["resnet50"], 64)

    def texts() -> dict[str, list[str]]:
        diagram, flow = architecture_diagram(r50), shape_flow_chart(r50)
        bars = stage_bars(aligned_stages(r18, r50), "resnet18", "resnet50")
        return {
            "diagram": [diagram.layout.title.text, *(t.name for t in diagram.data if t.showlegend is not False)],
            "flow": [flow.layout.title.text, flow.layout.xaxis.title.text, *(t.name for t in flow.data)],
            "bars": [a.text.replace("<br>", " ") for a in bars.layout.annotations],  # wrapped to fit a third
        }

    english = texts()
    assert english["diagram"][0] == "resnet50: stem → stages → head (hover or click a block)"
    assert "projection shortcut (1x1 conv, then BN unless pre-activation)" in english["diagram"]
    assert english["flow"] == ["Shape flow: the channels double each time the map halves",
                               "block output (execution order)", "channels", "height (px)"]
    assert english["bars"] == ["Parameters (M)", "MACs, conv+linear (G)", "Activation memory (MiB, fp32, 1 image)"]
    assert not any(CJK.search(text) for shown in english.values() for text in shown)
    with in_language("zh"):
        chinese = texts()
    assert chinese["diagram"][0].startswith("resnet50：")
    assert all(CJK.search(text) for shown in chinese.values() for text in shown), chinese
