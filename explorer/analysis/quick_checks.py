"""Quick-check questions for class mode: a multiple-choice question about the model on screen.

The right answer is computed from the layer table (`layer_table`), never typed, and the wrong
choices are the mistakes students make (the stride forgotten, a bias added, the inverse
ratio …). A `Question` holds only language-neutral values (shapes, numbers, names), so one
question made on one server is shared through the room store and each reader gets its text,
in their own language, from `question_text` and `explanation_text` where it is shown.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from explorer.analysis.anatomy import BlockRow, LayerRow, LayerTable
from explorer.analysis.shortcuts import ShortcutKind
from explorer.analysis.table_format import format_shape, human_bytes
from explorer.runtime.i18n import N_, _

CHOICES = 4  # choices a question offers when the table has that many distinct ones
MAX_CHOICES = 6  # the most a stored question may hold (the store is shared: never trust it)
MAX_TEXT = 200  # characters of any one stored string


class QuestionKind(str, enum.Enum):
    """What a question asks; the value is the word stored in the room store."""

    OUTPUT_SHAPE = "output_shape"  # the output shape of a named conv
    CONV_PARAMS = "conv_params"  # the weights of a named conv: k·k·(Cin/groups)·Cout
    MACS_RATIO = "macs_ratio"  # how many times model A's MACs model B needs (needs a second table)
    PROJECTION_BLOCKS = "projection_blocks"  # which blocks have a projection shortcut
    STAGE_RF = "stage_rf"  # the theoretical receptive field of a stage's output, in input pixels
    PEAK_ACTIVATION = "peak_activation"  # which block keeps the most layer outputs (bytes)


_KIND_LABELS = {
    QuestionKind.OUTPUT_SHAPE: N_("Output shape of a layer"),
    QuestionKind.CONV_PARAMS: N_("Parameters of a conv"),
    QuestionKind.MACS_RATIO: N_("MACs ratio of two models"),
    QuestionKind.PROJECTION_BLOCKS: N_("Blocks with a projection shortcut"),
    QuestionKind.STAGE_RF: N_("Receptive field of a stage"),
    QuestionKind.PEAK_ACTIVATION: N_("Most activation memory"),
}
# The facts each kind's explanation reads: a stored question must carry exactly these.
FACT_KEYS = {
    QuestionKind.OUTPUT_SHAPE: ("input", "in_shape", "kernel", "stride", "padding", "dilation", "channels", "out_shape"),
    QuestionKind.CONV_PARAMS: ("kernel", "c_in", "c_out", "groups", "product", "params"),
    QuestionKind.MACS_RATIO: ("model_a", "model_b", "input_a", "input_b", "macs_a", "macs_b", "ratio"),
    QuestionKind.PROJECTION_BLOCKS: ("option", "blocks"),
    QuestionKind.STAGE_RF: ("input", "rf", "jump"),
    QuestionKind.PEAK_ACTIVATION: ("input", "part", "bytes", "layers"),
}
# The placeholder the subject goes by in each kind's texts (translators read the name).
_SUBJECT_WORD = {
    QuestionKind.OUTPUT_SHAPE: "layer", QuestionKind.CONV_PARAMS: "layer", QuestionKind.MACS_RATIO: "models",
    QuestionKind.PROJECTION_BLOCKS: "models", QuestionKind.STAGE_RF: "stage", QuestionKind.PEAK_ACTIVATION: "models",
}


def kind_label(kind: QuestionKind) -> str:
    """The kind's name for the teacher's picker, in the reader's language."""
    return _(_KIND_LABELS[kind])


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{what} must be a string of at most {MAX_TEXT} characters, not {str(value)[:40]!r}…")
    return value


@dataclass(frozen=True)
class Question:
    """One multiple-choice question: language-neutral values only (texts are made when shown)."""

    kind: QuestionKind
    subject: str  # what it is about: "layer3.1.conv2", "layer4", "resnet18 → resnet50", a model's name
    choices: tuple[str, ...]  # distinct: "256×14×14", "589,824", "2.25×", "layer2.0, layer3.0"
    answer: int  # index of the right choice
    facts: tuple[tuple[str, str], ...]  # (key, value) the explanation needs, keys `FACT_KEYS[kind]`
    model: str  # the spec's name

    def __post_init__(self) -> None:
        if not isinstance(self.kind, QuestionKind):
            raise ValueError(f"kind {self.kind!r} is not a QuestionKind")
        _text(self.subject, "subject")
        _text(self.model, "model")
        if not isinstance(self.choices, tuple) or not 2 <= len(self.choices) <= MAX_CHOICES:
            raise ValueError(f"a question has 2 to {MAX_CHOICES} choices, not {self.choices!r:.80}")
        for choice in self.choices:
            _text(choice, "a choice")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"the choices must differ: {self.choices!r:.120}")
        if type(self.answer) is not int or not 0 <= self.answer < len(self.choices):
            raise ValueError(f"answer {self.answer!r} is no index of the {len(self.choices)} choices")
        if not isinstance(self.facts, tuple) or not all(isinstance(f, tuple) and len(f) == 2 for f in self.facts):
            raise ValueError("facts must be (key, value) pairs")
        for key, value in self.facts:
            _text(key, "a fact's key")
            _text(value, f"fact {key!r}")
        if tuple(key for key, _value in self.facts) != FACT_KEYS[self.kind]:
            raise ValueError(f"a {self.kind.value} question's facts are {FACT_KEYS[self.kind]}, "
                             f"not {tuple(k for k, _v in self.facts)}")


@dataclass(frozen=True)
class _Option:
    """One subject a kind could ask about: its right answer, the wrong ones by plausibility, the facts."""

    subject: str
    right: str
    wrong: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]


def _distinct_wrong(right: str, candidates: Sequence[str | None]) -> tuple[str, ...]:
    """The candidates that are neither the right answer nor a repeat, in order (None: no such mistake)."""
    return tuple(c for c in dict.fromkeys(candidates) if c and c != right and len(c) <= MAX_TEXT)


def _number(value: int) -> str:
    return f"{value:,}"


def _shape(shape: Sequence[int]) -> str:
    return format_shape(shape, "×")


def _input(table: LayerTable) -> str:
    return _shape(table.input_size)


def _convs(table: LayerTable) -> list[LayerRow]:
    """The convs of the feature maps' path: a gate's 1x1 convs work on one number per channel and have biases."""
    return [row for row in table.rows if row.type == "Conv2d" and row.call == 0 and not row.gate]


def _output_shape(table: LayerTable) -> Iterator[_Option]:
    for row in _convs(table):
        (c_in, h_in, w_in), (c, h, w) = row.in_shape, row.out_shape
        mistakes = [
            row.in_shape,  # the input instead of the output
            (c, h_in, w_in) if row.stride != (1, 1) else (c, math.ceil(h_in / 2), math.ceil(w_in / 2)),  # the stride
            (c, h - 2, w - 2),  # padding forgotten (off by 2)
            (c_in, h, w),  # the channels kept
            (c * 4, h, w),  # a bottleneck's expansion where there is none
            (c, h + 2, w + 2),
        ]
        right = _shape(row.out_shape)
        wrong = [_shape(m) for m in mistakes if min(m) >= 1]
        yield _Option(row.name, right, _distinct_wrong(right, wrong), (
            ("input", _input(table)), ("in_shape", _shape(row.in_shape)), ("kernel", _shape(row.kernel)),
            ("stride", str(row.stride[0])), ("padding", str(row.padding[0])), ("dilation", str(row.dilation[0])),
            ("channels", str(c)), ("out_shape", right)))


def _conv_params(table: LayerTable) -> Iterator[_Option]:
    for row in _convs(table):
        (kh, kw), c_in, c_out, groups = row.kernel, row.in_shape[0], row.out_shape[0], row.groups
        weights = kh * kw * (c_in // groups) * c_out  # ResNet convs have no bias: BN follows
        mistakes = [
            kh * kw * c_in * c_out,  # the groups forgotten
            weights + c_out,  # a bias added
            kh * kw * c_out,  # Cin forgotten
            row.macs,  # the MACs instead of the weights
            kh * (c_in // groups) * c_out,  # k once, not k·k
            (c_in // groups) * c_out,  # the kernel forgotten
        ]
        per_group = str(c_in) if groups == 1 else f"({c_in}/{groups})"
        right = _number(weights)
        yield _Option(row.name, right, _distinct_wrong(right, [_number(m) for m in mistakes]), (
            ("kernel", _shape(row.kernel)), ("c_in", str(c_in)), ("c_out", str(c_out)), ("groups", str(groups)),
            ("product", f"{kh}·{kw}·{per_group}·{c_out}"), ("params", right)))


def _times(ratio: float) -> str:
    return f"{ratio:.2f}×"


def _macs_ratio(a: LayerTable, b: LayerTable | None) -> Iterator[_Option]:
    if b is None:
        return
    ta, tb = a.totals, b.totals
    ratio = tb.macs / ta.macs
    mistakes = [
        tb.params / ta.params,  # the parameters' ratio
        ta.macs / tb.macs,  # the inverse
        tb.depth / ta.depth,  # the depth's ratio
        2 * ratio,  # B's FLOPs over A's MACs
        tb.activation_bytes / ta.activation_bytes,  # the activations' ratio
    ]
    right = _times(ratio)
    yield _Option(f"{a.spec.name} → {b.spec.name}", right, _distinct_wrong(right, [_times(m) for m in mistakes]), (
        ("model_a", a.spec.name), ("model_b", b.spec.name), ("input_a", _input(a)), ("input_b", _input(b)),
        ("macs_a", _number(ta.macs)), ("macs_b", _number(tb.macs)), ("ratio", right)))


def _block_list(names: Sequence[str], blocks: Sequence[BlockRow]) -> str:
    """Block names in table order, a run of three or more in one stage shortened: "layer1.0–2, layer2.0"."""
    chosen = [b for b in blocks if b.name in set(names)]
    parts: list[str] = []
    run: list[BlockRow] = []
    for block in [*chosen, None]:
        if run and (block is None or block.stage != run[-1].stage or block.block != run[-1].block + 1):
            parts += [f"{run[0].name}–{run[-1].block}"] if len(run) >= 3 else [r.name for r in run]
            run = []
        if block is not None:
            run.append(block)
    return ", ".join(parts)


def _projection_blocks(table: LayerTable) -> Iterator[_Option]:
    blocks = [b for b in table.blocks if b.block is not None]
    projecting = {b.name for b in blocks if b.shortcut in (ShortcutKind.PROJECTION, ShortcutKind.AVG_PROJECTION)}
    if not projecting:
        return
    firsts = [b.name for b in blocks if b.block == 0]
    mistakes = [
        projecting ^ {blocks[0].name},  # layer1.0: a projection in bottleneck nets (64 → 256), none in basic ones
        set(firsts[1:]),  # only where the resolution halves
        set(firsts),  # every stage's first block
        {b.name for b in blocks},  # every block
        *(projecting ^ {b.name} for b in reversed(blocks)),  # one forgotten, or one too many
        *(projecting - {p} | {b.name} for p in sorted(projecting) for b in blocks),  # one in the wrong block
    ]
    right = _block_list(sorted(projecting), blocks)
    wrong = [_block_list(sorted(m), blocks) for m in mistakes if m]
    yield _Option(table.spec.name, right, _distinct_wrong(right, wrong),
                  (("option", table.spec.shortcut.value), ("blocks", right)))


def _stage_rf(table: LayerTable) -> Iterator[_Option]:
    stages = [s for s in table.stages if s.name != "head"]
    for index, stage in enumerate(stages):
        last = max(r.index for r in table.rows if r.stage == stage.name)
        # The field with the jump forgotten: kernels added up as if every stride were 1.
        unscaled = 1 + sum((r.kernel[0] - 1) * (r.dilation or (1, 1))[0] for r in table.rows[:last + 1]
                           if r.kernel is not None and not r.downsample and not r.gate)
        mistakes = [
            stages[index - 1].rf_size if index else None,  # the stage before
            stages[index + 1].rf_size if index + 1 < len(stages) else None,  # the stage after
            unscaled,
            stage.rf_jump,  # the jump (cumulative stride) for the field
            min(table.input_size),  # "it sees the whole image"
        ]
        right = _number(stage.rf_size)
        wrong = [_number(m) for m in mistakes if m is not None]
        yield _Option(stage.name, right, _distinct_wrong(right, wrong), (
            ("input", _input(table)), ("rf", right), ("jump", _number(stage.rf_jump))))


def _peak_activation(table: LayerTable) -> Iterator[_Option]:
    peak = max(table.blocks, key=lambda b: b.activation_bytes)
    below = [b for b in table.blocks if b.activation_bytes < peak.activation_bytes]  # a tie would be right too
    residual = [b for b in below if b.block is not None]
    mistakes = [
        max(below, key=lambda b: math.prod(b.out_shape)) if below else None,  # the largest output tensor alone
        max(residual, key=lambda b: b.macs) if residual else None,  # the most work
        max(residual, key=lambda b: b.params) if residual else None,  # the most weights
        residual[-1] if residual else None,  # the last block, the widest
        *sorted(below, key=lambda b: -b.activation_bytes),  # then the head, last: a tiny one
    ]
    wrong = [m.name for m in mistakes if m is not None]
    yield _Option(table.spec.name, peak.name, _distinct_wrong(peak.name, wrong), (
        ("input", _input(table)), ("part", peak.name), ("bytes", human_bytes(peak.activation_bytes)),
        ("layers", str(peak.layers))))


def _options(kind: QuestionKind, table: LayerTable, other: LayerTable | None) -> Iterator[_Option]:
    """Every subject ``kind`` could ask about in ``table`` that has at least one wrong choice."""
    made = {
        QuestionKind.OUTPUT_SHAPE: lambda: _output_shape(table),
        QuestionKind.CONV_PARAMS: lambda: _conv_params(table),
        QuestionKind.MACS_RATIO: lambda: _macs_ratio(table, other),
        QuestionKind.PROJECTION_BLOCKS: lambda: _projection_blocks(table),
        QuestionKind.STAGE_RF: lambda: _stage_rf(table),
        QuestionKind.PEAK_ACTIVATION: lambda: _peak_activation(table),
    }[kind]()
    return (option for option in made if option.wrong)


def available_kinds(table: LayerTable, other: LayerTable | None = None) -> tuple[QuestionKind, ...]:
    """The kinds `make_question` can ask about ``table`` (MACS_RATIO only with ``other``)."""
    return tuple(kind for kind in QuestionKind if next(_options(kind, table, other), None) is not None)


def make_question(kind: QuestionKind, table: LayerTable, rng: random.Random,
                  other: LayerTable | None = None) -> Question:
    """A question of ``kind`` on ``table`` (and ``other``, model B, for MACS_RATIO): the subject and
    the right choice's place drawn from ``rng``, so one seed gives one question on every server.

    Raises ValueError where ``kind`` has no two distinct choices here (see `available_kinds`).
    """
    options = list(_options(kind, table, other))
    if not options:
        raise ValueError(f"No {kind.value} question fits {table.spec.name}"
                         f"{'' if other is None else ' and ' + other.spec.name}: "
                         f"ask one of {', '.join(k.value for k in available_kinds(table, other))}.")
    option = rng.choice(options)
    choices = [option.right, *option.wrong[:CHOICES - 1]]
    rng.shuffle(choices)
    return Question(kind=kind, subject=option.subject, choices=tuple(choices), answer=choices.index(option.right),
                    facts=option.facts, model=table.spec.name)


# ---- texts, made where they are shown ---------------------------------------------------

_QUESTIONS = {
    QuestionKind.OUTPUT_SHAPE: N_("What is the output shape (C×H×W) of {layer} in {model}, for one {input} image?"),
    QuestionKind.CONV_PARAMS: N_("How many parameters does {layer} in {model} have?"),
    QuestionKind.MACS_RATIO: N_("How many times the MACs of {model_a} ({input_a} image) does {model_b} "
                                "({input_b} image) need?"),
    QuestionKind.PROJECTION_BLOCKS: N_("Which blocks of {model} have a projection shortcut?"),
    QuestionKind.STAGE_RF: N_("How many input pixels wide is the theoretical receptive field of one output of "
                              "{stage} in {model}?"),
    QuestionKind.PEAK_ACTIVATION: N_("Which of these parts of {model} holds the most activation memory (all its "
                                     "layers' outputs, float32, one {input} image)?"),
}
_EXPLANATIONS = {
    QuestionKind.OUTPUT_SHAPE: N_(
        "{layer} is a {kernel} conv with stride {stride}, padding {padding}, dilation {dilation} and {channels} "
        "filters. On its {in_shape} input each side becomes ⌊(side + 2·padding − dilation·(kernel − 1) − 1) / "
        "stride⌋ + 1, and each filter gives one output channel: {out_shape}."),
    QuestionKind.CONV_PARAMS: N_(
        "A {kernel} conv with {c_in} input and {c_out} output channels: each of the {c_out} filters weighs {kernel} "
        "pixels of all {c_in} input channels, {product} = {params} weights. ResNet convs have no bias (the BatchNorm "
        "after them has its own shift)."),
    QuestionKind.MACS_RATIO: N_(
        "MACs count the multiply-accumulates of the conv and linear layers for one image (FLOPs = 2 × MACs, the same "
        "ratio): {model_b} needs {macs_b} and {model_a} {macs_a}, so {macs_b} / {macs_a} = {ratio}."),
    QuestionKind.PROJECTION_BLOCKS: N_(
        "A block's input can be added to its output only where their shapes match. Shortcut option {option} "
        "projects x with a 1x1 conv + BN (average-pooled first in ResNet-D) where the block changes the shape "
        "(stride 2, or other channels out than in): {blocks}."),
    QuestionKind.STAGE_RF: N_(
        "Each k×k conv or pool widens the field by (k − 1) × the jump, the product of the strides before it "
        "(Araujo et al. 2019). Summed to the end of {stage} that gives {rf} px, with neighbouring outputs {jump} px "
        "apart. The theoretical field may be wider than the {input} input: padding fills the rest."),
    QuestionKind.PEAK_ACTIVATION: N_(
        "{part} keeps {bytes} of outputs ({layers} layer outputs, float32, one {input} image), the most of these "
        "parts. Activation memory is C×H×W of every layer output, so it follows the resolution as much as the "
        "channels: each stride 2 divides H×W by 4."),
}
# A grouped conv (ResNeXt): each filter sees only its group's channels.
_GROUPED_CONV = N_(
    "A {kernel} conv with {c_in} input and {c_out} output channels in {groups} groups: each of the {c_out} filters "
    "weighs {kernel} pixels of the {c_in}/{groups} channels of its group, {product} = {params} weights. ResNet convs "
    "have no bias (the BatchNorm after them has its own shift).")
# Option C projects every block, shape change or not: its own explanation.
_EVERY_BLOCK_PROJECTS = N_(
    "Shortcut option {option} projects x with a 1x1 conv + BN in every block, whether the shape changes or not: "
    "{blocks}.")


def _names(q: Question) -> dict[str, str]:
    return {"model": q.model, _SUBJECT_WORD[q.kind]: q.subject, **dict(q.facts)}


def question_text(q: Question) -> str:
    """The question in the reader's language (call it where it is shown)."""
    return _(_QUESTIONS[q.kind]).format(**_names(q))


def explanation_text(q: Question) -> str:
    """Why the right choice is right, from the question's facts, in the reader's language."""
    facts, template = dict(q.facts), _EXPLANATIONS[q.kind]
    if q.kind is QuestionKind.PROJECTION_BLOCKS and facts["option"] == "C":
        template = _EVERY_BLOCK_PROJECTS
    if q.kind is QuestionKind.CONV_PARAMS and facts["groups"] != "1":
        template = _GROUPED_CONV
    return _(template).format(**_names(q))


_KEYS = ("kind", "subject", "choices", "answer", "facts", "model")


def question_to_dict(q: Question) -> dict[str, object]:
    """The question as JSON-able plain values, for the room store shared by the servers."""
    return {"kind": q.kind.value, "subject": q.subject, "choices": list(q.choices), "answer": q.answer,
            "facts": [list(fact) for fact in q.facts], "model": q.model}


def question_from_dict(data: object) -> Question:
    """A question from `question_to_dict`'s form, every part checked: the store is shared, so a
    malformed entry raises ValueError rather than reaching a page."""
    if not isinstance(data, dict) or set(data) != set(_KEYS):
        raise ValueError(f"a stored question has the keys {_KEYS}, not {str(data)[:80]!r}")
    try:
        kind = QuestionKind(data["kind"])
    except (ValueError, TypeError):
        raise ValueError(f"unknown question kind {str(data['kind'])[:40]!r}") from None
    choices, facts = data["choices"], data["facts"]
    if not isinstance(choices, list) or len(choices) > MAX_CHOICES:
        raise ValueError(f"choices must be a list of at most {MAX_CHOICES} strings")
    if not isinstance(facts, list) or not all(isinstance(f, list) and len(f) == 2 for f in facts):
        raise ValueError("facts must be a list of [key, value] pairs")
    return Question(kind=kind, subject=data["subject"], choices=tuple(choices), answer=data["answer"],
                    facts=tuple(tuple(f) for f in facts), model=data["model"])
