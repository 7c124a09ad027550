"""The paper-style figure (He et al. 2016, Fig. 3): layout from the layer table, SVG, PNG, CLI and the page."""

from __future__ import annotations

import base64
import io
import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image, ImageColor

from explorer.analysis.anatomy import layer_table
from explorer.cli import main
from explorer.analysis.shortcuts import SHORTCUT_STYLES, ShortcutKind
from explorer.figures.paper.arrange import paper_figure, slide_scale
from explorer.figures.paper.png import PNG_SCALE, _font, to_png
from explorer.figures.paper.primitives import DASHES, FONT, INK, Label, PaperFigure, Role
from explorer.figures.paper.svg import to_svg
from explorer.studies.degradation import twin_of
from explorer.model.presets import PRESETS, cifar_resnet
from explorer.model.kinds import Shortcut
from explorer.model.spec import ResNetSpec
from tests.conftest import open_app, open_tab

SVG = "{http://www.w3.org/2000/svg}"


def figure_of(name: str, plain_twin: bool = False, **options) -> PaperFigure:
    spec = PRESETS[name]
    return figure_with_twin(layer_table(spec, spec.natural_input_size), plain_twin, **options)


def figure_with_twin(table, plain_twin: bool = False, **options) -> PaperFigure:
    """`paper_figure` as the page and the CLI call it: the twin's table made by the caller."""
    twin = layer_table(twin_of(table.spec), table.input_size) if plain_twin else None
    return paper_figure(table, twin=twin, **options)


def svg_texts(svg: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_resnet34_has_the_papers_sixteen_shortcuts_three_of_them_projections() -> None:
    figure = figure_of("resnet34")
    styles = Counter(arc.kind for arc in figure.arcs)
    assert styles == {ShortcutKind.IDENTITY: 13, ShortcutKind.PROJECTION: 3}
    assert [a.block for a in figure.arcs if a.kind is ShortcutKind.PROJECTION] == ["layer2.0", "layer3.0", "layer4.0"]
    assert len(figure.boxes) == 34 + 2  # the 34 weighted layers, the max pool and the avg pool


def test_halving_is_marked_on_exactly_the_layers_that_halve_the_map() -> None:
    figure = figure_of("resnet34")
    assert [b.layer for b in figure.boxes if "/2" in b.text] == [
        "conv1", "maxpool", "layer2.0.conv1", "layer3.0.conv1", "layer4.0.conv1"]
    texts = [b.text for b in figure.boxes]
    assert texts[:3] == ["7x7 conv, 64, /2", "pool, /2", "3x3 conv, 64"]
    assert "3x3 conv, 128, /2" in texts and texts[-2:] == ["avg pool", "fc 1000"]


def test_output_shapes_stand_between_the_stages() -> None:
    figure = figure_of("resnet34")
    shapes = figure.labels_of(Role.SHAPE)
    assert [s.text for s in shapes] == ["56×56×64", "56×56×64", "28×28×128", "14×14×256", "7×7×512"]
    stages = ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    for label, before, after in zip(shapes, stages, stages[1:]):
        above = max(b.y + b.height for b in figure.boxes if b.block.split(".")[0] == before)
        below = min(b.y for b in figure.boxes if b.block.split(".")[0] == after)
        assert above < label.y < below, label
    assert figure.labels_of(Role.INPUT)[0].text == "image, 224×224×3"


def test_cifar_option_a_shortcuts_are_dotted() -> None:
    figure = figure_of("cifar_resnet20")
    assert Counter(a.kind for a in figure.arcs) == {ShortcutKind.IDENTITY: 7, ShortcutKind.ZERO_PAD: 2}
    assert [b.layer for b in figure.boxes if b.halves] == ["layer2.0.conv1", "layer3.0.conv1"]
    assert [s.text for s in figure.labels_of(Role.SHAPE)] == ["32×32×16", "32×32×16", "16×16×32", "8×8×64"]


def test_the_plain_twin_stands_on_the_left_without_arcs() -> None:
    plain = PRESETS["resnet34"].with_changes(shortcut=Shortcut.NONE)
    assert paper_figure(layer_table(plain, 224)).arcs == ()
    twins = figure_of("resnet34", plain_twin=True)
    assert [t.text for t in twins.labels_of(Role.TITLE)] == ["resnet34 plain", "resnet34"]
    assert len(twins.boxes) == 2 * 36 and len(twins.arcs) == 16
    plain_right = max(b.x + b.width for b in twins.boxes[:36])
    assert all(b.x > plain_right for b in twins.boxes[36:]) and all(a.x > plain_right for a in twins.arcs)
    assert twins.name == "resnet34_with_plain_twin"
    # A plain spec gets its residual twin, on the right as well.
    assert [t.text for t in figure_with_twin(layer_table(plain, 224), plain_twin=True).labels_of(Role.TITLE)] == [
        "resnet34 plain", "resnet34"]


@pytest.mark.parametrize(("name", "fold_after", "folded"), [
    ("resnet152", 6, {"layer2": 5, "layer3": 33}),
    ("resnet101", 6, {"layer3": 20}),
    ("resnet50", 3, {"layer2": 1, "layer3": 3}),
    ("resnet34", 6, {}),
])
def test_folding_keeps_the_block_count(name: str, fold_after: int, folded: dict[str, int]) -> None:
    figure = figure_of(name, fold_after=fold_after)
    table = layer_table(PRESETS[name], 224)
    assert {f.stage: f.blocks for f in figure.folds} == folded
    for stage in table.stages[1:-1]:
        shown = {b.block for b in figure.boxes if b.block.startswith(stage.name + ".")}
        assert len(shown) + folded.get(stage.name, 0) == stage.blocks
        if stage.name in folded:  # the first two blocks and the last
            assert shown == {f"{stage.name}.0", f"{stage.name}.1", f"{stage.name}.{stage.blocks - 1}"}
    assert [f.text for f in figure.folds if f.stage == "layer3"][:1] == (
        [f"… {folded['layer3']} more identical blocks"] if "layer3" in folded else [])


def test_a_folded_resnet152_fits_a_slide_at_full_size() -> None:
    one_column = figure_of("resnet152")
    fitted = figure_of("resnet152", columns=None)
    assert slide_scale(one_column) < 1 <= slide_scale(fitted)  # 13 px text stays 13 px or more on a 1920x1080 slide
    for stage in ("stem", "layer1", "layer2", "layer3", "layer4", "head"):  # columns are cut between stages only
        assert len({b.x for b in fitted.boxes if b.block.split(".")[0] == stage}) == 1, stage
    assert len({b.x for b in fitted.boxes}) > 1


@pytest.mark.parametrize("spec", [
    PRESETS["resnet50d"], PRESETS["resnext101_64x4d"], PRESETS["resnet50_caffe"], cifar_resnet(56, shortcut="C"),
    ResNetSpec(dilate=(False, True, True)), ResNetSpec(stages=(1, 1, 1), block="basic"),
])
def test_every_variant_draws_with_its_shortcuts_and_text_that_fits(spec: ResNetSpec) -> None:
    table = layer_table(spec, spec.natural_input_size)
    figure = figure_with_twin(table, plain_twin=True, columns=None, fold_after=100)  # every block drawn
    arcs = Counter(a.kind for a in figure.arcs)
    assert arcs == Counter(b.shortcut for b in table.blocks if b.block is not None)
    halving = {b.layer for b in figure.boxes if b.halves}
    assert halving == {r.name for r in table.rows if r.reduces_resolution and not r.downsample
                       and r.type in ("Conv2d", "MaxPool2d")}
    font = _font(FONT)
    assert all(font.getlength(b.text) + 8 < b.width for b in figure.boxes)


def test_dilated_stages_do_not_halve() -> None:
    table = layer_table(ResNetSpec(dilate=(False, True, True)), 224)
    figure = paper_figure(table)
    texts = [b.text for b in figure.boxes]
    assert "3x3 conv, 256, dilation 2" in texts and "3x3 conv, 512, dilation 4" in texts
    assert [b.layer for b in figure.boxes if b.halves] == ["conv1", "maxpool", "layer2.0.conv2"]
    assert [s.text for s in figure.labels_of(Role.SHAPE)][-3:] == ["28×28×512", "28×28×1024", "28×28×2048"]


def test_svg_is_xml_with_every_text_of_the_layout() -> None:
    figure = figure_of("resnet152", plain_twin=True, columns=None)
    texts = svg_texts(to_svg(figure))
    expected = [b.text for b in figure.boxes] + [f.text for f in figure.folds] + [label.text for label in figure.labels]
    assert Counter(texts) == Counter(expected)
    assert "… 33 more identical blocks" in texts and "7×7×2048" in texts


@pytest.mark.parametrize("name", ["resnet50d", "cifar_resnet20"])
def test_svg_draws_each_shortcut_in_the_diagrams_colour_and_line_with_its_legend(name: str) -> None:
    figure = figure_of(name)
    root = ET.fromstring(to_svg(figure))

    def stroke(kind: ShortcutKind) -> tuple[str, str | None]:
        return SHORTCUT_STYLES[kind].colour, ",".join(map(str, DASHES[SHORTCUT_STYLES[kind].dash])) or None

    assert [(p.get("stroke"), p.get("stroke-dasharray")) for p in root.iter(f"{SVG}path")] == [
        stroke(arc.kind) for arc in figure.arcs]
    kinds = [k for k in SHORTCUT_STYLES if any(arc.kind is k for arc in figure.arcs)]
    samples = [(line.get("stroke"), line.get("stroke-dasharray")) for line in root.iter(f"{SVG}line")
               if line.get("stroke") != INK]  # the flow arrows are ink; the legend's samples are not
    assert samples == [stroke(k) for k in kinds]
    assert [label.text for label in figure.labels_of(Role.LEGEND)] == [SHORTCUT_STYLES[k].legend for k in kinds]


def test_the_figure_draws_the_twin_table_it_is_given() -> None:
    resnet34 = layer_table(PRESETS["resnet34"], 224)
    plain18 = layer_table(PRESETS["resnet18"].with_changes(shortcut=Shortcut.NONE), 224)
    figure = paper_figure(resnet34, twin=plain18)  # any table: the caller makes it, the figure computes none
    assert [t.text for t in figure.labels_of(Role.TITLE)] == ["resnet18 plain", "resnet34"]
    assert len(figure.boxes) == 20 + 36 and figure.name == "resnet34_with_plain_twin"


def test_svg_escapes_text() -> None:
    figure = PaperFigure(100, 50, (), (), (), (Label(50, 20, 'a<b & "c"', Role.TITLE),), (), "x<y")
    svg = to_svg(figure)
    assert svg_texts(svg) == ['a<b & "c"']
    assert ET.fromstring(svg).find(f"{SVG}title").text.startswith("x<y:")


def test_png_draws_the_same_primitives() -> None:
    figure = figure_of("cifar_resnet20")
    image = Image.open(io.BytesIO(to_png(figure)))
    assert image.format == "PNG" and image.size == (math.ceil(figure.width * PNG_SCALE),
                                                   math.ceil(figure.height * PNG_SCALE))
    for box in figure.boxes:  # inside the box's left edge: its stage's fill
        assert image.getpixel((round((box.x + 4) * PNG_SCALE), round((box.y + box.height / 2) * PNG_SCALE))) == \
            ImageColor.getrgb(box.fill)
    for arc in figure.arcs:  # the bow's outermost point carries the shortcut's colour (a dot of a dotted one)
        y = round((arc.top + arc.bottom) / 2 * PNG_SCALE)
        row = [image.getpixel((x, y)) for x in range(round((arc.reach - 3) * PNG_SCALE), round((arc.reach + 3) * PNG_SCALE))]
        assert ImageColor.getrgb(arc.colour) in row or arc.kind is ShortcutKind.ZERO_PAD, arc


def test_bad_options_are_refused_with_a_sentence() -> None:
    table = layer_table(PRESETS["resnet18"], 224)
    with pytest.raises(ValueError, match="fold_after must be at least 3"):
        paper_figure(table, fold_after=2)
    with pytest.raises(ValueError, match="columns must be between 1 and 6"):
        paper_figure(table, columns=7)


def test_cli_writes_svg_and_png_and_reports_their_true_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figure", "resnet34", "--out", str(tmp_path / "f.svg")]) == 0
    svg = (tmp_path / "f.svg").read_text()
    assert "3x3 conv, 128, /2" in svg_texts(svg)
    root = ET.fromstring(svg)
    assert f"({root.get('width')}x{root.get('height')} px, vector)" in capsys.readouterr().err
    assert main(["figure", "resnet152", "--plain-twin", "--slide", "--out", str(tmp_path / "f.png")]) == 0
    expected = figure_of("resnet152", plain_twin=True, columns=None)
    width, height = Image.open(tmp_path / "f.png").size
    assert (width, height) == (math.ceil(expected.width * 2), math.ceil(expected.height * 2))
    assert capsys.readouterr().err == f"wrote {tmp_path / 'f.png'} ({width}x{height} px)\n"  # the PNG's, not the layout's
    assert main(["figure", "resnet34", "--out", str(tmp_path / "f.pdf")]) == 2
    assert "must end in .svg or .png" in capsys.readouterr().err


def test_diagram_tab_shows_the_paper_figure_and_offers_both_downloads(deferred_downloads: list) -> None:  # noqa: F811
    at = open_tab(open_app("architecture", model="resnet34"), "Diagram")
    at.radio(key="arch_diagram_style").set_value("Paper style (Figure 3)").run()
    assert not at.exception
    url = at.get("image")[0].proto.imgs[0].url
    assert url.startswith("data:image/svg+xml;base64,")
    shown = base64.b64decode(url.split(",", 1)[1]).decode()
    assert "3x3 conv, 512, /2" in svg_texts(shown)
    at.toggle(key="arch_figure_twin").set_value(True).run()
    assert not at.exception
    made = {name: encode for encode, name in deferred_downloads}
    svg, png = made["resnet34_with_plain_twin_fig3.svg"](), made["resnet34_with_plain_twin_fig3.png"]()
    assert svg_texts(svg).count("7x7 conv, 64, /2") == 2
    assert Image.open(io.BytesIO(png)).size[0] > Image.open(io.BytesIO(made["resnet34_fig3.png"]())).size[0]


def test_the_diagram_captions_name_every_shortcut_kind_drawn() -> None:
    at = open_tab(open_app("architecture", model="resnet50d"), "Diagram")
    assert any("dash-dotted: avg-pool + 1x1 projection (V1d). Click a block" in c.value for c in at.caption)
    at.radio(key="arch_diagram_style").set_value("Paper style (Figure 3)").run()
    assert not at.exception
    assert any("arc beside its block: solid: identity shortcut · dashed: projection shortcut (1x1 conv, then BN unless pre-activation) · "
               "dash-dotted: avg-pool + 1x1 projection (V1d)." in c.value for c in at.caption)
