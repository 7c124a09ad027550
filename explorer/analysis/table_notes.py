"""What the layer table's caption says about the blocks beyond v1, in the reader's language.

The block rows' notation (`block_summary`), the gate rows' colour and receptive field, and
what pre-activation changes in the rows: a sentence each, only for the kinds a table holds.
"""

from __future__ import annotations

from explorer.analysis.anatomy import LayerTable
from explorer.runtime.i18n import _


def table_notes(table: LayerTable) -> list[str]:
    """Sentences for the layer table's caption: one per block kind beyond v1 that ``table`` holds."""
    notes = []
    if any(r.gate for r in table.rows):
        notes.append(_(
            ":green-background[Channel gate] rows (SE, ECA, split attention's weights) pool the whole map to one "
            "number per channel, so their RF column shows the whole map's window. They only scale the map: the "
            "block's output keeps the receptive field of its path (convs and pools), and the next rows continue "
            "from that."))
    convs = " ".join(b.convs for b in table.blocks)
    if "SplitAttn(" in convs:
        notes.append(_(
            "SplitAttn(3x3,C,gG): ResNeSt's split attention, radix groups of 3x3 convs (C = radix × width outputs) "
            "weighed per channel by a gate and summed; where a block strides, a 3x3 average pool after it "
            "(avg3x3/2) takes the stride."))
    if "Res2[" in convs:
        notes.append(_(
            "Res2[s×w: n × 3x3 ⇢]: Res2Net splits the channels into s groups of w; each 3x3 adds the previous "
            "group's output (⇢, a chain: later groups see wider windows, and the RF column follows the longest "
            "chain) and the last group passes through. ∥: in a block that strides or projects, the groups' 3x3s "
            "run side by side and the last group goes through a 3x3 average pool."))
    if table.spec.preact:
        notes.append(_(
            "Pre-activation (ResNet v2): each block's rows start with BN-ReLU before its convs, and nothing follows "
            "the add; the stem has no BN-ReLU, and final_bn, final_relu normalize the last stage's output before "
            "the pool. A projection shortcut reads the block's input after its BN-ReLU."))
    return notes
