"""Command line: ``python -m explorer table resnet50 [--csv F] [--json] ...``, ``predict IMG...``, ``presets``,
``degradation``, ``figure resnet34 --out F.svg``.

Errors a user can cause print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from explorer import (
    CIFAR, DEFAULT_DEEP, DEFAULT_SHALLOW, FOLD_AFTER, IMAGENET, LEVEL_COLUMNS, MIN_TRAIN_BATCH, MOMENTUM, PRESETS,
    SPEC_FIELDS, SUMMARY_WINDOW, TASK_EXAMPLES, WARMUP_STEPS, WEIGHT_DECAY, FieldInfo, ImageError, LayerTable,
    Level, ResNetSpec, Text, WeightsUnavailable, Widget, available_weights, cifar_resnet, class_names_for,
    decode_image, default_weights, degradation_models, download_weights, fit_head, get_preset, guess_spec,
    human_bytes, human_count, layer_table, load_model, paper_figure, pick_device, predict, preprocess,
    preprocessing_for, read_checkpoint, records, shown, spec_for_depth, spec_from_token, summarize, task_classes,
    to_csv, to_png, to_svg, train_models, twin_of, weights_source,
)


_INPUT_HELP = f"input side or HxW (default {IMAGENET.input_size}, CIFAR {CIFAR.input_size})"


class UsageError(Exception):
    """A bad command line; reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _input_size(text: str) -> int | tuple[int, int]:
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 224 or 224x320, got {text!r}") from None
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return (parts[0], parts[1])
    raise argparse.ArgumentTypeError(f"expected a size like 224 or 224x320, got {text!r}")


def _flag(info: FieldInfo) -> str:
    return "--" + info.flag.replace("_", "-")


def _add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """A positional preset, ``--depth``, and one flag per `ResNetSpec` field (from its `FieldInfo`)."""
    parser.add_argument("preset", nargs="?", default="resnet50", help="starting point (see `presets`)")
    parser.add_argument("--depth", type=int, help="stage counts for this depth instead of --stages: three equal "
                                                  "stages with a CIFAR stem, else four in the paper's proportions")
    for name, info in SPEC_FIELDS.items():
        if info.widget is Widget.CHECKBOX:
            parser.add_argument(_flag(info), dest=name, action=argparse.BooleanOptionalAction, help=info.help)
        else:
            parser.add_argument(_flag(info), dest=name, choices=info.choices or None,
                                metavar=None if info.choices else info.flag.upper(), help=info.help)


def spec_from_args(args: argparse.Namespace) -> ResNetSpec:
    """The preset with every given option applied on top (validated by `ResNetSpec`).

    ``--depth`` sets the stage counts through `spec_for_depth`, from the preset with the
    other options; per-stage options (``--planes``, ``--dilate``) then apply to those stages.
    """
    base = get_preset(args.preset)
    changes: dict[str, Any] = {}
    for name, info in SPEC_FIELDS.items():
        value = getattr(args, name)
        if value is None:
            continue
        try:
            changes[name] = value if isinstance(value, bool) else info.parse(value)
        except ValueError as error:
            raise ValueError(f"{_flag(info)}: {error}") from None
    if args.depth is None:
        return base.with_changes(**changes)
    if "stages" in changes:
        raise ValueError("Give either --depth or --stages, not both.")
    per_stage = {name: changes.pop(name) for name in list(changes) if SPEC_FIELDS[name].per_stage}
    return spec_for_depth(base.with_changes(**changes), args.depth).with_changes(**per_stage)


def _text_table(rows: list[dict[str, object]]) -> str:
    """Fixed-width text: numbers right-aligned with thousands separators."""
    if not rows:
        return ""
    headers = list(rows[0])
    cells = [[f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else "" if v is None else str(v)
              for v in row.values()] for row in rows]
    numeric = [all(isinstance(row[h], int) for row in rows) for h in headers]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def _totals_line(table: LayerTable) -> str:
    t = table.totals
    return (
        f"{table.spec.name} at {t.input_size[0]}x{t.input_size[1]}: depth {t.depth}, params {t.params:,}, "
        f"MACs (conv+linear) {t.macs:,} ({human_count(t.macs)}; FLOPs = 2 x MACs = {human_count(t.flops)}), "
        f"activations {human_bytes(t.activation_bytes)} per image (fp32), receptive field {t.rf_size} px, "
        f"output stride {t.output_stride}"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def table_json(table: LayerTable, level: Level) -> dict[str, Any]:
    """``{"spec", "totals", "level", "rows"}`` with plain integers and lists, for scripts."""
    totals = {key: _plain(value) for key, value in asdict(table.totals).items()}
    totals["flops"] = table.totals.flops
    return {
        "spec": {"name": table.spec.name, "depth": table.spec.depth, **table.spec.to_dict()},
        "totals": totals,
        "level": level.value,
        "rows": [{k: _plain(v) for k, v in asdict(row).items()} for row in table.rows_at(level)],
    }


def _cmd_table(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    table = layer_table(spec, args.input)
    level = Level(args.level)
    columns = LEVEL_COLUMNS[level]
    rows = table.rows_at(level)
    if args.csv:
        text = to_csv(rows, columns)
        if args.csv == "-":
            sys.stdout.write(text)
            return 0
        with open(args.csv, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        print(f"wrote {len(rows)} rows to {args.csv}", file=sys.stderr)
    if args.json:
        print(json.dumps(table_json(table, level), indent=1))
    elif not args.csv:
        print(_text_table(records(rows, columns)))
        print()
        print(_totals_line(table))
    return 0


def _cmd_presets(_: argparse.Namespace) -> int:
    rows = []
    for name, spec in PRESETS.items():
        totals = layer_table(spec, spec.natural_input_size).totals
        rows.append({
            "Preset": name, "Depth": spec.depth, "Block": spec.block.value,
            "Stages": ",".join(map(str, spec.stages)), "Params": totals.params,
            "GMACs": f"{totals.macs / 1e9:.3f}", "Input": f"{totals.input_size[0]}",
        })
    print(_text_table(rows))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    checkpoint = None
    if args.checkpoint:
        with open(args.checkpoint, "rb") as f:
            checkpoint = read_checkpoint(f.read())
        for note in checkpoint.notes:  # what reading changed, apart from the results on stdout
            print(f"note: {note}", file=sys.stderr)
    if args.model:
        spec = spec_from_token(args.model)
    elif checkpoint is not None:
        spec = guess_spec(checkpoint.state_dict)
        if spec is None:
            raise ValueError("Cannot tell which ResNet this checkpoint is; give --model.")
    else:
        spec = get_preset("resnet50")
    head_note = None
    if checkpoint is not None:
        spec, head_note = fit_head(spec, checkpoint)
    source = weights_source(spec, args.weights, checkpoint, args.seed)
    device = pick_device()
    model = load_model(spec, source, device, checkpoint)
    classes = class_names_for(spec, source, checkpoint, Path(args.classes).read_bytes() if args.classes else None)
    if classes.skipped:
        raise ValueError(" ".join(classes.skipped))
    settings = preprocessing_for(spec, source, args.input or spec.natural_input_size)
    results = []
    for path in args.images:
        with open(path, "rb") as f:
            try:
                decoded = decode_image(f.read())
            except ImageError as error:
                raise ValueError(f"{path}: {error}") from None
        (prediction,) = predict(model, spec, preprocess(decoded.image, settings).tensor, classes.names, args.topk)
        results.append((path, prediction))
    if args.json:
        print(json.dumps({
            "model": spec.name, "weights": source.label, "device": device, "note": head_note,
            "images": [{"image": path, "milliseconds": round(p.milliseconds, 3), "predictions": [
                {"label": label, "index": index, "probability": probability}
                for label, index, probability in zip(p.labels, p.indices, p.probabilities)]} for path, p in results],
        }, indent=1))
        return 0
    print(f"{spec.name}, {source.label}, on {device}")
    if head_note:
        print(head_note)
    for path, p in results:
        print(f"{path} ({p.milliseconds:.1f} ms)")
        for rank, (label, probability) in enumerate(zip(p.labels, p.probabilities), start=1):
            print(f"  {rank}. {label:<30} {probability:7.2%}")
    return 0


def _cmd_degradation(args: argparse.Namespace) -> int:
    """Train plain and residual CIFAR nets at two depths, as the zero_init page does, and print where they end."""
    shallow, deep = cifar_resnet(args.shallow), cifar_resnet(args.deep)
    size = args.input or deep.natural_input_size
    if args.steps < 1 or args.lr <= 0:
        raise ValueError(f"--steps must be at least 1 and --lr above 0, got {args.steps} and {args.lr}.")
    batch = max(args.batch, MIN_TRAIN_BATCH)
    histories = train_models(degradation_models(shallow, deep), args.steps, batch_size=batch, lr=args.lr,
                             seed=args.seed, input_size=size)
    classes = task_classes(deep.num_classes)
    print(f"Degradation (He et al. 2016, Fig. 1): CIFAR ResNets with and without shortcuts, trained on the shapes "
          f"task ({len(classes)} classes: {', '.join(classes)}; chance {1 / len(classes):.0%}) with a "
          f"{len(classes)}-class head in place of their fc")
    print(f"settings: input {size}x{size}, {args.steps} steps, lr {args.lr}, batch {batch}, seed {args.seed}, "
          f"{TASK_EXAMPLES} pictures, SGD momentum {MOMENTUM}, weight decay {WEIGHT_DECAY}, {WARMUP_STEPS}-step warm-up")
    rows = []
    for label, history in histories.items():
        summary = summarize(label, history)
        rows.append({
            "net": label, "steps": summary.steps, "final loss": f"{summary.final_loss:.3f}",
            "final batch acc": f"{summary.final_accuracy:.0%}",
            f"mean loss, last {SUMMARY_WINDOW}": f"{summary.late_loss:.3f}",
            f"mean batch acc, last {SUMMARY_WINDOW}": f"{summary.late_accuracy:.0%}",
        })
    print(_text_table(rows))
    return 0


def _cmd_figure(args: argparse.Namespace) -> int:
    """Write the paper-style architecture figure (He et al. 2016, Fig. 3) as SVG or PNG, by the file's suffix."""
    out = Path(args.out)
    encoders = {".svg": lambda f: to_svg(f).encode(), ".png": to_png}
    if out.suffix.lower() not in encoders:
        raise ValueError(f"--out must end in .svg or .png, got {out.name!r}.")
    spec = spec_from_args(args)
    table = layer_table(spec, args.input or spec.natural_input_size)
    twin = layer_table(twin_of(spec), table.input_size) if args.plain_twin else None
    figure = paper_figure(table, twin=twin, fold_after=args.fold_after, columns=None if args.slide else args.columns)
    out.write_bytes(encoders[out.suffix.lower()](figure))
    print(f"wrote {out} ({figure.width:.0f}x{figure.height:.0f} px)", file=sys.stderr)
    return 0


def _cmd_fetch_weights(args: argparse.Namespace) -> int:
    """Download torchvision ImageNet weights into the cache (for offline machines and images)."""
    for name in args.models:
        options = available_weights(get_preset(name))
        if not options:
            raise ValueError(f"{name} has no torchvision ImageNet weights.")
        chosen = [args.weights or default_weights(get_preset(name))]
        for weights_name in chosen:
            if weights_name not in options:
                raise ValueError(f"Unknown weights {weights_name!r} for {name}; available: {', '.join(options)}.")

            def report(fraction: float, text: Text = "", partial: object = None, label: str = name) -> None:
                share = f" ({fraction:.0%})" if fraction else ""
                print(f"\r{label}: {shown(text)}{share}", end="", file=sys.stderr, flush=True)

            path = download_weights(options[weights_name], report)
            print(file=sys.stderr)
            print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m explorer", description="ResNet Explorer on the command line.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    table = commands.add_parser("table", help="print the layer table of a ResNet")
    _add_spec_arguments(table)
    table.add_argument("--input", type=_input_size, default=None, help=_INPUT_HELP)
    table.add_argument("--level", choices=[level.value for level in Level], default=Level.LAYERS.value,
                       help=", ".join(level.label for level in Level))
    table.add_argument("--csv", metavar="FILE", help="write the table as CSV (- for stdout)")
    table.add_argument("--json", action="store_true", help="print {spec, totals, rows} as JSON")
    table.set_defaults(run=_cmd_table)
    predict_cmd = commands.add_parser("predict", help="classify images with ImageNet weights or a checkpoint")
    predict_cmd.add_argument("images", nargs="+", metavar="IMG")
    predict_cmd.add_argument("--model", help="preset or model link, e.g. resnet50 or 'resnet50;stem=deep' "
                                             "(default resnet50, or what the checkpoint looks like)")
    predict_cmd.add_argument("--weights", help="torchvision weights name (default: the model's DEFAULT), or random")
    predict_cmd.add_argument("--checkpoint", metavar="FILE", help="a state dict file read with weights_only=True, or a .safetensors file (judged by content); a fc with other classes replaces the model's")
    predict_cmd.add_argument("--classes", metavar="FILE", help="class names, one per line; overrides the checkpoint's")
    predict_cmd.add_argument("--topk", type=int, default=5)
    predict_cmd.add_argument("--input", type=int, help=f"input side for non-ImageNet weights (default {IMAGENET.input_size}, CIFAR {CIFAR.input_size})")
    predict_cmd.add_argument("--seed", type=int, default=0, help="seed for --weights random")
    predict_cmd.add_argument("--json", action="store_true")
    predict_cmd.set_defaults(run=_cmd_predict)
    fetch = commands.add_parser("fetch-weights", help="download torchvision ImageNet weights into the cache")
    fetch.add_argument("models", nargs="+", metavar="MODEL", help="torchvision presets, e.g. resnet18 resnet50")
    fetch.add_argument("--weights", help="weights name (default: each model's DEFAULT)")
    fetch.set_defaults(run=_cmd_fetch_weights)
    degradation = commands.add_parser("degradation", help="train plain vs residual CIFAR nets (He et al. 2016, Fig. 1)")
    degradation.add_argument("--shallow", type=int, default=DEFAULT_SHALLOW, help="CIFAR depth 6n+2 (default 20)")
    degradation.add_argument("--deep", type=int, default=DEFAULT_DEEP, help="CIFAR depth 6n+2 (default 56)")
    degradation.add_argument("--steps", type=int, default=60)
    degradation.add_argument("--lr", type=float, default=0.02)
    degradation.add_argument("--batch", type=int, default=32)
    degradation.add_argument("--seed", type=int, default=0)
    degradation.add_argument("--input", type=int, help=f"input side (default: the CIFAR nets' {CIFAR.input_size})")
    degradation.set_defaults(run=_cmd_degradation)
    figure = commands.add_parser("figure", help="draw the architecture as in the paper's Fig. 3 (SVG or PNG)")
    _add_spec_arguments(figure)
    figure.add_argument("--out", required=True, metavar="FILE", help="where to write it: a .svg or .png file")
    figure.add_argument("--input", type=_input_size, default=None, help=_INPUT_HELP)
    figure.add_argument("--plain-twin", action="store_true", help="the same net without shortcuts beside it")
    figure.add_argument("--fold-after", type=int, default=FOLD_AFTER,
                        help=f"fold stages of more blocks than this (default {FOLD_AFTER})")
    figure.add_argument("--columns", type=int, default=1, help="cut each net's column between stages (default 1)")
    figure.add_argument("--slide", action="store_true", help="as many columns as fit a 16:9 slide best")
    figure.set_defaults(run=_cmd_figure)
    presets = commands.add_parser("presets", help="list the presets")
    presets.set_defaults(run=_cmd_presets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "table" and args.input is None:
            args.input = spec_from_args(args).natural_input_size
        return args.run(args)
    except (UsageError, ValueError, WeightsUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. --csv into a folder that does not exist
        print(f"error: {error.strerror or error}: {error.filename}", file=sys.stderr)
        return 2
