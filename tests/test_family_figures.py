"""The family beyond v1 in the Architecture page's figures: gates as side branches, pre-activation order,
ResNeSt's radix groups and Res2Net's hierarchy, in the block diagram and the paper's Figure 3."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image, ImageColor

from explorer.analysis.anatomy import layer_table
from explorer.analysis.block_parts import GateKind, block_parts
from explorer.figures.architecture import GATE_INK, architecture_diagram
from explorer.figures.paper.arrange import paper_figure
from explorer.figures.paper.png import PNG_SCALE, _font, to_png
from explorer.figures.paper.primitives import FONT, GATE_FILL, PaperFigure, Role
from explorer.figures.paper.svg import to_svg
from explorer.model.blocks import EfficientChannelAttention
from explorer.model.presets import PRESETS
from tests.conftest import open_app, open_tab

SVG = "{http://www.w3.org/2000/svg}"
FAMILY = ["resnetv2_50", "seresnet50", "ecaresnet50d", "resnest50d", "res2net50_26w_4s", "cifar_preact_resnet164",
          "resnetv2_18", "seresnet18"]


def table_of(name: str):
    spec = PRESETS[name]
    return layer_table(spec, spec.natural_input_size)


def figure_of(name: str, **options) -> PaperFigure:
    return paper_figure(table_of(name), **options)


def block_texts(figure: PaperFigure, block: str, gate: bool = False) -> list[str]:
    return [b.text for b in figure.boxes if b.block == block and b.gate is gate]


def test_se_gate_is_a_side_branch_that_multiplies_the_residual_branch_before_the_add() -> None:
    figure = figure_of("seresnet50", fold_after=100)
    assert len(figure.panels) == len(figure.nodes) == 16  # one gate per block, every block drawn
    assert {n.symbol for n in figure.nodes} == {"×"}
    assert block_texts(figure, "layer1.0", gate=True) == ["global avg pool", "fc 16, ReLU", "fc 256, sigmoid"]
    assert block_texts(figure, "layer4.2", gate=True) == ["global avg pool", "fc 128, ReLU", "fc 2048, sigmoid"]
    assert [b.layer for b in figure.boxes if b.block == "layer1.0" and b.gate] == [
        "layer1.0.se.avgpool", "layer1.0.se.fc1", "layer1.0.se.fc2"]
    assert block_texts(figure, "layer1.0") == ["1x1 conv, 64", "3x3 conv, 64", "1x1 conv, 256"]  # the trunk: no gate
    assert [label.text for label in figure.labels_of(Role.GATE)][:1] == ["SE, r=16"]
    trunk = [b for b in figure.boxes if b.block == "layer1.0" and not b.gate]
    gate = [b for b in figure.boxes if b.block == "layer1.0" and b.gate]
    node = next(n for n in figure.nodes if n.block == "layer1.0")
    arc = next(a for a in figure.arcs if a.block == "layer1.0")
    centre = trunk[0].x + trunk[0].width / 2
    assert node.x == centre == arc.x  # the × sits on the trunk ...
    assert max(b.y for b in trunk) < node.y < arc.bottom  # ... after the branch's last conv, before the add
    assert all(g.x + g.width < trunk[0].x for g in gate)  # the gate's boxes stand beside the trunk, left of it
    assert node.y == gate[-1].y + gate[-1].height / 2  # the sigmoid's output rejoins at the ×


def test_seresnet18_shows_its_true_reduction_not_the_specs() -> None:
    # 64 channels / 16 = 4, rounded up to 8 as timm's SEModule rounds: the gate squeezes 64 → 8, r = 8.
    figure = figure_of("seresnet18")
    assert block_texts(figure, "layer1.0", gate=True) == ["global avg pool", "fc 8, ReLU", "fc 64, sigmoid"]
    assert figure.labels_of(Role.GATE)[0].text == "SE, r=8"
    assert figure.labels_of(Role.GATE)[-1].text == "SE, r=16"  # layer4: 512 → 32


def test_eca_gate_names_its_kernel() -> None:
    figure = figure_of("ecaresnet50d")
    kernel = EfficientChannelAttention(256).conv.kernel_size[0]
    assert kernel == 5
    assert block_texts(figure, "layer1.0", gate=True) == ["global avg pool", "1-D conv, k=5", "sigmoid"]
    assert figure.labels_of(Role.GATE)[0].text == "ECA, k=5"
    assert figure.labels_of(Role.GATE)[-1].text == f"ECA, k={EfficientChannelAttention(2048).conv.kernel_size[0]}"


@pytest.mark.parametrize("name", ["resnet50", "resnet18", "resnetv2_50", "res2net50_26w_4s"])
def test_models_without_gates_draw_no_gate(name: str) -> None:
    figure = figure_of(name)
    assert figure.panels == figure.nodes == () and not any(b.gate for b in figure.boxes)
    assert not figure.labels_of(Role.GATE)


@pytest.mark.parametrize(("name", "first"), [("resnetv2_50", "BN, ReLU, 1x1 conv, 64"),
                                             ("cifar_preact_resnet164", "BN, ReLU, 1x1 conv, 16"),
                                             ("resnetv2_18", "BN, ReLU, 3x3 conv, 64")])
def test_pre_activation_boxes_read_bn_relu_conv_and_the_head_starts_with_bn_relu(name: str, first: str) -> None:
    figure = figure_of(name)
    block_boxes = [b for b in figure.boxes if b.block not in ("stem", "head")]
    assert block_boxes[0].text == first
    assert all(b.text.startswith("BN, ReLU, ") for b in block_boxes)
    assert [b.text for b in figure.boxes if b.block == "head"] == ["BN, ReLU", "avg pool", f"fc {PRESETS[name].num_classes}"]
    assert [b.layer for b in figure.boxes if b.block == "head"][0] == "final_bn"
    assert not any("BN" in b.text for b in figure.boxes if b.block == "stem")  # no BN-ReLU in a v2 stem


def test_post_activation_boxes_keep_the_papers_text() -> None:
    figure = figure_of("resnet50")
    assert not any("BN" in b.text for b in figure.boxes)
    assert [b.text for b in figure.boxes if b.block == "head"] == ["avg pool", "fc 1000"]


def test_resnest_draws_the_radix_groups_and_their_softmax_gate() -> None:
    figure = figure_of("resnest50d")
    assert block_texts(figure, "layer1.0") == ["1x1 conv, 64", "3x3 conv, 2×64", "1x1 conv, 256"]
    assert block_texts(figure, "layer1.0", gate=True) == ["sum groups, avg pool", "fc 32, BN, ReLU", "fc 128, softmax"]
    assert block_texts(figure, "layer2.0")[2] == "avg pool, /2"  # avd: the stride after the split attention
    assert figure.labels_of(Role.GATE)[0].text == "split attention, radix 2"
    assert {n.symbol for n in figure.nodes} == {"Σ"}
    node = next(n for n in figure.nodes if n.block == "layer2.0")
    boxes = [b for b in figure.boxes if b.block == "layer2.0" and not b.gate]
    assert boxes[1].y < node.y < boxes[2].y  # Σ between the 3x3 and the pool that strides


def test_res2net_names_its_hierarchy() -> None:
    figure = figure_of("res2net50_26w_4s")
    assert block_texts(figure, "layer1.1") == [
        "1x1 conv, 104, split 4×26", "x1: 3x3 conv, 26", "x2 + y1: 3x3 conv, 26", "x3 + y2: 3x3 conv, 26",
        "x4: kept", "concat, 1x1 conv, 256"]
    # A block that strides or projects convolves its groups side by side and pools the last.
    assert block_texts(figure, "layer2.0") == [
        "1x1 conv, 208, split 4×52", "x1: 3x3 conv, 52, /2", "x2: 3x3 conv, 52, /2", "x3: 3x3 conv, 52, /2",
        "x4: avg pool, /2", "concat, 1x1 conv, 512"]


@pytest.mark.parametrize("name", FAMILY)
def test_every_family_member_draws_with_text_that_fits_and_without_overlaps(name: str) -> None:
    figure = figure_of(name, columns=None)
    font = _font(FONT)
    assert all(font.getlength(b.text) + 8 < b.width for b in figure.boxes)
    table = table_of(name)
    assert len(figure.arcs) == sum(1 for b in table.blocks if b.block is not None and b.shortcut.style) - sum(
        f.blocks for f in figure.folds)
    boxes = figure.boxes
    for i, a in enumerate(boxes):  # no two boxes overlap
        for b in boxes[i + 1:]:
            assert a.x + a.width <= b.x or b.x + b.width <= a.x or a.y + a.height <= b.y or b.y + b.height <= a.y, (a, b)
    for panel in figure.panels:  # a gate's frame holds only its own boxes
        inside = [b for b in boxes if panel.x < b.x + b.width / 2 < panel.x + panel.width
                  and panel.y < b.y + b.height / 2 < panel.y + panel.height]
        assert inside and all(b.gate and b.block == panel.block for b in inside)
    assert 0 < min(b.x for b in boxes) and max(b.x + b.width for b in boxes) < figure.width


def test_svg_and_png_draw_the_gates() -> None:
    figure = figure_of("seresnet50")
    root = ET.fromstring(to_svg(figure))
    assert len(list(root.iter(f"{SVG}circle"))) == len(figure.nodes) > 0
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.count("×") == len(figure.nodes) and texts.count("SE, r=16") == len(figure.panels)
    image = Image.open(io.BytesIO(to_png(figure)))
    for box in (b for b in figure.boxes if b.gate):
        assert image.getpixel((round((box.x + 4) * PNG_SCALE), round((box.y + box.height / 2) * PNG_SCALE))) == \
            ImageColor.getrgb(GATE_FILL)


def _gate_tabs(figure) -> list:
    return [s for s in figure.layout.shapes if s.type == "rect" and s.line.color == GATE_INK]


def test_block_diagram_draws_a_gate_tab_for_gated_blocks_only() -> None:
    seresnet = architecture_diagram(table_of("seresnet50"))
    assert len(_gate_tabs(seresnet)) == 16
    assert _gate_tabs(architecture_diagram(table_of("resnet50"))) == []
    assert _gate_tabs(architecture_diagram(table_of("resnetv2_50"))) == []
    tabs = [a.text for a in seresnet.layout.annotations if a.font.color == GATE_INK]
    assert tabs[0] == "<b>SE</b><br>r=16<br>×"
    labels = [a.text for a in seresnet.layout.annotations if a.text.startswith("<b>layer1.0</b>")]
    assert labels == ["<b>layer1.0</b><br>1x1,64<br>3x3,64<br>1x1,256"]  # the gate's 1x1s are in its tab


def test_block_diagram_hover_lists_every_gate_row() -> None:
    table = table_of("seresnet50")
    figure = architecture_diagram(table)
    blocks = next(t for t in figure.data if t.name == "blocks")
    hover = dict(zip(blocks.customdata, blocks.hovertext))["layer3.0"]
    for row in block_parts(table)["layer3.0"].gate.rows:
        assert f"{row.name} ({row.type}) → {'×'.join(map(str, row.out_shape))}" in hover
    assert "<b>SE, r=16</b>: side branch" in hover
    resnest = architecture_diagram(table_of("resnest50d"))
    hover = dict(zip(*(lambda t: (t.customdata, t.hovertext))(next(t for t in resnest.data if t.name == "blocks"))))
    assert "layer1.0.conv2.rsoftmax (RadixSoftmax) → 128×1×1" in hover["layer1.0"]


def test_block_diagram_writes_the_pre_activation_order_res2net_scales_and_radix() -> None:
    def label(name: str, block: str) -> str:
        figure = architecture_diagram(table_of(name))
        return [a.text for a in figure.layout.annotations if a.text.startswith(f"<b>{block}</b>")][-1]  # not the title

    assert label("resnetv2_50", "layer1.0") == "<b>layer1.0</b><br>BN-ReLU-1x1,64<br>BN-ReLU-3x3,64<br>BN-ReLU-1x1,256"
    assert label("resnetv2_50", "head") == "<b>head</b><br>BN-ReLU<br>avg pool<br>fc 1000"
    assert label("resnet50", "head") == "<b>head</b><br>avg pool<br>fc 1000"
    assert label("res2net50_26w_4s", "layer1.1") == "<b>layer1.1</b><br>1x1,104<br>3x3,26 ×3 hier.<br>1x1,256"
    assert label("res2net50_26w_4s", "layer2.0") == "<b>layer2.0</b><br>1x1,208<br>3x3,52 ×3 ∥ + avg<br>1x1,512"
    assert label("resnest50d", "layer1.1") == "<b>layer1.1</b><br>1x1,64<br>3x3,2×64<br>1x1,256"


def test_block_parts_find_the_gate_rows() -> None:
    parts = block_parts(table_of("ecaresnet50d"))["layer1.0"]
    assert parts.gate.kind is GateKind.ECA and parts.gate.weights == 256 and parts.gate.kernel == 5
    assert [r.name for r in parts.gate.rows] == ["layer1.0.se.avgpool", "layer1.0.se.conv", "layer1.0.se.scale_activation"]
    assert not any(".se." in r.name for r in parts.branch) and all(not r.downsample for r in parts.branch)
    assert block_parts(table_of("resnet50"))["layer1.0"].gate is None


@pytest.mark.parametrize(("name", "note"), [
    ("resnetv2_50", "Pre-activation: each block runs BN, ReLU, conv in that order"),
    ("seresnet50", "The channel gate SE (r=16) is a side branch"),
    ("ecaresnet50d", "The channel gate ECA (k=5, k=7) is a side branch"),
    ("resnest50d", "Split attention: the 3x3 makes 2 groups of channels"),
    ("res2net50_26w_4s", "Res2Net: the first 1x1's output is cut into 4 channel groups x1 … x4"),
])
def test_the_architecture_pages_diagram_and_figure_3_open_and_explain(name: str, note: str) -> None:
    at = open_tab(open_app("architecture", model=name), "Diagram")
    assert not at.exception, at.exception
    assert any(note in c.value for c in at.caption)
    chart = next(c for c in at.get("plotly_chart") if c.key == "arch_diagram")
    assert chart.proto.spec
    at.radio(key="arch_diagram_style").set_value("Paper style (Figure 3)").run()
    assert not at.exception, at.exception
    assert any(note in c.value for c in at.caption)
    url = at.get("image")[0].proto.imgs[0].url
    shown = base64.b64decode(url.split(",", 1)[1]).decode()
    gates = len(paper_figure(table_of(name)).nodes)
    assert len(list(ET.fromstring(shown).iter(f"{SVG}circle"))) == gates


def test_a_radix_1_split_attention_gate_is_a_sigmoid() -> None:
    """With one group there is nothing to share a softmax with: the gate's last step is a sigmoid (`RadixSoftmax`)."""
    figure = paper_figure(layer_table(PRESETS["resnest50d"].with_changes(radix=1), 224))
    assert block_texts(figure, "layer1.0", gate=True) == ["sum groups, avg pool", "fc 32, BN, ReLU", "fc 64, sigmoid"]
    assert figure.labels_of(Role.GATE)[0].text == "split attention, radix 1"
