"""Which device to compute on, and what it is, in words a class can read."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    """The compute device the app will use."""

    device: str  # "cuda", "mps" or "cpu"
    name: str  # "NVIDIA H100 80GB HBM3", "Apple GPU (MPS)", "CPU (16 threads)"
    total_bytes: int | None  # device memory, where torch can tell
    free_bytes: int | None

    @property
    def label(self) -> str:
        if self.total_bytes is None:
            return self.name
        return f"{self.name}, {self.free_bytes / 2**30:.1f} of {self.total_bytes / 2**30:.1f} GiB free"


def pick_device() -> str:
    """``cuda`` > ``mps`` > ``cpu``."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def describe_device(device: str | None = None) -> DeviceInfo:
    """Name and memory of ``device`` (default: `pick_device`)."""
    device = device or pick_device()
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        free, total = torch.cuda.mem_get_info(index)
        return DeviceInfo("cuda", torch.cuda.get_device_name(index), total, free)
    if device == "mps":
        return DeviceInfo("mps", "Apple GPU (MPS)", None, None)
    return DeviceInfo("cpu", f"CPU ({torch.get_num_threads()} threads)", None, None)
