"""Checkpoint bytes for tests: torch.save of any object, and a pickle that would run code."""

from __future__ import annotations

import io
from pathlib import Path

import torch


class CreatesAFile:
    """A pickle payload that would create a file when unpickled with weights_only=False."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def saved(obj: object, zipped: bool = True) -> bytes:
    """``torch.save`` bytes of ``obj``: the zip format, or the legacy one with ``zipped=False``."""
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=zipped)
    return buffer.getvalue()
