"""How much memory this server may still use, and reservations held while work runs.

A class shares one process: a check that reads the host's free memory lets a model that
fits the node but not the container's limit through (and the container is killed), and two
checks made at once can both pass and together exceed it. So the limit is read where the
kernel enforces it — the cgroup (v2 ``memory.max``, v1 ``memory.limit_in_bytes``, the
tightest of the process's cgroup and its ancestors) — else the host's ``MemAvailable``; on a
GPU, the driver's free memory. And every request that allocates with a user's choice takes
a `reservation` for its estimate before it starts and holds it until it ends: the next
request sees what is free *less what others have reserved*.

Reclaimable page cache (``inactive_file``) counts as free, as the kubelet counts it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from explorer.runtime.i18n import _

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
MEMINFO = Path("/proc/meminfo")
UNLIMITED = 2**62  # cgroup v1 writes "no limit" as a huge page-rounded number
HEADROOM = 0.8  # what a request may take of the free memory: the server itself and Python need the rest


class DoesNotFit(ValueError):
    """Work that would not fit in the memory free for it; the message says what to lower."""


@dataclass(frozen=True)
class MemoryLimit:
    """What bounds this process's memory on a device, and how much of it is free now (bytes)."""

    free: int
    total: int | None  # the limit itself (cgroup limit, host or GPU memory), where known
    source: str  # "cgroup v2", "cgroup v1", "host", "cuda"


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return None if value >= UNLIMITED else value


def _stat_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            name, _sep, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _own_cgroups(proc_cgroup: Path) -> dict[str, str]:
    """This process's cgroup path per hierarchy: ``""`` for v2's unified one, ``"memory"`` for v1's."""
    found = {}
    try:
        lines = proc_cgroup.read_text(encoding="ascii").splitlines()
    except OSError:
        return found
    for line in lines:
        _id, _sep, rest = line.partition(":")
        controllers, _sep, path = rest.partition(":")
        if controllers == "":
            found[""] = path
        elif "memory" in controllers.split(","):
            found["memory"] = path
    return found


def _ancestors(folder: Path, root: Path) -> Iterator[Path]:
    """``folder`` and each folder above it up to ``root``: a limit set on any of them applies."""
    while True:
        yield folder
        if folder == root or root not in folder.parents:
            return
        folder = folder.parent


def _cgroup_limit(root: Path, proc_cgroup: Path) -> MemoryLimit | None:
    """The tightest cgroup memory limit over this process's cgroup and its ancestors, or None."""
    own = _own_cgroups(proc_cgroup)
    tightest: MemoryLimit | None = None
    hierarchies = []
    if "memory" in own:
        hierarchies.append(("cgroup v1", root / "memory", own["memory"], "memory.limit_in_bytes",
                            "memory.usage_in_bytes", "total_inactive_file"))
    if "" in own:
        hierarchies.append(("cgroup v2", root, own[""], "memory.max", "memory.current", "inactive_file"))
    for source, mount, path, limit_file, usage_file, inactive_key in hierarchies:
        start = mount / path.lstrip("/")
        if not start.is_dir():  # a container sees its own cgroup as the mount's root
            start = mount
        for folder in _ancestors(start, mount):
            limit = _read_int(folder / limit_file)
            usage = _read_int(folder / usage_file)
            if limit is None or usage is None:
                continue
            working = max(0, usage - _stat_value(folder / "memory.stat", inactive_key))
            free = max(0, limit - working)
            if tightest is None or free < tightest.free:
                tightest = MemoryLimit(free, limit, source)
    return tightest


def _host_limit(meminfo: Path) -> MemoryLimit | None:
    values = {}
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            name, _sep, rest = line.partition(":")
            if name in ("MemTotal", "MemAvailable"):
                values[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    if "MemAvailable" not in values:
        return None
    return MemoryLimit(values["MemAvailable"], values.get("MemTotal"), "host")


def process_memory(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP,
                   meminfo: Path = MEMINFO) -> MemoryLimit | None:
    """The memory this process may still use: the cgroup's limit if it has one and it is the
    tighter, else the host's available memory; None where neither can be read (not Linux)."""
    limits = [limit for limit in (_cgroup_limit(root, proc_cgroup), _host_limit(meminfo)) if limit is not None]
    return min(limits, key=lambda limit: limit.free) if limits else None


def device_memory(device: str) -> MemoryLimit | None:
    """Free memory where ``device``'s tensors live: the GPU's for CUDA, this process's for the CPU;
    None where it cannot be told (MPS shares the host's memory, which torch does not report)."""
    if device.startswith("cuda"):
        import torch

        free, total = torch.cuda.mem_get_info(torch.device(device).index or 0)
        return MemoryLimit(free, total, "cuda")
    if device == "cpu":
        return process_memory()
    return None


class Reservations:
    """Bytes promised to work in progress, per device: what a check must subtract from what is free."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}

    def held(self, device: str) -> int:
        with self._lock:
            return self._held.get(_pool(device), 0)

    @contextmanager
    def reserve(self, needed: int, device: str, what: str, lower: str, headroom: float = HEADROOM,
                limit: MemoryLimit | None = None) -> Iterator[None]:
        """Hold ``needed`` bytes on ``device`` while the block runs, or raise `DoesNotFit` first.

        ``what`` names the work and ``lower`` says what to make smaller, both in the reader's
        language. ``limit`` is read now unless given (tests give one).
        """
        pool = _pool(device)
        with self._lock:
            limit = limit if limit is not None else device_memory(device)
            if limit is not None:
                held = self._held.get(pool, 0)
                if needed > headroom * (limit.free - held):
                    # Would it fit once the others' work ends? Then say so: waiting is the remedy.
                    busy = held if needed <= headroom * limit.free else 0
                    raise DoesNotFit(refusal(what, needed, max(limit.free - held, 0), limit, lower, busy))
            self._held[pool] = self._held.get(pool, 0) + needed
        try:
            yield
        finally:
            with self._lock:
                self._held[pool] -= needed


def _pool(device: str) -> str:
    """Devices that share memory share reservations (``cuda`` is ``cuda:0``)."""
    return "cuda:0" if device == "cuda" else device


def refusal(what: str, needed: int, free: int, limit: MemoryLimit, lower: str, busy: int = 0) -> str:
    """The sentence a refused request reads: how much it needs, how much is free, what to lower —
    or, when only others' work in progress (``busy`` bytes) is in the way, that it may fit soon."""
    sentence = _("{what} needs about {needed} but only {free} is free for it on this server ({source} limit "
                 "{total}, less what other requests are using).").format(
        what=what, needed=_gib(needed), free=_gib(free), source=limit.source,
        total=_gib(limit.total) if limit.total is not None else "?")
    if busy:
        return sentence + " " + _("Other requests hold {busy} of it right now: try again when they finish.").format(
            busy=_gib(busy))
    return f"{sentence} {lower}"


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f} GiB" if value < 10 * 2**30 else f"{value / 2**30:.1f} GiB"


# The process's one ledger: every session's requests reserve from it.
RESERVATIONS = Reservations()
