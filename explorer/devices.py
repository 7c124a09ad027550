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


class DoesNotFit(ValueError):
    """A model or forward pass that would not fit in the device's free memory."""


def free_bytes(device: str) -> int | None:
    """Free memory on ``device``: CUDA from the driver, CPU from /proc/meminfo; else None."""
    if device.startswith("cuda"):
        return torch.cuda.mem_get_info(torch.device(device).index or 0)[0]
    if device == "cpu":
        try:
            with open("/proc/meminfo", encoding="ascii") as meminfo:
                for line in meminfo:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def check_fits(param_bytes: int, activation_bytes: int, device: str, what: str, headroom: float = 0.8) -> None:
    """Refuse politely when parameters + activations exceed ``headroom`` of the free memory.

    ``activation_bytes`` should be the sum of all layer outputs for the whole batch: an upper
    bound for inference, which frees most of them early.
    """
    free = free_bytes(device)
    needed = param_bytes + activation_bytes
    if free is not None and needed > headroom * free:
        raise DoesNotFit(
            f"{what} needs about {needed / 2**30:.1f} GiB ({param_bytes / 2**30:.1f} GiB for parameters, "
            f"{activation_bytes / 2**30:.1f} GiB for activations), but only {free / 2**30:.1f} GiB is free "
            f"on {device}. Use a smaller input size, batch or model."
        )
