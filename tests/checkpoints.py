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


def saved(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()
