"""`python -m explorer`: text, CSV and JSON tables, presets, and one-line errors with exit 2."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from explorer import cli
from explorer.analysis.anatomy import Level, layer_table
from explorer.cli import build_parser, main
from explorer.figures.paper.arrange import FOLD_AFTER
from explorer.model.presets import PRESETS, cifar_resnet
from explorer.model.spec import ResNetSpec
from explorer.analysis.table_format import BLOCK_COLUMNS, LAYER_COLUMNS, LEVEL_COLUMNS, Column, to_csv
from explorer.studies.degradation import DEFAULT_DEEP, DEFAULT_SHALLOW
from explorer.studies.training import MIN_TRAIN_BATCH
from tests.conftest import REPO_ROOT


def test_module_entry_point_prints_a_readable_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "table", "resnet50"], capture_output=True, text=True, cwd=REPO_ROOT, check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "Name", "Type"]
    assert any(line.split()[1:3] == ["layer2.0.downsample.0", "Conv2d"] for line in lines[2:])
    assert "params 25,557,032" in result.stdout and "MACs (conv+linear) 4,089,184,256" in result.stdout


def test_csv_file_equals_the_layer_table(tmp_path: Path) -> None:
    path = tmp_path / "r18.csv"
    assert main(["table", "resnet18", "--csv", str(path)]) == 0
    assert path.read_text() == to_csv(layer_table(PRESETS["resnet18"], 224).rows, LAYER_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == len(layer_table(PRESETS["resnet18"], 224).rows)
    assert rows[0]["MACs (conv+linear)"] == "118013952"


def test_json_has_plain_integer_totals_and_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "resnet152", "--json", "--input", "1024"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spec"]["name"] == "resnet152" and data["spec"]["stages"] == [3, 8, 36, 3]
    assert data["totals"]["params"] == 60_192_808 and isinstance(data["totals"]["macs"], int)
    assert data["totals"]["input_size"] == [1024, 1024] and data["totals"]["depth"] == 152
    assert data["rows"][0]["out_shape"] == [64, 512, 512]
    assert ResNetSpec.from_dict({k: v for k, v in data["spec"].items() if k not in ("name", "depth")}) == PRESETS["resnet152"]


def test_options_compose_a_custom_spec(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["table", "resnet50", "--stages", "3,24,36,3", "--style", "caffe", "--stem", "deep", "--avg-down",
            "--num-classes", "10", "--level", "blocks", "--csv", "-"]
    assert main(args) == 0
    spec = ResNetSpec(stages=(3, 24, 36, 3), stride_style="caffe", stem="deep", avg_down=True, num_classes=10)
    assert capsys.readouterr().out == to_csv(layer_table(spec, 224).blocks, BLOCK_COLUMNS)


def test_depth_and_cifar_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "cifar_resnet20", "--depth", "56", "--json", "--level", "stages"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["params"] == layer_table(cifar_resnet(56), 32).totals.params
    assert data["totals"]["input_size"] == [32, 32]
    assert main(["table", "resnet18", "--stages", "1,1,1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spec"]["stage_planes"] == [64, 128, 256]


@pytest.mark.parametrize(("block", "stages"), [([], [2, 2, 2]), (["--block", "basic"], [3, 3, 3])])
def test_a_cifar_stem_on_an_imagenet_preset_sizes_by_depth_in_three_stages(
    block: list[str], stages: list[int], capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["table", "resnet50", "--stem", "cifar", "--depth", "20", *block, "--json", "--level", "stages"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spec"]["stages"] == stages and data["spec"]["stage_planes"] == [64, 128, 256]
    assert data["totals"]["depth"] == 20 and data["totals"]["input_size"] == [32, 32]


def test_presets_lists_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in PRESETS:
        assert name in out
    assert "11,689,512" in out


@pytest.mark.parametrize(("args", "message"), [
    (["table", "resnet51"], "Unknown preset 'resnet51'"),
    (["table", "--depth", "51"], "nearest are 50 and 53"),
    (["table", "--input", "8"], "at least 32 pixels"),
    (["table", "--input", "big"], "expected a size like 224"),
    (["table", "--stages", "3,x"], "--stages: '3,x' is not a list of whole numbers"),
    (["table", "--dilate", "F,X"], "--dilate: 'F,X' is not a list of yes/no flags"),
    (["table", "--num-classes", "200000"], "num_classes=200,000 is more than the explorer builds"),
    (["table", "--stem", "cifar", "--depth", "22"], "bottleneck blocks in 3 stages: the depth must be 9n+2"),
    (["table", "--stem", "cifar", "--block", "basic", "--depth", "22"], "6n+2; the nearest are 20 and 26"),
    (["table", "resnet18", "--groups", "32"], "BasicBlock has no grouped"),
    (["table", "--depth", "50", "--stages", "3,4,6,3"], "either --depth or --stages"),
    (["table", "--csv", "/no/such/folder/t.csv"], "No such file or directory"),
    (["table", "--style", "keras"], "invalid choice"),
    ([], "required: command"),
])
def test_bad_arguments_print_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


@pytest.mark.parametrize("args", [
    ["resnet50"], ["resnet50", "--level", "blocks"], ["resnet50", "--level", "stages"],
    ["resnet152", "--input", "1024"], ["resnext101_64x4d", "--dilate", "F,T,T"],
    ["resnet50", "--stem", "deep", "--avg-down", "--level", "blocks"], ["cifar_resnet20", "--shortcut", "A"],
])
def test_the_text_table_fits_120_columns_and_leaves_empty_cells_blank(args: list[str], capsys) -> None:
    assert main(["table", *args]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 120, max(out.splitlines(), key=len)
    assert "None" not in out
    header = out.splitlines()[0].split()
    assert "Name" in header and "Out" in header and "Params" in header and "MACs" in header


def test_the_narrow_table_says_what_it_left_out_and_wide_shows_every_column(capsys) -> None:
    assert main(["table", "resnet50"]) == 0
    narrow = capsys.readouterr().out
    words = " ".join(narrow.split())  # the notes under the table wrap at 120 characters
    assert "Columns left out: Stage, Block, In (C×H×W)" in words and "--wide shows them all" in words
    assert "Dilation, Groups (the default in every row)" in words
    assert "MACs: conv+linear" in words  # the short headers' legend
    fc = next(line for line in narrow.splitlines() if line.split()[1:3] == ["fc", "Linear"])
    assert fc.split()[3:6] == ["1000", "2,049,000", "2,048,000"]  # Out, Params, MACs: the blank cells take no place
    assert main(["table", "resnet50", "--wide"]) == 0
    wide = capsys.readouterr().out
    header = wide.splitlines()[0]
    assert all(column.label in header for column in LAYER_COLUMNS)
    assert max(len(line) for line in wide.splitlines()) > 120 and "left out" not in wide and "None" not in wide


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices


def test_every_command_and_option_has_help_that_says_its_default() -> None:
    commands = subcommands()
    (listing,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert {a.dest: bool(a.help) for a in listing._choices_actions} == dict.fromkeys(commands, True)
    for name, parser in commands.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            text = parser._get_formatter()._expand_help(action)
            where = f"{name} {action.option_strings or action.dest}: {text!r}"
            assert action.help, where
            if action.required:  # nothing to default to (the images, --out)
                continue
            if action.default in (None, False):  # said in words: "(default: the preset's)", "(default: off)"
                assert "default" in text, where
            else:
                assert f"(default: {action.default})" in text, where


def test_the_parser_shows_the_librarys_defaults() -> None:
    assert cli.LEVELS == tuple(level.value for level in Level) == tuple(LEVEL_COLUMNS)
    assert (cli.FOLD_AFTER, cli.DEFAULT_SHALLOW, cli.DEFAULT_DEEP, cli.MIN_TRAIN_BATCH) == (
        FOLD_AFTER, DEFAULT_SHALLOW, DEFAULT_DEEP, MIN_TRAIN_BATCH)
    figure = subcommands()["figure"].parse_args(["--out", "f.svg"])
    assert figure.fold_after == FOLD_AFTER


HELP_PROBE = """
import sys
from explorer import cli
for command in ([], ["table"], ["predict"], ["figure"], ["degradation"], ["fetch-weights"], ["presets"]):
    try:
        cli.main([*command, "--help"])
    except SystemExit:
        pass
print("torch" in sys.modules, "streamlit" in sys.modules, cli.main(["table", "--style", "keras"]))
"""


def test_help_and_usage_errors_load_no_torch() -> None:
    result = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.splitlines()[-1] == "False False 2"
    assert "--fold-after FOLD_AFTER" in result.stdout and "usage: python -m explorer presets" in result.stdout
    entry = subprocess.run([sys.executable, "-X", "importtime", "-m", "explorer", "--help"], capture_output=True,
                           text=True, cwd=REPO_ROOT, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in entry.stderr.splitlines() if line.startswith("import time:")}
    assert "explorer.cli" in imported and "torch" not in imported and "torchvision" not in imported


def test_offline_predict_names_the_commands_that_fix_it(offline: Path, tmp_path: Path, capsys) -> None:
    image = tmp_path / "grey.png"
    Image.new("RGB", (64, 48), (128, 128, 128)).save(image)
    assert main(["predict", str(image), "--model", "resnet18"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: Could not download the pretrained weights")
    assert "`python -m explorer fetch-weights resnet18`" in err and "`--weights random`" in err
    assert "the app" not in err
    assert main(["predict", str(image), "--model", "resnet50", "--weights", "IMAGENET1K_V1"]) == 2
    assert "`python -m explorer fetch-weights resnet50 --weights IMAGENET1K_V1`" in capsys.readouterr().err


def test_predict_names_a_local_checkpoint_by_its_file(tmp_path: Path, capsys) -> None:
    import torch

    from explorer.model.build import build_model

    checkpoint = tmp_path / "mine.pth"
    torch.save(build_model(cifar_resnet(20), seed=1).state_dict(), checkpoint)
    image = tmp_path / "grey.png"
    Image.new("RGB", (40, 40), (90, 120, 150)).save(image)
    assert main(["predict", str(image), "--checkpoint", str(checkpoint), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == f"checkpoint file {checkpoint}"
    assert main(["predict", str(image), "--checkpoint", str(checkpoint)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"cifar_resnet20 · checkpoint file {checkpoint} · on ") and "uploaded" not in out
