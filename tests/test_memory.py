"""The memory guard: the limit read where the kernel enforces it, and reservations held while work runs."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from explorer.runtime.memory import DoesNotFit, MemoryLimit, Reservations, process_memory
from tests.cgroups import memory_cgroup

GIB = 2**30


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def host(tmp_path: Path, available: int, total: int = 64 * GIB) -> Path:
    meminfo = tmp_path / "meminfo"
    write(meminfo, f"MemTotal: {total // 1024} kB\nMemFree: 1 kB\nMemAvailable: {available // 1024} kB\n")
    return meminfo


def test_a_cgroup_v2_limit_below_the_host_is_the_one_that_counts(tmp_path: Path) -> None:
    root, proc = tmp_path / "cg", tmp_path / "cgroup"
    write(proc, "0::/kubepods/pod1/app\n")
    write(root / "kubepods/pod1/app/memory.max", "max\n")  # the container itself: no limit of its own
    write(root / "kubepods/pod1/app/memory.current", f"{GIB}\n")
    write(root / "kubepods/pod1/memory.max", f"{8 * GIB}\n")  # the pod's limit, one level up
    write(root / "kubepods/pod1/memory.current", f"{3 * GIB}\n")
    write(root / "kubepods/pod1/memory.stat", f"anon 1\ninactive_file {GIB}\n")  # reclaimable page cache
    limit = process_memory(root, proc, host(tmp_path, available=40 * GIB))
    assert limit == MemoryLimit(free=8 * GIB - (3 * GIB - GIB), total=8 * GIB, source="cgroup v2")


def test_a_cgroup_v1_limit(tmp_path: Path) -> None:
    root, proc = tmp_path / "cg", tmp_path / "cgroup"
    write(proc, "12:cpu,cpuacct:/x\n4:memory:/docker/abc\n0::/\n")
    write(root / "memory/docker/abc/memory.limit_in_bytes", f"{4 * GIB}\n")
    write(root / "memory/docker/abc/memory.usage_in_bytes", f"{GIB}\n")
    write(root / "memory/docker/abc/memory.stat", "cache 5\ntotal_inactive_file 0\n")
    write(root / "memory/memory.limit_in_bytes", "9223372036854771712\n")  # v1's "unlimited"
    write(root / "memory/memory.usage_in_bytes", f"{GIB}\n")
    assert process_memory(root, proc, host(tmp_path, available=40 * GIB)) == MemoryLimit(3 * GIB, 4 * GIB, "cgroup v1")


def test_the_host_counts_when_it_is_tighter_or_there_is_no_limit(tmp_path: Path) -> None:
    root, proc = tmp_path / "cg", tmp_path / "cgroup"
    write(proc, "0::/app\n")
    write(root / "app/memory.max", f"{8 * GIB}\n")
    write(root / "app/memory.current", "0\n")
    assert process_memory(root, proc, host(tmp_path, available=2 * GIB)) == MemoryLimit(2 * GIB, 64 * GIB, "host")
    write(root / "app/memory.max", "max\n")
    assert process_memory(root, proc, host(tmp_path, available=30 * GIB)).source == "host"
    assert process_memory(tmp_path / "none", tmp_path / "none", tmp_path / "none") is None


def test_a_reservation_is_held_while_the_work_runs_and_refused_past_the_free_memory() -> None:
    ledger, limit = Reservations(), MemoryLimit(free=10 * GIB, total=16 * GIB, source="cgroup v2")
    with ledger.reserve(5 * GIB, "cpu", "First", "Lower it.", limit=limit):
        assert ledger.held("cpu") == 5 * GIB
        # 10 GiB free, 5 reserved: 3 GiB more is over 80 % of the 5 left, though it alone would fit.
        with pytest.raises(DoesNotFit) as refused:
            with ledger.reserve(5 * GIB, "cpu", "Grad-CAM of resnet50 at 2048 px", "Use a smaller input size.",
                                limit=limit):
                pass
        message = str(refused.value)
        assert message.startswith("Grad-CAM of resnet50 at 2048 px needs about 5.00 GiB but only 5.00 GiB is free")
        # It would fit once the first ends: the sentence says to wait, not to lower anything.
        assert "cgroup v2 limit 16.0 GiB" in message
        assert message.endswith("Other requests hold 5.00 GiB of it right now: try again when they finish.")
        with pytest.raises(DoesNotFit) as too_big:  # would not fit even alone: what to lower
            with ledger.reserve(9 * GIB, "cpu", "A forward", "Use a smaller input size.", limit=limit):
                pass
        assert str(too_big.value).endswith("free for it on this server (cgroup v2 limit 16.0 GiB, less what other "
                                           "requests are using). Use a smaller input size.")
        with ledger.reserve(3 * GIB, "cpu", "Small", "", limit=limit):
            assert ledger.held("cpu") == 8 * GIB
        assert ledger.held("cuda") == 0  # another device's memory is another pool
    assert ledger.held("cpu") == 0  # released, also after a refusal


def test_a_failing_work_gives_its_reservation_back() -> None:
    ledger, limit = Reservations(), MemoryLimit(free=GIB, total=GIB, source="host")
    with pytest.raises(RuntimeError), ledger.reserve(GIB // 2, "cpu", "Work", "", limit=limit):
        raise RuntimeError("the forward failed")
    assert ledger.held("cpu") == 0


def test_two_requests_at_once_cannot_both_take_the_same_memory() -> None:
    """Each would fit alone; only one gets through while the other is held."""
    ledger, limit = Reservations(), MemoryLimit(free=10 * GIB, total=10 * GIB, source="host")
    start, hold = threading.Barrier(2), threading.Event()
    outcomes: list[str] = []

    def request() -> None:
        start.wait()
        try:
            with ledger.reserve(6 * GIB, "cpu", "A forward pass", "", limit=limit):
                outcomes.append("ran")
                hold.wait(5)
        except DoesNotFit:
            outcomes.append("refused")
            hold.set()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["ran", "refused"]


@pytest.mark.skipif(sys.platform != "linux", reason="cgroups are Linux's")
def test_a_real_cgroup_limit_is_read_by_a_process_inside_it() -> None:
    with memory_cgroup(768 * 2**20) as cgroup:
        if cgroup is None:
            pytest.skip("this machine lets no process make a memory cgroup")
        probe = ("from explorer.runtime.memory import process_memory; limit = process_memory();"
                 "print(limit.total, limit.free, limit.source, sep='|')")
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                             cwd=Path(__file__).resolve().parent.parent, check=True, preexec_fn=cgroup.enter).stdout
        total, free, source = out.strip().split("|")
        assert source.startswith("cgroup") and int(total) == 768 * 2**20
        assert 0 < int(free) < 768 * 2**20
