"""What a checkpoint file is, judged by its content, and its sizes bounded before it is loaded.

Three containers hold the checkpoints people have: torch.save's zip (torch >= 1.6), its
legacy pickle stream (older files, such as torchvision's first ResNet weights), and
safetensors (timm and the model hubs). A small file can declare a large one inside: a
deflate-compressed storage of zeros grows 1000-fold in ``torch.load``, and a legacy file
declares each storage's size before its data. So the sizes a file declares are read and
capped here, before anything of that size is allocated. Errors are `FormatError`s with a
sentence; `explorer.model.checkpoint.read_checkpoint` turns them into `CheckpointError`.
"""

from __future__ import annotations

import enum
import io
import json
import zipfile

import torch

from explorer.runtime.i18n import _

# The most bytes of tensors a checkpoint may declare: the app's upload limit (300 MB, see
# .streamlit/config.toml) times 3, which still holds the largest preset (wide_resnet101_2,
# 508 MB in float32) read by the command line.
MAX_DECLARED_BYTES = 3 * 300 * 2**20
# A compressed zip entry larger than this may grow at most `MAX_RATIO`-fold: weights barely
# compress (about 1.1x), only runs of one value compress a thousandfold.
RATIO_CHECKED_FROM = 2**20
MAX_RATIO = 20
# Entries of a torch.save zip: one per storage (ResNet-152: about 1,000).
MAX_ENTRIES = 20_000


class FormatError(ValueError):
    """A file that is not a checkpoint container, or declares too much; the message is for the user."""


class Container(enum.Enum):
    ZIP = "zip"  # torch.save since torch 1.6
    LEGACY = "legacy"  # torch.save's older pickle stream
    SAFETENSORS = "safetensors"


def container_of(data: bytes) -> Container:
    """The container ``data`` is in, by content (never by file name); FormatError for none of them."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return Container.ZIP
    if _looks_like_safetensors(data):
        return Container.SAFETENSORS
    if data[:1] == b"\x80":  # a pickle's PROTO opcode: torch.save's legacy stream starts with its magic number
        return Container.LEGACY
    raise FormatError(_("This is not a PyTorch checkpoint that can be read: it is neither a torch.save file nor a "
                       ".safetensors file."))


def _looks_like_safetensors(data: bytes) -> bool:
    """safetensors: an 8-byte little-endian header length, then that many bytes of a JSON object."""
    if len(data) < 10:
        return False
    length = int.from_bytes(data[:8], "little")
    return 2 <= length <= len(data) - 8 and data[8:9] == b"{"


def check_declared_sizes(data: bytes, container: Container) -> None:
    """FormatError when ``data`` declares more tensor bytes than `MAX_DECLARED_BYTES`, or a zip bomb."""
    if container is Container.ZIP:
        _check_zip(data)
    elif container is Container.LEGACY:
        _check_legacy(data)
    else:
        _check_safetensors(data)


def _too_large(declared: int) -> FormatError:
    return FormatError(_("The checkpoint declares {size:,} MB of tensors, more than the explorer reads (at most "
                        "{most:,} MB).").format(size=declared // 2**20, most=MAX_DECLARED_BYTES // 2**20))


def _check_zip(data: bytes) -> None:
    """The zip's central directory: entry count, total declared size, compression ratios."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as error:
        raise FormatError(_("This is not a PyTorch checkpoint that can be read (its zip directory is damaged: "
                           "{reason}).").format(reason=str(error)[:100] or type(error).__name__)) from None
    if len(entries) > MAX_ENTRIES:
        raise FormatError(_("The checkpoint's zip holds {count:,} files; a model's checkpoint holds at most "
                           "{most:,}.").format(count=len(entries), most=MAX_ENTRIES))
    declared = sum(entry.file_size for entry in entries)
    if declared > MAX_DECLARED_BYTES:
        raise _too_large(declared)
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED and entry.file_size > RATIO_CHECKED_FROM \
                and entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
            raise FormatError(_(
                "The checkpoint's zip compresses {size:,} MB into {packed:,} KB ({name}): weights do not "
                "compress like that, so it was refused. Save the checkpoint again with torch.save."
            ).format(size=entry.file_size // 2**20, packed=entry.compress_size // 2**10, name=entry.filename[-60:]))


def _check_legacy(data: bytes) -> None:
    """The storages a legacy file declares, counted without allocating them (meta tensors)."""
    from torch._subclasses.fake_tensor import FakeTensorMode  # loaded only for the rare legacy file

    with FakeTensorMode():  # torch's legacy loader makes meta storages here: nothing is allocated or read
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    storages = {}
    stack = [loaded]
    while stack and len(storages) <= MAX_ENTRIES:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            storage = item.untyped_storage()
            storages[id(storage)] = storage.nbytes()
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    declared = sum(storages.values())
    if declared > MAX_DECLARED_BYTES:
        raise _too_large(declared)


def _check_safetensors(data: bytes) -> None:
    """A safetensors header is read as it stands: each tensor's bytes lie in the file itself."""
    length = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8:8 + length])
    except (ValueError, UnicodeDecodeError):
        raise FormatError(_("This .safetensors file has a damaged header (not JSON), so it cannot be read.")) from None
    if not isinstance(header, dict):
        raise FormatError(_("This .safetensors file has a damaged header (not JSON), so it cannot be read."))


def read_safetensors(data: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file (no pickle is involved); FormatError in words if it is damaged."""
    from safetensors.torch import load

    try:
        return load(data)
    except Exception as error:  # SafetensorError and anything else the untrusted header causes
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise FormatError(_("This .safetensors file cannot be read ({reason}).").format(reason=reason)) from None

