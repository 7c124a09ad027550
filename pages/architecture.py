"""Architecture: the layer table, diagram, shape flow, Table 1, counting conventions, measured cost.

Only the open tab is computed (tabs that rerun on change), and the table's controls and
the diagram's block picker are fragments: a click there reruns only that part.
"""

import streamlit as st

from explorer import (
    FOLD_AFTER, FOLD_HEAD, LEVEL_COLUMNS, MAX_BLOCKS, N_, PAGE_ROWS, Column, CostReport, DoesNotFit,
    LayerTable, Level, RowKind, _, architecture_diagram, cost_method_text, cost_notes, cost_table, costs_of,
    describe_device, figure_notes, format_ms, gate_cost_lines, head_field_note, heat_css, human_bytes, human_count,
    latency_chart, layer_table, line_key, measure_layer_costs, page_count, paper_figure, timing_text,
    paper_table1_rows, screen_columns, screen_records, shape_flow_chart, spec_to_token, table_notes, to_csv, to_png,
    to_svg, twin_of,
)
from explorer.ui.choices import clamped_number, in_every_language, valid_choice, valid_choices
from explorer.ui.classroom import page_fragment
from explorer.ui.models import cached_conventions
from explorer.ui.picker import sidebar_model
from explorer.ui.tables import display_frame, name_column, number_columns, show_table, table_or_error

# The tabs' labels; st.tabs keeps the shown (translated) label in st.session_state["arch_tab"].
TABS = (N_("Layer table"), N_("Diagram"), N_("Shape flow"), N_("Paper Table 1"), N_("Counting conventions"),
        N_("Measured cost"))
KIND_CSS = {RowKind.SHORTCUT: "background-color: #fde3c8", RowKind.DOWNSAMPLING: "background-color: #d6e9f8",
            RowKind.GATE: "background-color: #dcf2dc"}


def highlight(frame, rows):
    """Shortcut-branch rows orange, channel-gate rows green, rows where the map gets smaller blue
    (``frame`` row i is ``rows[i]``)."""
    return frame.style.apply(lambda row: [KIND_CSS.get(rows[row.name].kind, "")] * len(row), axis=1)


@page_fragment
def layer_table_view(table: LayerTable, report: CostReport | None) -> None:
    """Granularity, stage filter, one page of the table and its CSV; a click here reruns only this."""
    # One row where it fits (1400 px), wrapped onto two in a narrower window; the stage chips wrap
    # inside their box rather than scroll out of sight.
    controls = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    # Labels made now, in this run's language: AppTest calls format_func outside the script's thread.
    level_labels = {level: level.label for level in Level}
    valid_choice("arch_level", list(Level), label=level_labels.get)
    level = Level(controls.radio(_("Granularity"), list(Level), key="arch_level", horizontal=True,
                                 format_func=lambda level: level_labels[Level(level)]))  # Level(): a test may pass "blocks"
    stage_names = [s.name for s in table.stages]
    valid_choices("arch_stage_filter", stage_names, stage_names, context=tuple(stage_names))  # another model's: all
    chosen = controls.multiselect(_("Stages"), stage_names, key="arch_stage_filter", width=560, wrap=True)
    rows = [r for r in table.rows_at(level) if r.stage in chosen]
    columns = screen_columns(rows, LEVEL_COLUMNS[level])
    pages = page_count(len(rows))
    page = 1
    if pages > 1:  # Styler colours cost per row: a long table is shown a page at a time
        clamped_number("arch_page", 1, pages, 1)
        page = int(controls.number_input(_("Page"), min_value=1, max_value=pages, step=1, key="arch_page", width=130))
    first = (page - 1) * PAGE_ROWS
    shown = rows[first:first + PAGE_ROWS]
    frame = display_frame(screen_records(shown, columns), [c.label for c in columns])
    measured = report is not None and level is Level.LAYERS  # the measured cost, coloured on the table
    latency_label = _("Latency (ms)")
    if measured:
        frame.insert(frame.columns.get_loc(Column.MACS.label) + 1, latency_label,
                     [round(c.milliseconds, 3) for c in costs_of(report, shown)])
    styled = highlight(frame, shown)
    if measured:
        slowest = max(c.milliseconds for c in report.layers)  # one scale for every page
        styled = styled.map(lambda v: heat_css(v, slowest), subset=[latency_label])
    st.dataframe(styled, hide_index=True, height=min(38 + 35 * len(shown), 640), width="stretch",
                 column_config={**number_columns(frame), Column.NAME.label: name_column(r.name for r in shown)})
    paging = _("Rows {first:,}–{last:,} of {total:,} (page {page} of {pages}); the CSV holds all of them. ").format(
        first=first + 1, last=first + len(shown), total=len(rows), page=page, pages=pages) if pages > 1 else ""
    st.caption(paging + _(":orange-background[shortcut branch (projection / zero-pad)] · :blue-background[shrinks "
                          "the feature map (stride / pooling)] · MACs count conv and linear multiply-accumulates only; "
                          "FLOPs = 2 × MACs.") + " " + head_field_note(table)
               + "".join(" " + note for note in table_notes(table)))
    gates = gate_cost_lines(table)
    if gates:
        st.caption(" ".join(gates))
    # A callable is encoded only when the button is clicked; "ignore": a download reruns nothing.
    name = f"{table.spec.name.replace(' ', '_')}_{level.value}_{table.input_size[0]}px.csv"
    st.download_button(_("Download this table as CSV"), lambda: to_csv(rows, LEVEL_COLUMNS[level]), key="arch_csv", file_name=name,
                       mime="text/csv", on_click="ignore")


DIAGRAM_STYLES = (N_("Interactive blocks"), N_("Paper style (Figure 3)"))  # compared in English, shown through _()


@page_fragment
def diagram_view(table: LayerTable) -> None:
    """The interactive block diagram, or the paper's Figure 3; a click here reruns only this."""
    style_labels = {style: _(style) for style in DIAGRAM_STYLES}  # made in this run's language, as level_labels
    valid_choice("arch_diagram_style", DIAGRAM_STYLES, label=style_labels.get)
    style = st.radio(_("Style"), DIAGRAM_STYLES, key="arch_diagram_style", horizontal=True, format_func=style_labels.get)
    if style == DIAGRAM_STYLES[1]:  # He et al. 2016, Figure 3, drawn from this model's layer table
        controls = st.container(horizontal=True, vertical_alignment="bottom", gap="large")
        twin = controls.toggle(_("With the plain twin beside it"), key="arch_figure_twin",
                               help=_("The same network without shortcuts, as the paper's middle column."))
        slide = controls.toggle(_("Fit a 16:9 slide"), key="arch_figure_slide",
                                help=_("Cut each column between stages into as many columns as show it largest on a slide."))
        fold_after = int(controls.number_input(_("Fold stages of more blocks than"), min_value=FOLD_HEAD + 1,
                                               max_value=MAX_BLOCKS, value=FOLD_AFTER, step=1, key="arch_figure_fold",
                                               width=220, help=_("A folded stage shows its first two blocks, how many "
                                                                 "are left out, and its last block.")))
        twin_table = layer_table(twin_of(table.spec), table.input_size) if twin else None
        figure = paper_figure(table, twin=twin_table, fold_after=fold_after, columns=None if slide else 1)
        svg = to_svg(figure)
        buttons = st.container(horizontal=True)
        # Callables are encoded only when clicked; "ignore": a download reruns nothing.
        buttons.download_button(_("Download SVG"), lambda: svg, key="arch_figure_svg", file_name=f"{figure.name}_fig3.svg",
                                mime="image/svg+xml", on_click="ignore")
        buttons.download_button(_("Download PNG"), lambda: to_png(figure), key="arch_figure_png",
                                file_name=f"{figure.name}_fig3.png", mime="image/png", on_click="ignore")
        drawn = line_key(arc.kind for arc in figure.arcs)  # every kind drawn, in its line
        st.caption((_("As in He et al. 2016, Fig. 3: the layers in one column (BN and ReLU written before each "
                      "conv: pre-activation); **/2** where a layer halves the map, and the output shape (H×W×C) after "
                      "each stage.") if table.spec.preact else
                    _("As in He et al. 2016, Fig. 3: the layers in one column (BN and ReLU left out); **/2** where a "
                      "layer halves the map, and the output shape (H×W×C) after each stage."))
                   + (" " + _("Each shortcut is an arc beside its block: {shortcuts}.").format(shortcuts=drawn)
                      if drawn else "") + "".join(" " + note for note in figure_notes(table)))
        st.image(svg, width="content")
        return
    event = st.plotly_chart(architecture_diagram(table), key="arch_diagram", on_select="rerun",
                            selection_mode="points", width="stretch")
    picked = [p.get("customdata") for p in (event.selection.get("points", []) if event else []) if p.get("customdata")]
    if picked:
        block_rows = [r for r in table.rows if r.block_name == picked[0]]
        st.markdown(_("**{block}** — its layers:").format(block=picked[0]))
        layer_columns = screen_columns(block_rows, LEVEL_COLUMNS[Level.LAYERS])
        layers = display_frame(screen_records(block_rows, layer_columns), [c.label for c in layer_columns])
        st.dataframe(layers, hide_index=True, width="stretch", column_config=number_columns(layers))
    else:
        drawn = line_key(block.shortcut for block in table.blocks)
        st.caption((_("Shortcuts: {shortcuts}.").format(shortcuts=drawn) + " " if drawn else "")
                   + "".join(note + " " for note in figure_notes(table)) + _("Click a block to list its layers."))


st.title(_("Architecture"))
choice = sidebar_model()
if choice is None:
    st.info(_("Fix the model in the sidebar to see its architecture."))
    st.stop()
table = table_or_error(choice)
if table is None:
    st.stop()
spec, totals = table.spec, table.totals

batch = st.columns(4)[0].number_input(_("Batch size"), min_value=1, max_value=4096, value=1, step=1, key="arch_batch",
                                     help=_("For the activation memory and the measured cost."))
first, second = st.columns(3), st.columns(3)
first[0].metric(_("Depth"), totals.depth, help=_("Weighted layers on the longest path: stem conv + block convs + fc."))
first[1].metric(_("Parameters"), human_count(totals.params),
                help=_("{params:,} parameters.").format(params=totals.params))
first[2].metric(_("MACs (conv+linear)"), human_count(totals.macs),
                help=_("{macs:,} multiply-accumulates per image.").format(macs=totals.macs))
second[0].metric(_("FLOPs = 2 × MACs"), human_count(totals.flops),
                 help=_("{flops:,} per image.").format(flops=totals.flops))
second[1].metric(_("Activations, batch {batch}").format(batch=batch), human_bytes(totals.activation_bytes * batch),
                 help=_("Sum of every layer's float32 output for the batch: what training keeps for backward."))
second[2].metric(_("Receptive field"), f"{totals.rf_size} px",
                 help=_("Output stride {stride}.").format(stride=totals.output_stride) + " " + head_field_note(table))

device = describe_device()
cost_key = (spec_to_token(spec), choice.input_size, batch, device.device)
stored_cost = st.session_state.get("arch_cost")
report = stored_cost[1] if stored_cost and stored_cost[0] == cost_key else None
valid_choice("arch_tab", [_(label) for label in TABS], renamed=in_every_language(TABS))  # the open tab, in any language
layers_tab, diagram_tab, flow_tab, paper_tab, conventions_tab, cost_tab = st.tabs([_(label) for label in TABS],
                                                                                   key="arch_tab", on_change="rerun")

if layers_tab.open:
    with layers_tab:
        layer_table_view(table, report)

if diagram_tab.open:
    with diagram_tab:
        diagram_view(table)

if flow_tab.open:
    with flow_tab:
        st.plotly_chart(shape_flow_chart(table), key="arch_flow", width="stretch")

if paper_tab.open:
    with paper_tab:
        st.markdown(_("He et al. 2016, Table 1, **recomputed by the explorer** for 224×224 inputs. The paper put the "
                      "stride of its bottleneck blocks on the first 1x1 conv (caffe, v1); torchvision moved it to the "
                      "3x3 (v1.5), which costs more MACs and is more accurate. Only the last row is typed in from the "
                      "paper."))
        paper = paper_table1_rows()
        # A static table: its cells wrap, so every depth's column and whole block fit the page.
        st.table(display_frame(list(paper.rows), list(paper.columns)), hide_index=True)

if conventions_tab.open:
    with conventions_tab:
        # thop and torchinfo load with it: only once this tab opens
        from explorer import TOOLS, counts_table, layer_type_text

        st.markdown(_("The same model, counted four ways. Explorer MACs are what torchvision's weights meta and the "
                      "paper report. Each tool runs on its own private meta-device model."))
        st.markdown("\n".join("- " + _("**{term}**: {meaning}").format(term=_(label), meaning=_(counts))
                               for label, counts in TOOLS.values()))
        with st.spinner(_("Counting with torchinfo, thop and FlopCounterMode…")):
            conventions = cached_conventions(spec, choice.input_size)
        show_table(counts_table(conventions))
        st.markdown(_("**Why they differ**") + "\n\n"
                    + "\n".join("- " + _("**{term}**: {meaning}").format(term=layer_type_text(r.layer_type),
                                                                          meaning=r.explanation)
                                 for r in conventions.rows))
        gates = gate_cost_lines(table)
        if gates:
            st.markdown(_("**What the channel gates cost**") + "\n\n" + "\n".join(f"- {line}" for line in gates))

if cost_tab.open:
    with cost_tab:
        st.markdown(cost_method_text(device.device, batch, choice.input_size, device.label))
        if st.button(_("Measure one forward pass"), key="arch_measure"):
            try:
                with st.spinner(_("Running {model} on {device}…").format(model=spec.name, device=device.device)):
                    report = measure_layer_costs(spec, choice.input_size, device.device, batch)
                st.session_state["arch_cost"] = (cost_key, report)
            except DoesNotFit as error:
                st.error(str(error))
        if report is not None:
            st.metric(_("Whole forward (no hooks)"), f"{format_ms(report.forward_milliseconds)} ms")
            st.caption(_("Whole forward: {timing}.").format(timing=timing_text(report.forward)))
            for note in cost_notes(report):
                st.warning(note)
            latency_label = _("Latency (ms)")
            costs = cost_table(report, table)
            cost = display_frame(list(costs.rows), list(costs.columns))
            slowest = cost[latency_label].max()
            st.dataframe(cost.style.map(lambda v: heat_css(v, slowest), subset=[latency_label]),
                         hide_index=True, height=500, width="stretch", column_config=number_columns(cost))
            st.plotly_chart(latency_chart(report), key="arch_latency", width="stretch")
