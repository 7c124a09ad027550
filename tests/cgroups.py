"""A real memory limit for a test or a benchmark: a child memory cgroup of this process's own.

Root can make one on Linux where the cgroup filesystem is writable (v1 or v2); elsewhere
`memory_cgroup` yields None and the caller skips. Processes started with `MemoryCgroup.enter`
as their ``preexec_fn`` run under the limit, as a container's would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MemoryCgroup:
    path: Path
    v1: bool

    def _file(self, v1_name: str, v2_name: str) -> Path:
        return self.path / (v1_name if self.v1 else v2_name)

    def enter(self) -> None:
        """Move the calling process into the cgroup (a ``preexec_fn``: the child before it execs)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak_bytes(self) -> int | None:
        """The most memory the cgroup's processes used at once (v2 kernels before 5.19 lack it)."""
        peak = self._file("memory.max_usage_in_bytes", "memory.peak")
        return int(peak.read_text()) if peak.exists() else None

    def oom_kills(self) -> int:
        """How many times the kernel killed a process of the cgroup for memory."""
        events = self._file("memory.oom_control", "memory.events")
        for line in events.read_text().splitlines():
            name, _sep, value = line.partition(" ")
            if name == "oom_kill":
                return int(value)
        return 0


def _own_memory_folder() -> tuple[Path, bool] | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder, v1 = Path("/sys/fs/cgroup/memory") / path.lstrip("/"), True
        elif controllers == "":
            folder, v1 = Path("/sys/fs/cgroup") / path.lstrip("/"), False
        else:
            continue
        if folder.is_dir():
            return folder, v1
    return None


@contextmanager
def memory_cgroup(limit_bytes: int) -> Iterator[MemoryCgroup | None]:
    """A fresh cgroup limited to ``limit_bytes`` (no swap past it), removed afterwards; None where none can be made."""
    own = None if os.name != "posix" or os.geteuid() != 0 else _own_memory_folder()
    if own is None:
        yield None
        return
    folder, v1 = own
    path = folder / f"explorer-{uuid.uuid4().hex[:8]}"
    try:
        path.mkdir()
    except OSError:
        yield None
        return
    cgroup = MemoryCgroup(path, v1)
    try:
        limit = cgroup._file("memory.limit_in_bytes", "memory.max")
        if not limit.exists():
            yield None
            return
        limit.write_text(str(limit_bytes))
        swap = cgroup._file("memory.memsw.limit_in_bytes", "memory.swap.max")
        if swap.exists():
            try:
                swap.write_text(str(limit_bytes) if v1 else "0")
            except OSError:
                pass
        yield cgroup
    finally:
        for pid in (path / "cgroup.procs").read_text().split() if (path / "cgroup.procs").exists() else []:
            try:
                os.kill(int(pid), 9)
            except OSError:
                pass
        for _ in range(50):
            try:
                path.rmdir()
                break
            except OSError:
                import time

                time.sleep(0.1)
