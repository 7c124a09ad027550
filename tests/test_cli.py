"""`python -m explorer`: text, CSV and JSON tables, presets, and one-line errors with exit 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.analysis.anatomy import layer_table
from explorer.cli import main
from explorer.model.presets import PRESETS, cifar_resnet
from explorer.model.spec import ResNetSpec
from explorer.analysis.table_format import BLOCK_COLUMNS, LAYER_COLUMNS, to_csv
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
