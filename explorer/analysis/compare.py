"""Two ResNets side by side: totals, aligned stages, where the extra cost goes, what it buys
(published accuracy), and the same picture through both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import Tensor, nn

from explorer.analysis.activations import Activation, CapturePoint, capture_activations, capture_points
from explorer.analysis.anatomy import LayerTable
from explorer.analysis.memory_needs import LOWER_SIZE, refuse_if_too_big, size_text
from explorer.runtime.i18n import N_, _
from explorer.analysis.predict import Prediction, grad_cam, predict
from explorer.analysis.profiling import ThroughputReport
from explorer.model.kinds import Block
from explorer.model.spec import ResNetSpec
from explorer.analysis.table_format import RowsTable, cell_word, format_shape, human_bytes, human_count
from explorer.analysis.timing import format_ms, format_rate, spread_text
from explorer.analysis.zoo import PublishedWeights, Recipe, weights_of


@dataclass(frozen=True)
class TotalsDiff:
    """One whole-model figure of models A and B."""

    metric: str  # English, marked for the catalog: `label` is the reader's
    a: int
    b: int

    @property
    def label(self) -> str:
        """The metric's name in the reader's language."""
        return _(self.metric)

    @property
    def difference(self) -> int:
        return self.b - self.a

    @property
    def ratio(self) -> float | None:
        return self.b / self.a if self.a else None


@dataclass(frozen=True)
class StagePair:
    """One stage of both models (None where a model has no such stage)."""

    name: str
    a_blocks: int | None
    b_blocks: int | None
    a_out: tuple[int, ...] | None
    b_out: tuple[int, ...] | None
    a_params: int
    b_params: int
    a_macs: int
    b_macs: int
    a_activation_bytes: int
    b_activation_bytes: int


def totals_diff(a: LayerTable, b: LayerTable) -> tuple[TotalsDiff, ...]:
    ta, tb = a.totals, b.totals
    return (
        TotalsDiff(N_("Depth (weighted layers)"), ta.depth, tb.depth),
        TotalsDiff(N_("Parameters"), ta.params, tb.params),
        TotalsDiff(N_("MACs (conv+linear)"), ta.macs, tb.macs),
        TotalsDiff(N_("FLOPs (= 2 × MACs)"), ta.flops, tb.flops),
        TotalsDiff(N_("Activation memory (bytes, fp32, one image)"), ta.activation_bytes, tb.activation_bytes),
        TotalsDiff(N_("Leaf layers"), ta.layers, tb.layers),
        TotalsDiff(N_("Receptive field (px)"), ta.rf_size, tb.rf_size),
    )


def aligned_stages(a: LayerTable, b: LayerTable) -> tuple[StagePair, ...]:
    """Stages of both models in order (stem, layer1 ..., head), matched by name."""
    sa, sb = {s.name: s for s in a.stages}, {s.name: s for s in b.stages}
    names = list(dict.fromkeys([*sa, *sb]))
    names.sort(key=lambda n: (n != "stem", n == "head"))  # stem first, head last, layers in order
    pairs = []
    for name in names:
        x, y = sa.get(name), sb.get(name)
        pairs.append(StagePair(
            name=name,
            a_blocks=x.blocks if x else None, b_blocks=y.blocks if y else None,
            a_out=x.out_shape if x else None, b_out=y.out_shape if y else None,
            a_params=x.params if x else 0, b_params=y.params if y else 0,
            a_macs=x.macs if x else 0, b_macs=y.macs if y else 0,
            a_activation_bytes=x.activation_bytes if x else 0, b_activation_bytes=y.activation_bytes if y else 0,
        ))
    return tuple(pairs)


def _times(b: float, a: float) -> str:
    """ "2.25×": how many times ``a`` ``b`` is, in the reader's language."""
    return _("{ratio:.2f}×").format(ratio=b / a) if a else "∞×"


def _change(before: int, after: int) -> str:
    """ "14.96 M → 16.54 M", or the exact counts where rounding would show no change."""
    rounded = human_count(before), human_count(after)
    return f"{before:,} → {after:,}" if rounded[0] == rounded[1] else f"{rounded[0]} → {rounded[1]}"


# A block type in a sentence ("uses basic blocks"), in the reader's language through _().
BLOCK_WORDS = {Block.BASIC: N_("basic blocks"), Block.BOTTLENECK: N_("bottleneck blocks")}


def block_words(block: Block) -> str:
    """ "basic blocks" / "bottleneck blocks", in the reader's language."""
    return _(BLOCK_WORDS[block])


def explain_difference(a: LayerTable, b: LayerTable) -> list[str]:
    """A few sentences on where B's extra (or smaller) cost goes, all from the tables, in the
    reader's language (call it where the sentences are shown)."""
    name_a, name_b = a.spec.name, b.spec.name
    ta, tb = a.totals, b.totals
    pairs = aligned_stages(a, b)
    lines = [
        _("**{name_b}** has {depth_b} weighted layers against {depth_a} for **{name_a}**, {params_times} the "
          "parameters ({params_b} vs {params_a}) and {macs_times} the MACs ({macs_b} vs {macs_a}).").format(
            name_a=name_a, name_b=name_b, depth_a=ta.depth, depth_b=tb.depth,
            params_times=_times(tb.params, ta.params), params_a=human_count(ta.params), params_b=human_count(tb.params),
            macs_times=_times(tb.macs, ta.macs), macs_a=human_count(ta.macs), macs_b=human_count(tb.macs)),
    ]
    macs_delta = tb.macs - ta.macs
    if macs_delta:
        top = max(pairs, key=lambda p: abs(p.b_macs - p.a_macs))
        lines.append(_(
            "The largest change in MACs is in **{stage}**: {macs} ({share:.0%} of the whole "
            "difference), with {blocks_a} → {blocks_b} blocks.").format(
            stage=top.name, macs=_change(top.a_macs, top.b_macs),
            share=(top.b_macs - top.a_macs) / macs_delta, blocks_a=top.a_blocks or 0, blocks_b=top.b_blocks or 0))
    params_delta = tb.params - ta.params
    if params_delta:
        top = max(pairs, key=lambda p: abs(p.b_params - p.a_params))
        lines.append(_("Most of the parameter change is in **{stage}**: {params} ({share:.0%} of it).")
                     .format(stage=top.name, params=_change(top.a_params, top.b_params),
                             share=(top.b_params - top.a_params) / params_delta))
    if a.spec.block is not b.spec.block:
        first_a = next(x for x in a.blocks if x.block is not None)
        first_b = next(x for x in b.blocks if x.block is not None)
        lines.append(_(
            "The blocks differ: {name_a} uses {blocks_a} ({convs_a}, expansion {expansion_a}), {name_b} uses "
            "{blocks_b} ({convs_b}, expansion {expansion_b}); the last stage outputs {channels_a} vs {channels_b} "
            "channels, so the fc layer has {fc_a:,} vs {fc_b:,} parameters.").format(
            name_a=name_a, blocks_a=block_words(a.spec.block), convs_a=first_a.convs,
            expansion_a=a.spec.block.expansion, name_b=name_b, blocks_b=block_words(b.spec.block),
            convs_b=first_b.convs, expansion_b=b.spec.block.expansion,
            channels_a=a.stages[-2].out_shape[0], channels_b=b.stages[-2].out_shape[0],
            fc_a=next(s for s in a.stages if s.name == "head").params,
            fc_b=next(s for s in b.stages if s.name == "head").params))
    if tb.activation_bytes != ta.activation_bytes:
        top = max(pairs, key=lambda p: abs(p.b_activation_bytes - p.a_activation_bytes))
        lines.append(_(
            "Activation memory per image: {bytes_a} → {bytes_b} ({times}); the largest change is in **{stage}** "
            "({stage_a} → {stage_b}).").format(
            bytes_a=human_bytes(ta.activation_bytes), bytes_b=human_bytes(tb.activation_bytes),
            times=_times(tb.activation_bytes, ta.activation_bytes), stage=top.name,
            stage_a=human_bytes(top.a_activation_bytes), stage_b=human_bytes(top.b_activation_bytes)))
    return lines


def accuracy_lines(name_a: str, weights_a: Sequence[PublishedWeights], name_b: str,
                   weights_b: Sequence[PublishedWeights]) -> list[str]:
    """What B's cost buys over A in published ImageNet accuracy, recipe by recipe, in the reader's
    language.

    Weights trained with the same recipe (`zoo.Recipe`, read from the meta, not the weights'
    name) are compared like for like; a model with weights of both recipes shows what a newer
    recipe alone buys at the same cost.
    """
    lines = []
    by_recipe_a = {w.recipe: w for w in weights_a}
    for b in weights_b:
        a = by_recipe_a.get(b.recipe)
        if a is None:
            continue
        figures = dict(name_b=name_b, acc_b=b.acc1, acc_a=a.acc1, name_a=name_a, gain=b.acc1 - a.acc1,
                       macs_times=_times(b.gmacs, a.gmacs), params_times=_times(b.params, a.params))
        lines.append(_(
            "With {weights} weights (the same recipe for both), **{name_b}** reaches {acc_b:g}% top-1 against "
            "{acc_a:g}% for **{name_a}**: {gain:+.2f} points for {macs_times} the MACs and {params_times} the "
            "parameters.").format(weights=b.weights, **figures) if a.weights == b.weights else _(
            "With weights of the same recipe ({recipe}: {weights_b} and {weights_a}), **{name_b}** reaches {acc_b:g}% "
            "top-1 against {acc_a:g}% for **{name_a}**: {gain:+.2f} points for {macs_times} the MACs and "
            "{params_times} the parameters.").format(recipe=b.recipe.label, weights_a=a.weights, weights_b=b.weights,
                                                     **figures))
    for name, weights in ((name_a, weights_a), (name_b, weights_b)):
        by_recipe = {w.recipe: w for w in weights}
        if len(by_recipe) > 1:
            old, new = by_recipe[Recipe.ORIGINAL], by_recipe[Recipe.NEW]
            lines.append(_("**{name}**'s {new} weights score {gain:+.2f} points over {old} with the same network and "
                           "MACs: a newer training recipe, not a bigger model.").format(
                name=name, new=new.weights, gain=new.acc1 - old.acc1, old=old.weights))
    return lines


def chart_highlights(a: ResNetSpec, b: ResNetSpec) -> dict[str, str]:
    """The torchvision models the accuracy chart draws large, each with its label ("A: resnet18"):
    A's and B's, where torchvision publishes weights for them."""
    highlighted: dict[str, str] = {}
    for label, spec in (("A", a), ("B", b)):
        weights = weights_of(spec)
        if weights:
            highlighted.setdefault(weights[0].model, f"{label}: {spec.name}")
    return highlighted


# ---- the same picture through both ---------------------------------------------------


def stage_output_points(spec: ResNetSpec, input_size: int | tuple[int, int]) -> tuple[CapturePoint, ...]:
    """The stem's output and each stage's output (its last block's), from `capture_points`."""
    points = capture_points(spec, input_size)
    last_block = {p.stage: p for p in points}  # in execution order: the last point of a stage wins
    return tuple(last_block.values())


@dataclass(frozen=True)
class StageMap:
    """One stage's output, averaged over its channels."""

    stage: str  # "stem", "layer1", …
    shape: tuple[int, int, int]  # (C, H, W) of the output
    mean_map: np.ndarray  # (H, W) float32: the mean over the C channels

    @property
    def stretched(self) -> np.ndarray:
        """The mean map stretched to [0, 1], so stages of very different ranges share one colour bar."""
        low, high = self.mean_map.min(), self.mean_map.max()
        return (self.mean_map - low) / (high - low) if high > low else np.zeros_like(self.mean_map)


@dataclass(frozen=True)
class ImageThrough:
    """One picture through one model: its stage outputs, top-5 and the top class's Grad-CAM."""

    stages: tuple[StageMap, ...]
    prediction: Prediction
    cam: np.ndarray  # (H, W) in [0, 1], for the top class from the last stage

    @property
    def bytes(self) -> int:
        return sum(s.mean_map.nbytes for s in self.stages) + self.cam.nbytes


def stage_maps(activations: Sequence[Activation]) -> tuple[StageMap, ...]:
    """The channel mean of each captured map."""
    return tuple(StageMap(a.point.stage, a.point.shape, a.maps.mean(axis=0)) for a in activations)


def image_through(model: nn.Module, spec: ResNetSpec, image: Tensor, class_names: Sequence[str]) -> ImageThrough:
    """``image`` (3, H, W), preprocessed for ``model``, through it: one capture of the stage
    outputs (`capture_activations`), the top-5 (`predict`) and Grad-CAM (`grad_cam`).

    Raises `DoesNotFit` before any of them when the largest (Grad-CAM's backward) would not fit;
    each then holds its own reservation while it runs.
    """
    size = (image.shape[1], image.shape[2])
    refuse_if_too_big(spec, size, next(model.parameters()).device,
               _("Grad-CAM of {model} at {size} px").format(model=spec.name, size=size_text(size)), LOWER_SIZE,
               activations=2.0)
    activations = capture_activations(model, spec, image, stage_output_points(spec, size))
    (prediction,) = predict(model, spec, image, class_names, topk=5)
    return ImageThrough(stage_maps(activations), prediction, grad_cam(model, spec, image, prediction.indices[0]))


def latency_lines(a: ThroughputReport, b: ThroughputReport) -> list[str]:
    """Whether the MACs ratio predicts the measured one, batch by batch, in the reader's language
    (images/s rounded as in `speed_table`)."""
    lines = []
    for ta, tb in zip(a.timings, b.timings):
        lines.append(_("Batch {batch}: **{model_b}** takes {time_times} the time of **{model_a}** for {macs_times} "
                       "the MACs ({rate_b} vs {rate_a} images/s).").format(
            batch=tb.batch, model_b=b.model, time_times=_times(tb.milliseconds, ta.milliseconds), model_a=a.model,
            macs_times=_times(b.macs, a.macs), rate_b=format_rate(tb.images_per_second),
            rate_a=format_rate(ta.images_per_second)))
    return lines


# ---- the page's tables, as rows (labels in the reader's language) ----------------------


def _ratio(d: TotalsDiff) -> str:
    return f"{d.ratio:.2f}×" if d.ratio is not None else "–"


def totals_table(a: LayerTable, b: LayerTable, c: LayerTable | None = None) -> RowsTable:
    """Each total of A and B (and C), the differences from A and the ratios to A."""
    if c is None:
        columns = ("", f"A: {a.spec.name}", f"B: {b.spec.name}", "B − A", "B / A")
        return RowsTable(columns, tuple(dict(zip(columns, (d.label, d.a, d.b, d.difference, _ratio(d))))
                                        for d in totals_diff(a, b)))
    columns = ("", f"A: {a.spec.name}", f"B: {b.spec.name}", f"C: {c.spec.name}", "B − A", "C − A", "B / A", "C / A")
    return RowsTable(columns, tuple(dict(zip(columns, (
        ab.label, ab.a, ab.b, ac.b, ab.difference, ac.difference, _ratio(ab), _ratio(ac))))
        for ab, ac in zip(totals_diff(a, b), totals_diff(a, c))))


def accuracy_table(published: dict[str, Sequence[PublishedWeights]]) -> RowsTable | None:
    """Every published weights entry of each model (by its label, "A" or "B"), with its recipe; None
    when neither has one."""
    columns = (_("Model"), _("Weights"), _("Recipe"), "acc@1 (%)", "acc@5 (%)", "GMACs", _("Params"))
    rows = tuple(dict(zip(columns, (f"{label}: {w.model}", w.weights, w.recipe.label, w.acc1, w.acc5, w.gmacs,
                                    w.params)))
                 for label, weights in published.items() for w in weights)
    return RowsTable(columns, rows, {"acc@1 (%)": 3, "acc@5 (%)": 3, "GMACs": 3}) if rows else None


def anatomy_table(table: LayerTable) -> RowsTable:
    """The first block of each stage: its convs, shortcut, params and MACs."""
    columns = (_("stage"), _("first block"), _("shortcut"), _("params/block"), _("MACs/block"))
    return RowsTable(columns, tuple(dict(zip(columns, (b.stage, b.convs, cell_word(b.shortcut), b.params, b.macs)))
                                    for b in table.blocks if b.block == 0))


def stages_table(pairs: Sequence[StagePair]) -> RowsTable:
    """The stages of A and B side by side (`aligned_stages`): blocks, output shapes, params, MACs."""
    columns = (_("stage"), _("A blocks"), _("A out"), _("B blocks"), _("B out"), _("A params"), _("B params"),
               _("A MACs"), _("B MACs"), _("B − A MACs"))
    return RowsTable(columns, tuple(dict(zip(columns, (
        p.name, p.a_blocks, format_shape(p.a_out) if p.a_out else "–", p.b_blocks,
        format_shape(p.b_out) if p.b_out else "–", p.a_params, p.b_params, p.a_macs, p.b_macs, p.b_macs - p.a_macs)))
        for p in pairs))


def matched_stage_names(tables: Sequence[LayerTable]) -> list[str]:
    """Every stage name of ``tables``, once: the stem first, the head last, as `aligned_stages` orders them."""
    names = list(dict.fromkeys(s.name for t in tables for s in t.stages))
    names.sort(key=lambda n: (n != "stem", n == "head"))
    return names


def stages_table_of(tables: Sequence[LayerTable]) -> RowsTable:
    """The stages of two or three models side by side (A, B, C), matched by name: blocks, output, params, MACs."""
    labels = "ABC"[:len(tables)]
    by_name = [{s.name: s for s in t.stages} for t in tables]
    names = matched_stage_names(tables)
    columns = (_("stage"), *(_("{model} blocks").format(model=m) for m in labels),
               *(_("{model} out").format(model=m) for m in labels), *(_("{model} params").format(model=m) for m in labels),
               *(_("{model} MACs").format(model=m) for m in labels))
    rows = []
    for name in names:
        found = [stages.get(name) for stages in by_name]
        rows.append(dict(zip(columns, (
            name, *(s.blocks if s else None for s in found), *(format_shape(s.out_shape) if s else "–" for s in found),
            *(s.params if s else 0 for s in found), *(s.macs if s else 0 for s in found)))))
    return RowsTable(columns, tuple(rows))


def speed_table(a: ThroughputReport, b: ThroughputReport) -> RowsTable:
    """Latency (median and the fastest–slowest run), throughput, achieved GMAC/s and peak memory of
    A and B at each batch size; times and rates rounded as in the sentences (`format_ms`, `format_rate`)."""
    columns = (_("Model"), _("Batch"), _("Latency (ms), median"), _("Fastest–slowest (ms)"), _("Runs"),
               _("Images/s"), _("GMAC/s achieved"), _("Peak memory"))
    rows = tuple(dict(zip(columns, (
        f"{label}: {report.model}", t.batch, format_ms(t.milliseconds), spread_text(t.timing), t.timing.runs,
        format_rate(t.images_per_second), round(report.gmacs_per_second(t), 1),
        human_bytes(t.peak_bytes) if t.peak_bytes is not None else _("CUDA only"))))
        for label, report in (("A", a), ("B", b)) for t in report.timings)
    return RowsTable(columns, rows, {columns[6]: 1})
