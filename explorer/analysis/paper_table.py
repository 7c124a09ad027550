"""He et al. 2016, Table 1 (https://arxiv.org/abs/1512.03385), recomputed by the explorer.

Only the FLOPs row is typed in: it is the paper's published figure, shown beside what the
app computes for the same architectures with both stride placements. The table is made where
it is shown (never cached), so its words are in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.analysis.anatomy import LayerTable, layer_table
from explorer.runtime.i18n import _
from explorer.model.presets import resnet_for_depth
from explorer.model.kinds import StrideStyle
from explorer.analysis.table_format import RowsTable, format_shape

PAPER_DEPTHS = (18, 34, 50, 101, 152)
# Table 1's "FLOPs" row, x10^9 (multiply-adds, as the paper counts them).
PAPER_GFLOPS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}


@dataclass(frozen=True)
class PaperRow:
    """One row of Table 1: a layer name, its output size, and one cell per depth."""

    layer: str
    output_size: str
    cells: tuple[str, ...]


def _stage_cell(table: LayerTable, stage: str) -> str:
    blocks = [b for b in table.blocks if b.stage == stage]
    return f"[{blocks[-1].convs.replace(' → ', ', ')}] × {len(blocks)}"


def _stem_cell(table: LayerTable) -> str:
    conv = next(r for r in table.rows if r.type == "Conv2d")
    return _("{kernel}, {channels}, stride {stride}").format(kernel=format_shape(conv.kernel),
                                                               channels=conv.out_shape[0], stride=conv.stride[0])


def paper_table1(input_size: int = 224) -> tuple[tuple[PaperRow, ...], tuple[str, ...]]:
    """Rows of Table 1 for ResNet-18 ... 152 and the column headers."""
    pytorch = {d: layer_table(resnet_for_depth(d), input_size) for d in PAPER_DEPTHS}
    caffe = {d: layer_table(resnet_for_depth(d, stride_style=StrideStyle.CAFFE), input_size) for d in PAPER_DEPTHS}
    reference = pytorch[PAPER_DEPTHS[0]]
    stem_conv = next(r for r in reference.rows if r.type == "Conv2d")
    rows = [
        PaperRow("conv1", format_shape(stem_conv.out_shape[1:], "×"), tuple(_stem_cell(pytorch[d]) for d in PAPER_DEPTHS)),
    ]
    for index, stage in enumerate(s for s in reference.stages if s.name in reference.spec.stage_names):
        side = format_shape(stage.out_shape[1:], "×")
        prefix = _("3x3 max pool, stride 2; ") if index == 0 else ""
        rows.append(PaperRow(
            f"conv{index + 2}_x ({stage.name})", side,
            tuple(prefix + _stage_cell(pytorch[d], stage.name) for d in PAPER_DEPTHS),
        ))
    rows += [
        PaperRow(_("head"), "1×1", tuple(_("average pool, {classes}-d fc, softmax").format(
            classes=pytorch[d].spec.num_classes) for d in PAPER_DEPTHS)),
        PaperRow(_("params"), "", tuple(f"{pytorch[d].totals.params / 1e6:.1f} M" for d in PAPER_DEPTHS)),
        PaperRow(_("GMACs, stride on 3x3 (pytorch, v1.5)"), "",
                 tuple(f"{pytorch[d].totals.macs / 1e9:.2f}" for d in PAPER_DEPTHS)),
        PaperRow(_("GMACs, stride on 1x1 (caffe, v1)"), "", tuple(f"{caffe[d].totals.macs / 1e9:.2f}" for d in PAPER_DEPTHS)),
        PaperRow(_("paper's FLOPs (×10⁹, multiply-adds)"), "", tuple(f"{PAPER_GFLOPS[d]}" for d in PAPER_DEPTHS)),
    ]
    return tuple(rows), tuple(_("{depth}-layer").format(depth=d) for d in PAPER_DEPTHS)


def paper_table1_rows(input_size: int = 224) -> RowsTable:
    """`paper_table1` as the page shows it: the layer, its output size, then one column per depth."""
    paper_rows, headers = paper_table1(input_size)
    columns = (_("layer"), _("output size"), *headers)
    return RowsTable(columns, tuple(dict(zip(columns, (r.layer, r.output_size, *r.cells))) for r in paper_rows))
