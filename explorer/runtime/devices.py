"""Which device to compute on, and what it is, in words a class can read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import torch

from explorer.runtime.i18n import _


class DeviceKind(StrEnum):
    """What kind of device a torch device string or object names: the one way to ask."""

    CUDA = "cuda"
    MPS = "mps"
    CPU = "cpu"

    @classmethod
    def of(cls, device: str | torch.device) -> DeviceKind:
        """The kind of ``device`` ("cuda:1" and ``torch.device("cuda")`` are both CUDA)."""
        kind = torch.device(device).type
        try:
            return cls(kind)
        except ValueError:
            raise ValueError(f"Device {device!r} is not one the app computes on; use one of "
                             f"{', '.join(cls)}.") from None


def synchronize(device: str | torch.device) -> None:
    """Wait until ``device`` has finished its queued work, so a wall-clock timing is true.

    CUDA and MPS run asynchronously (a forward returns before the GPU is done); a CPU does not.
    """
    kind = DeviceKind.of(device)
    if kind is DeviceKind.CUDA:
        torch.cuda.synchronize(device)
    elif kind is DeviceKind.MPS:
        torch.mps.synchronize()


@dataclass(frozen=True)
class DeviceInfo:
    """The compute device the app will use."""

    device: str  # "cuda", "mps" or "cpu"
    name: str  # "NVIDIA H100 80GB HBM3", "Apple GPU (MPS)", "CPU (16 threads)" (in the reader's language)
    total_bytes: int | None  # device memory, where torch can tell
    free_bytes: int | None

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind(self.device)

    @property
    def label(self) -> str:
        """The device and its free memory, in the reader's language."""
        if self.total_bytes is None:
            return self.name
        return _("{name}, {free:.1f} of {total:.1f} GiB free").format(
            name=self.name, free=self.free_bytes / 2**30, total=self.total_bytes / 2**30)


def pick_device() -> str:
    """``cuda`` > ``mps`` > ``cpu``."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def describe_device(device: str | None = None) -> DeviceInfo:
    """Name and memory of ``device`` (default: `pick_device`); the name in the reader's language."""
    device = device or pick_device()
    kind = DeviceKind.of(device)
    if kind is DeviceKind.CUDA:
        index = torch.device(device).index or 0
        free, total = torch.cuda.mem_get_info(index)
        return DeviceInfo("cuda", torch.cuda.get_device_name(index), total, free)
    if kind is DeviceKind.MPS:
        return DeviceInfo("mps", _("Apple GPU (MPS)"), None, None)
    return DeviceInfo("cpu", _("CPU ({threads} threads)").format(threads=torch.get_num_threads()), None, None)
