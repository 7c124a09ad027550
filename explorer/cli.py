"""Command line: ``python -m explorer table resnet50 [--csv F] [--json] ...``, ``predict IMG...``, ``presets``,
``degradation``, ``figure resnet34 --out F.svg``, ``fetch-weights resnet50``.

Errors a user can cause print one line to stderr and exit with status 2. Building the parser
loads no torch, so ``--help`` answers at once: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from explorer import CIFAR, IMAGENET, PRESETS, SPEC_FIELDS, FieldInfo, ResNetSpec, Widget, get_preset, spec_for_depth

if TYPE_CHECKING:
    from explorer import LayerTable

# What the parser shows, mirrored from modules that load torch so that building it loads none;
# tests/test_cli.py checks each against the constant it mirrors.
LEVELS = ("layers", "blocks", "stages")  # explorer.Level's values
FOLD_AFTER = 6  # explorer.FOLD_AFTER
DEFAULT_SHALLOW, DEFAULT_DEEP = 20, 56  # explorer.DEFAULT_SHALLOW, explorer.DEFAULT_DEEP
MIN_TRAIN_BATCH = 8  # explorer.MIN_TRAIN_BATCH

_INPUT_HELP = (f"input side or HxW (default: the model's own, {IMAGENET.input_size}; "
               f"{CIFAR.input_size} for CIFAR nets)")


class UsageError(Exception):
    """A bad command line; reported in one line with exit status 2."""


class CommandFailed(Exception):
    """A command that cannot go on, with what to do instead; reported in one line with exit status 2."""


class _HelpFormatter(argparse.HelpFormatter):
    """Ends each option's help with its default, unless the help says the default in words."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS) or action.required:
            return text
        shown = "off" if action.default is False else "%(default)s"
        return f"{text} (default: {shown})"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

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
    parser.add_argument("preset", nargs="?", default="resnet50", metavar="PRESET",
                        help="starting point: a preset name (`python -m explorer presets` lists them)")
    parser.add_argument("--depth", type=int, help="stage counts for this depth instead of --stages: three equal "
                                                  "stages with a CIFAR stem, else four in the paper's proportions "
                                                  "(default: the preset's)")
    for name, info in SPEC_FIELDS.items():
        text = f"{info.help} (default: the preset's)"
        if info.widget is Widget.CHECKBOX:
            parser.add_argument(_flag(info), dest=name, action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(_flag(info), dest=name, choices=info.choices or None,
                                metavar=None if info.choices else info.flag.upper(), help=text)


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


def _cmd_table(args: argparse.Namespace) -> int:
    from explorer import LEVEL_COLUMNS, TERMINAL_WIDTH, Level, layer_table, layer_text, table_json, to_csv, totals_text

    spec = spec_from_args(args)
    table = layer_table(spec, args.input or spec.natural_input_size)
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
        shown = layer_text(rows, columns, None if args.wide else TERMINAL_WIDTH)
        print(shown.text, "", *shown.notes, totals_text(table), sep="\n")
    return 0


def _cmd_presets(_: argparse.Namespace) -> int:
    from explorer import layer_table, text_table

    rows = []
    for name, spec in PRESETS.items():
        totals = layer_table(spec, spec.natural_input_size).totals
        rows.append({
            "Preset": name, "Depth": spec.depth, "Block": spec.block.value,
            "Stages": ",".join(map(str, spec.stages)), "Params": totals.params,
            "GMACs": f"{totals.macs / 1e9:.3f}", "Input": f"{totals.input_size[0]}",
        })
    print(text_table(rows))
    return 0


def _offline_fix(spec: ResNetSpec, weights: str | None) -> str:
    """What to run instead when ImageNet weights cannot be downloaded."""
    from explorer import torchvision_name

    chosen = f" --weights {weights}" if weights else ""
    return (f"Fetch them where there is internet with `python -m explorer fetch-weights {torchvision_name(spec)}"
            f"{chosen}` (TORCH_HOME says where they go), or predict with `--weights random` (untrained).")


def _cmd_predict(args: argparse.Namespace) -> int:
    from explorer import (
        ImageError, WeightsUnavailable, class_names_for, decode_image, fit_head, guess_spec, load_model, pick_device,
        predict, preprocess, preprocessing_for, read_checkpoint, spec_from_token, weights_source, UNTRAINED_NOTE,
        format_ms,
    )

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
    source = weights_source(spec, args.weights, checkpoint, args.seed, checkpoint_file=args.checkpoint)
    device = pick_device()
    try:
        model = load_model(spec, source, device, checkpoint)
    except WeightsUnavailable as error:  # offline: the way round it on the command line
        raise CommandFailed(f"{error} {_offline_fix(spec, args.weights)}") from None
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
            "model": spec.name, "weights": source.label, "untrained": source.untrained, "device": device,
            "note": head_note,
            "images": [{"image": path, "milliseconds": round(p.milliseconds, 3), "predictions": [
                {"label": label, "index": index, "probability": probability}
                for label, index, probability in zip(p.labels, p.indices, p.probabilities)]} for path, p in results],
        }, indent=1))
        return 0
    print(f"{spec.name} · {source.label} · on {device}")
    if source.untrained:  # said before the list, which looks like a result
        print(f"UNTRAINED: {UNTRAINED_NOTE}")
    if head_note:
        print(head_note)
    for index, (path, p) in enumerate(results):
        # One forward each, not a benchmark: the first also pays for the model's warm-up.
        print(f"{path} (one forward pass: {format_ms(p.milliseconds)} ms{', with warm-up' if index == 0 else ''})")
        for rank, (label, probability) in enumerate(zip(p.labels, p.probabilities), start=1):
            print(f"  {rank}. {label:<30} {probability:7.2%}")
    return 0


def _cmd_degradation(args: argparse.Namespace) -> int:
    """Train plain and residual CIFAR nets at two depths, as the zero_init page does, and print where they end."""
    from explorer import (
        MOMENTUM, SUMMARY_WINDOW, TASK_EXAMPLES, WARMUP_STEPS, WEIGHT_DECAY, cifar_resnet, degradation_models,
        summarize, task_classes, text_table, train_models,
    )

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
    print(text_table(rows))
    return 0


def _cmd_figure(args: argparse.Namespace) -> int:
    """Write the paper-style architecture figure (He et al. 2016, Fig. 3) as SVG or PNG, by the file's suffix."""
    from explorer import layer_table, paper_figure, png_size, to_png, to_svg, twin_of

    out = Path(args.out)
    encoders = {".svg": lambda f: to_svg(f).encode(), ".png": to_png}
    if out.suffix.lower() not in encoders:
        raise ValueError(f"--out must end in .svg or .png, got {out.name!r}.")
    spec = spec_from_args(args)
    table = layer_table(spec, args.input or spec.natural_input_size)
    twin = layer_table(twin_of(spec), table.input_size) if args.plain_twin else None
    figure = paper_figure(table, twin=twin, fold_after=args.fold_after, columns=None if args.slide else args.columns)
    out.write_bytes(encoders[out.suffix.lower()](figure))
    if out.suffix.lower() == ".png":  # drawn at a scale: the size is what the file's header says
        with out.open("rb") as written:
            width, height = png_size(written.read(24))
        size = f"{width}x{height} px"
    else:  # the SVG's own width and height, as to_svg writes them
        size = f"{figure.width:.0f}x{figure.height:.0f} px, vector"
    print(f"wrote {out} ({size})", file=sys.stderr)
    return 0


def _cmd_fetch_weights(args: argparse.Namespace) -> int:
    """Download torchvision ImageNet weights into the cache (for offline machines and images)."""
    from explorer import Text, available_weights, default_weights, download_weights, shown

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
    """The parser of every command; building it loads no torch."""
    parser = _Parser(prog="python -m explorer", description="ResNet Explorer on the command line. "
                     "`python -m explorer table --help` (and so on) lists a command's options and their defaults.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    table = commands.add_parser("table", help="print the layer table of a ResNet",
                                description="The layer table of a ResNet as text (at most 120 columns unless "
                                            "--wide), CSV or JSON, and its totals.")
    _add_spec_arguments(table)
    table.add_argument("--input", type=_input_size, default=None, help=_INPUT_HELP)
    table.add_argument("--level", choices=LEVELS, default=LEVELS[0],
                       help="layers: every leaf layer call; blocks: every residual block, the stem and the head; "
                            "stages: the stem, each stage and the head")
    table.add_argument("--wide", action="store_true",
                       help="every column with its full label, however wide (the text table only)")
    table.add_argument("--csv", metavar="FILE", help="write every column as CSV to FILE (- for stdout) instead of "
                                                     "printing text (default: no CSV)")
    table.add_argument("--json", action="store_true", help="print {spec, totals, level, rows} as JSON instead of text")
    table.set_defaults(run=_cmd_table)
    predict_cmd = commands.add_parser("predict", help="classify images with ImageNet weights or a checkpoint",
                                      description="Classify images with torchvision's ImageNet weights, a checkpoint "
                                                  "file or seeded random weights; prints the top classes.")
    predict_cmd.add_argument("images", nargs="+", metavar="IMG", help="image files (PNG, JPEG, WebP, …)")
    predict_cmd.add_argument("--model", help="preset or model link, e.g. resnet50 or 'resnet50;stem=deep' "
                                             "(default: resnet50, or what the checkpoint looks like)")
    predict_cmd.add_argument("--weights", help="torchvision weights name, or random for seeded random weights "
                                               "(default: the model's DEFAULT ImageNet weights)")
    predict_cmd.add_argument("--checkpoint", metavar="FILE",
                             help="a state dict file read with weights_only=True, or a .safetensors file (judged by "
                                  "content); a fc with other classes replaces the model's (default: none)")
    predict_cmd.add_argument("--classes", metavar="FILE", help="class names, one per line (default: the "
                                                               "checkpoint's, ImageNet's or class 0, class 1 …)")
    predict_cmd.add_argument("--topk", type=int, default=5, help="how many of the top classes to print")
    predict_cmd.add_argument("--input", type=int, help=f"input side for weights other than ImageNet's, which bring "
                                                       f"their own (default: the model's, {IMAGENET.input_size}; "
                                                       f"{CIFAR.input_size} for CIFAR nets)")
    predict_cmd.add_argument("--seed", type=int, default=0, help="seed of --weights random")
    predict_cmd.add_argument("--json", action="store_true", help="print the results as JSON instead of text")
    predict_cmd.set_defaults(run=_cmd_predict)
    fetch = commands.add_parser("fetch-weights", help="download torchvision ImageNet weights into the cache",
                                description="Download torchvision ImageNet weights into torchvision's cache "
                                            "($TORCH_HOME/hub/checkpoints), for machines that will be offline.")
    fetch.add_argument("models", nargs="+", metavar="MODEL", help="torchvision presets, e.g. resnet18 resnet50")
    fetch.add_argument("--weights", help="weights name (default: each model's DEFAULT)")
    fetch.set_defaults(run=_cmd_fetch_weights)
    degradation = commands.add_parser("degradation", help="train plain vs residual CIFAR nets (He et al. 2016, Fig. 1)",
                                      description="Train CIFAR ResNets of two depths with and without shortcuts on "
                                                  "the shapes task and print where each ends (He et al. 2016, Fig. 1).")
    degradation.add_argument("--shallow", type=int, default=DEFAULT_SHALLOW, help="the shallower CIFAR depth, 6n+2")
    degradation.add_argument("--deep", type=int, default=DEFAULT_DEEP, help="the deeper CIFAR depth, 6n+2")
    degradation.add_argument("--steps", type=int, default=60, help="SGD steps for each net")
    degradation.add_argument("--lr", type=float, default=0.02, help="learning rate after the warm-up")
    degradation.add_argument("--batch", type=int, default=32,
                             help=f"images per step; below {MIN_TRAIN_BATCH} it is raised to {MIN_TRAIN_BATCH}, as "
                                  f"BatchNorm needs")
    degradation.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches")
    degradation.add_argument("--input", type=int, help=f"input side (default: the CIFAR nets' {CIFAR.input_size})")
    degradation.set_defaults(run=_cmd_degradation)
    figure = commands.add_parser("figure", help="draw the architecture as in the paper's Fig. 3 (SVG or PNG)",
                                 description="Draw the architecture as in He et al. 2016, Fig. 3, to an SVG or a "
                                             "PNG file (the PNG at twice the SVG's pixels).")
    _add_spec_arguments(figure)
    figure.add_argument("--out", required=True, metavar="FILE", help="where to write it: a .svg or .png file (required)")
    figure.add_argument("--input", type=_input_size, default=None, help=_INPUT_HELP)
    figure.add_argument("--plain-twin", action="store_true", help="the same net without shortcuts beside it")
    figure.add_argument("--fold-after", type=int, default=FOLD_AFTER, help="fold stages of more blocks than this")
    figure.add_argument("--columns", type=int, default=1, help="cut each net's column between stages into this many")
    figure.add_argument("--slide", action="store_true",
                        help="as many columns as fit a 16:9 slide best (instead of --columns)")
    figure.set_defaults(run=_cmd_figure)
    presets = commands.add_parser("presets", help="list the presets",
                                  description="Every preset with its depth, block, stages, params and GMACs.")
    presets.set_defaults(run=_cmd_presets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from explorer import WeightsUnavailable  # loads torch: only once a command runs

    try:
        return args.run(args)
    except (UsageError, CommandFailed, ValueError, WeightsUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (`| head`): nothing to say, and stdout is gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # e.g. --csv into a folder that does not exist
        print(f"error: {error.strerror or error}: {error.filename}", file=sys.stderr)
        return 2
