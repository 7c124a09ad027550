"""Checkpoints people really have: bounded before loading, safetensors, missing BatchNorm
counters, NaN weights and other dtypes, each read or refused at `read_checkpoint` in words."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as safetensors_bytes

from explorer.cli import main
from explorer.model.build import build_model
from explorer.model.checkpoint import CheckpointError, read_checkpoint
from explorer.model.checkpoint_formats import MAX_DECLARED_BYTES, MAX_RATIO
from explorer.model.fitting import fit_head, load_checkpoint_model
from explorer.model.presets import PRESETS
from tests.checkpoints import saved
from tests.conftest import open_app, shown
from tests import images_corpus as corpus

SPEC = PRESETS["cifar_resnet20"]


def state() -> dict[str, torch.Tensor]:
    return build_model(SPEC, seed=3).state_dict()


def deflated(data: bytes) -> bytes:
    """``data`` (a torch.save zip) written again with every entry deflate-compressed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, source.read(entry))
    return out.getvalue()


def test_a_deflated_storage_of_zeros_is_refused_before_torch_load() -> None:
    bomb = deflated(saved({"fc.weight": torch.zeros(16 * 2**20)}))  # 64 MiB of zeros in about 64 KB
    assert len(bomb) < 2**20
    with pytest.raises(CheckpointError, match=f"compresses 64 MB into [0-9]+ KB .*weights do not compress like "
                                              f"that, so it was refused"):
        read_checkpoint(bomb)
    # Real weights compress about 1.1-fold: deflated, they still read (larger entries than 1 MiB included).
    weights = {"fc.weight": torch.randn(2**19, generator=torch.Generator().manual_seed(0))}
    assert torch.equal(read_checkpoint(deflated(saved(weights))).state_dict["fc.weight"], weights["fc.weight"])
    assert MAX_RATIO < 1000


def test_a_zip_that_declares_more_than_the_cap_is_refused_from_its_directory() -> None:
    data = bytearray(saved(state()))
    directory = data.rfind(b"PK\x01\x02")  # the last central-directory record: set its file size to 1 GiB
    data[directory + 24:directory + 28] = (2**30).to_bytes(4, "little")
    with pytest.raises(CheckpointError, match=f"declares 1,0[0-9][0-9] MB of tensors, more than the explorer reads "
                                              f"\\(at most {MAX_DECLARED_BYTES // 2**20:,} MB\\)"):
        read_checkpoint(bytes(data))


def test_a_legacy_file_that_declares_a_huge_storage_is_refused_without_allocating_it() -> None:
    data = saved({"fc.weight": torch.ones(1000)}, zipped=False)
    numel = data.find(b"M\xe8\x03")  # BININT2 1000: the storage's declared number of elements
    forged = data[:numel] + b"J" + (2**30).to_bytes(4, "little") + data[numel + 3:]  # 2**30 floats: 4 GiB
    with pytest.raises(CheckpointError, match="declares 4,096 MB of tensors"):
        read_checkpoint(forged)
    assert torch.equal(read_checkpoint(data).state_dict["fc.weight"], torch.ones(1000))


def test_missing_batchnorm_counters_are_filled_and_said() -> None:
    full = state()
    exported = {k: v for k, v in full.items() if not k.endswith("num_batches_tracked")}
    counters = len(full) - len(exported)
    assert counters == 19  # the stem's BN and two per block in 9 blocks
    checkpoint = read_checkpoint(saved(exported))
    assert checkpoint.notes == (f"The checkpoint has no num_batches_tracked counters in its {counters} BatchNorm "
                                "layers (they only count training steps); they were set to 0.",)
    model = load_checkpoint_model(SPEC, checkpoint)
    assert model.bn1.num_batches_tracked.item() == 0
    assert torch.equal(model.layer3[2].bn2.running_var, full["layer3.2.bn2.running_var"])
    assert read_checkpoint(saved(full)).notes == ()


@pytest.mark.parametrize(("key", "value"), [("fc.weight", float("nan")), ("layer2.1.conv1.weight", float("inf"))])
def test_nan_or_infinite_weights_are_refused_naming_the_tensor(key: str, value: float) -> None:
    broken = state()
    broken[key] = broken[key].clone()
    broken[key].view(-1)[5] = value
    with pytest.raises(CheckpointError, match=f"The tensor '{key}' holds NaN or infinite values"):
        read_checkpoint(saved(broken))


def test_other_dtypes_are_converted_and_said() -> None:
    full = state()
    floating = sum(1 for k, v in full.items() if v.is_floating_point())
    half = read_checkpoint(saved({k: v.half() if v.is_floating_point() else v for k, v in full.items()}))
    assert half.notes == (f"{floating} tensor(s) are float16: they were converted to float32, the model's precision, "
                          "when loaded.",)
    model = load_checkpoint_model(SPEC, half)
    assert model.fc.weight.dtype is torch.float32
    assert torch.equal(model.fc.weight, full["fc.weight"].half().float())
    quantized = dict(full, **{"fc.weight": full["fc.weight"].mul(100).to(torch.int8)})
    notes = read_checkpoint(saved(quantized)).notes
    assert len(notes) == 1 and notes[0].startswith("1 tensor(s) hold int8 integers") and "quantization" in notes[0]


def test_a_safetensors_file_is_read_without_pickle_and_loads_the_same_weights() -> None:
    full = state()
    checkpoint = read_checkpoint(safetensors_bytes(full))
    assert checkpoint.num_classes == 10 and checkpoint.notes == ()
    model = load_checkpoint_model(SPEC, checkpoint)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in full.items())


OVERRUN = b'{"w": {"dtype": "F32", "shape": [400], "data_offsets": [0, 1600]}}'  # 1,600 bytes declared, 16 there


@pytest.mark.parametrize(("data", "message"), [
    ((20).to_bytes(8, "little") + b'{"a": broken json}..', "damaged header"),
    (len(OVERRUN).to_bytes(8, "little") + OVERRUN + bytes(16), "This .safetensors file cannot be read \\("),
])
def test_a_damaged_safetensors_file_is_explained(data: bytes, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(data)


def test_a_checkpoint_with_more_classes_than_a_spec_takes_is_refused_in_words() -> None:
    huge_head = dict(state(), **{"fc.weight": torch.zeros(200_001, 64), "fc.bias": torch.zeros(200_001)})
    checkpoint = read_checkpoint(saved(huge_head))
    with pytest.raises(CheckpointError, match="fc has 200,001 outputs, which cifar_resnet20 cannot take: "
                                              "num_classes=200,001 is more than the explorer builds"):
        fit_head(SPEC, checkpoint)


@pytest.mark.usefixtures("offline")
def test_the_picker_reads_safetensors_and_shows_the_conversion() -> None:
    half = {k: v.half() if v.is_floating_point() else v for k, v in state().items()}
    at = open_app("feature_maps", model="cifar_resnet20", model_input="32")
    at.radio(key="fm_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="fm_checkpoint").upload("weights.bin", safetensors_bytes(half)).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("are float16: they were converted to float32" in i.value for i in at.info)
    assert not any("No usable checkpoint" in w.value for w in at.warning)


@pytest.mark.usefixtures("offline")
def test_the_picker_answers_a_checkpoint_no_spec_can_take_in_words() -> None:
    huge_head = dict(state(), **{"fc.weight": torch.zeros(200_001, 64, dtype=torch.float16),
                                 "fc.bias": torch.zeros(200_001, dtype=torch.float16)})
    at = open_app("feature_maps", model="cifar_resnet20", model_input="32")
    at.radio(key="fm_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="fm_checkpoint").upload("big_head.pth", saved(huge_head)).run()
    assert not at.exception
    assert any("fc has 200,001 outputs" in shown(e.value) for e in at.error)  # as the browser shows it


def test_the_cli_reads_safetensors_and_prints_notes_to_stderr(tmp_path: Path, capsys) -> None:
    full = build_model(SPEC.with_changes(num_classes=2), seed=5).state_dict()
    image = tmp_path / "a.png"
    image.write_bytes(corpus.encode(corpus.photo(), "PNG"))
    (tmp_path / "shapes.pth").write_bytes(saved(full))
    (tmp_path / "shapes.safetensors").write_bytes(safetensors_bytes(
        {k: v.half() for k, v in full.items() if not k.endswith("num_batches_tracked")}))
    assert main(["predict", str(image), "--checkpoint", str(tmp_path / "shapes.pth"), "--json"]) == 0
    from_pth = json.loads(capsys.readouterr().out)
    assert main(["predict", str(image), "--checkpoint", str(tmp_path / "shapes.safetensors"), "--json"]) == 0
    captured = capsys.readouterr()
    from_safetensors = json.loads(captured.out)
    assert from_safetensors["model"] == from_pth["model"] == "cifar_resnet20 2cls"
    top = [p["probability"] for p in from_pth["images"][0]["predictions"]]
    assert [p["probability"] for p in from_safetensors["images"][0]["predictions"]] == pytest.approx(top, abs=2e-3)
    assert "note: " in captured.err and "are float16" in captured.err and "num_batches_tracked" in captured.err
