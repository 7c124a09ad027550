"""Fuzzing the two boundaries that parse uploaded bytes: `read_checkpoint` and `decode_image`.

Hundreds of mutated, truncated and hand-made files go in; what comes out is a result or the
module's own error with a sentence for the user, never another exception, and nothing a
pickle asks for is ever executed.
"""

from __future__ import annotations

import io
import pickle
import random
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as safetensors_bytes

from explorer.model.build import build_model
from explorer.data.images import ImageError, decode_image
from explorer.model.presets import get_preset
from explorer.model.checkpoint import Checkpoint, CheckpointError, read_checkpoint
from tests.checkpoints import CreatesAFile, saved
from tests.conftest import open_app, shown
from tests.images_corpus import animated_gif, encode, photo

MUTANTS_PER_SEED = 60


def small_state() -> dict[str, torch.Tensor]:
    return build_model(get_preset("cifar_resnet20"), seed=0).state_dict()


def mutants(data: bytes, seed: int, count: int) -> list[bytes]:
    """Byte flips, overwritten runs, truncations, duplicated and deleted slices of ``data``."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        buffer = bytearray(data)
        kind = rng.randrange(5)
        if kind == 0:
            for _ in range(rng.randint(1, 16)):
                buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            start = rng.randrange(len(buffer))
            buffer[start:start + rng.randint(1, 64)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif kind == 2:
            buffer = buffer[: rng.randrange(len(buffer))]
        elif kind == 3:
            start = rng.randrange(len(buffer))
            buffer[start:start] = buffer[start:start + rng.randint(1, 256)]
        else:
            start = rng.randrange(len(buffer))
            del buffer[start:start + rng.randint(1, 256)]
        out.append(bytes(buffer))
    return out


def hand_made_checkpoints(tmp_path: Path) -> list[bytes]:
    state = small_state()
    fc = state["fc.weight"]
    return [
        b"", b"\x00", b"hello, this is a text file\n" * 20, b"PK\x03\x04" + b"\x00" * 100,
        zipfile_with(b"not a pickle"),
        pickle.dumps({"a": 1}), pickle.dumps([1, 2, 3], protocol=0), pickle.dumps(None),
        saved(None), saved(3), saved("a string"), saved([fc]), saved(fc), saved({}),
        saved({1: fc, 2: fc}), saved({("tuple",): fc}), saved({"fc.weight": "not a tensor"}),
        saved({"model_state_dict": [1, 2]}), saved({"model_state_dict": {"fc.weight": 3}}),
        saved({"state_dict": {0: fc}}), saved({"fc.weight": torch.zeros(())}), saved({"fc.weight": torch.zeros(0, 0)}),
        saved({"fc.weight": fc, "classes": [1, 2]}), saved({"fc.weight": fc, "classes": "abc"}),
        saved({"module.": fc}), saved({"fc.weight": fc.to(torch.complex64)}),
        saved({"nested": {"deeper": {"deepest": fc}}}), saved(state, zipped=False),
    ]


def evil_checkpoints(tmp_path: Path) -> list[bytes]:
    return [saved({"evil": CreatesAFile(tmp_path / "pwned")}), saved(CreatesAFile(tmp_path / "pwned")),
            saved({"model_state_dict": small_state(), "extra": CreatesAFile(tmp_path / "pwned")})]


def zipfile_with(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
    return buffer.getvalue()


def check_checkpoint(data: bytes) -> Checkpoint | CheckpointError:
    """The outcome of reading ``data``: a checkpoint, or our error with a sentence in it."""
    try:
        return read_checkpoint(data)
    except CheckpointError as error:
        message = str(error)
        assert message and message[0].isupper() and message.rstrip().endswith((".", ")")), message
        return error


def test_every_hand_made_checkpoint_is_read_or_refused_in_words(tmp_path: Path) -> None:
    for data in hand_made_checkpoints(tmp_path):
        check_checkpoint(data)
    legacy = check_checkpoint(saved(small_state(), zipped=False))
    assert isinstance(legacy, Checkpoint) and legacy.num_classes == 10
    assert "names" in str(check_checkpoint(saved({1: small_state()["fc.weight"]})))


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path: Path) -> None:
    for data in evil_checkpoints(tmp_path):
        assert "could run code" in str(check_checkpoint(data))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_mutated_checkpoints_end_in_a_checkpoint_error(zipped: bool) -> None:
    original = saved({"model_state_dict": small_state(), "classes": [f"c{i}" for i in range(10)]}, zipped)
    errors = 0
    for seed in range(4):
        for data in mutants(original, seed, MUTANTS_PER_SEED):
            errors += isinstance(check_checkpoint(data), CheckpointError)
    assert errors > 0  # the mutations do reach the error paths


def test_mutated_safetensors_end_in_a_checkpoint_error() -> None:
    original = safetensors_bytes(small_state())
    assert isinstance(check_checkpoint(original), Checkpoint)
    errors = 0
    for seed in range(4):
        for data in mutants(original, 100 + seed, MUTANTS_PER_SEED):
            errors += isinstance(check_checkpoint(data), CheckpointError)
    header = len(original) - sum(t.numel() * t.element_size() for t in small_state().values()) - 8
    for seed in range(2):  # mutations aimed at the header: lengths, offsets, dtypes, shapes
        rng = random.Random(200 + seed)
        for _ in range(MUTANTS_PER_SEED):
            buffer = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                buffer[rng.randrange(header + 8)] = rng.choice(b'0123456789[]{}",:FIU ')
            errors += isinstance(check_checkpoint(bytes(buffer)), CheckpointError)
    assert errors > 0


def zip_directory_mutants(data: bytes, seed: int, count: int) -> list[bytes]:
    """``data`` with numbers of its zip's central directory and end record overwritten: sizes,
    offsets, counts, compression methods."""
    rng = random.Random(seed)
    records = [i for i in range(len(data)) if data.startswith((b"PK\x01\x02", b"PK\x05\x06"), i)]
    out = []
    for _ in range(count):
        buffer = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            record = rng.choice(records)
            field = record + rng.choice([8, 10, 16, 20, 24, 28, 30, 42] if buffer[record + 2] == 1 else [8, 10, 12, 16])
            width = 2 if field - record in (8, 10, 28, 30) else 4
            value = rng.choice([0, 1, 8, 2**16 - 1, 2**31, 2**32 - 1, rng.randrange(2**(8 * width))])
            buffer[field:field + width] = (value % 2**(8 * width)).to_bytes(width, "little")
        out.append(bytes(buffer))
    return out


def test_zip_directory_mutations_end_in_a_checkpoint_error() -> None:
    original = saved({"model_state_dict": small_state(), "classes": [f"c{i}" for i in range(10)]})
    errors = 0
    for seed in range(3):
        for data in zip_directory_mutants(original, seed, MUTANTS_PER_SEED):
            errors += isinstance(check_checkpoint(data), CheckpointError)
    assert errors > MUTANTS_PER_SEED  # most directory damage is caught


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_a_picture_given_as_a_checkpoint_is_named_a_picture(fmt: str) -> None:
    with pytest.raises(CheckpointError, match=f"{'JPEG' if fmt == 'JPEG' else fmt}.*picture"):
        read_checkpoint(encode(photo(), fmt))


def image_files() -> list[bytes]:
    return [encode(photo(), fmt) for fmt in ("PNG", "JPEG", "WEBP", "BMP", "TIFF")] + [animated_gif()]


def test_mutated_images_end_in_an_image_error() -> None:
    decoded = refused = 0
    for index, original in enumerate(image_files()):
        for data in mutants(original, index, MUTANTS_PER_SEED):
            try:
                decode_image(data)
                decoded += 1
            except ImageError as error:
                assert str(error)[0].isupper(), str(error)
                refused += 1
    assert refused > 0 and decoded > 0  # both paths are exercised


def test_random_bytes_are_neither_images_nor_checkpoints() -> None:
    rng = random.Random(7)
    for _ in range(100):
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 2048)))
        with pytest.raises(ImageError):
            decode_image(data)
        with pytest.raises(CheckpointError):
            read_checkpoint(data)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("name, data", [("cat.webp", encode(photo(), "WEBP")), ("notes.txt", b"just some text\n" * 50)])
def test_the_checkpoint_uploader_answers_a_picture_or_a_text_in_words(name: str, data: bytes) -> None:
    at = open_app("feature_maps", model="cifar_resnet20", model_input="32")
    at.radio(key="fm_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="fm_checkpoint").upload(name, data).run()
    assert not at.exception, at.exception
    message = " ".join(shown(e.value) for e in at.error)
    assert name in message
    assert ("WEBP picture, not a checkpoint" if name.endswith(".webp") else "not a PyTorch checkpoint") in message
