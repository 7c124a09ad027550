"""Compare: two ResNets side by side (ResNet-18 vs ResNet-50 by default)."""

import streamlit as st

from explorer import charts, picker, ui
from explorer.compare import aligned_stages, explain_difference, totals_diff
from explorer.table_format import format_shape

st.title("Compare two ResNets")
left, right = st.columns(2)
choice_a = picker.model_picker("a", "resnet18", left, "Model A", with_input_size=False)
choice_b = picker.model_picker("b", "resnet50", right, "Model B", with_input_size=False)
if choice_a is None or choice_b is None:
    st.info("Fix the model marked in red to see the comparison.")
    st.stop()
cifar = choice_a.spec.is_cifar and choice_b.spec.is_cifar
if "cmp_input" not in st.session_state:
    st.session_state["cmp_input"] = 32 if cifar else 224
size = int(st.columns(4)[0].number_input("Input size for both (px)", min_value=1, max_value=picker.MAX_INPUT_SIZE, step=16, key="cmp_input"))
table_a = ui.table_or_error(picker.ModelChoice(choice_a.spec, size), left)
table_b = ui.table_or_error(picker.ModelChoice(choice_b.spec, size), right)
if table_a is None or table_b is None:
    st.stop()
name_a, name_b = table_a.spec.name, table_b.spec.name

st.subheader("Where the difference goes")
st.markdown("\n".join(f"- {line}" for line in explain_difference(table_a, table_b)))

st.subheader("Totals")
totals_frame = ui.display_frame([{
    "": d.metric, f"A: {name_a}": d.a, f"B: {name_b}": d.b, "B − A": d.difference,
    "B / A": f"{d.ratio:.2f}×" if d.ratio is not None else "–",
} for d in totals_diff(table_a, table_b)], ["", f"A: {name_a}", f"B: {name_b}", "B − A", "B / A"])
st.dataframe(totals_frame, hide_index=True, width="stretch", column_config=ui.number_columns(totals_frame))

pairs = aligned_stages(table_a, table_b)
st.plotly_chart(charts.stage_bars(pairs, name_a, name_b), key="cmp_bars", width="stretch")

st.subheader("Block anatomy")
for column, table in zip(st.columns(2), (table_a, table_b)):
    spec = table.spec
    column.markdown(f"**{spec.name}** — {spec.block.value} blocks, expansion {spec.block.expansion}: a block's "
                    f"output has {spec.block.expansion}× its inner width.")
    anatomy = ui.display_frame([{
        "stage": b.stage, "first block": b.convs, "shortcut": b.shortcut, "params/block": b.params,
        "MACs/block": b.macs,
    } for b in table.blocks if b.block == 0], ["stage", "first block", "shortcut", "params/block", "MACs/block"])
    column.dataframe(anatomy, hide_index=True, width="stretch", column_config=ui.number_columns(anatomy))

st.subheader("Stages, aligned")
stage_rows = [{
    "stage": p.name,
    "A blocks": p.a_blocks, "A out": format_shape(p.a_out) if p.a_out else "–",
    "B blocks": p.b_blocks, "B out": format_shape(p.b_out) if p.b_out else "–",
    "A params": p.a_params, "B params": p.b_params, "A MACs": p.a_macs, "B MACs": p.b_macs,
    "B − A MACs": p.b_macs - p.a_macs,
} for p in pairs]
stages_frame = ui.display_frame(stage_rows, list(stage_rows[0]))
st.dataframe(stages_frame, hide_index=True, width="stretch", column_config=ui.number_columns(stages_frame))
