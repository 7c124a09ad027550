"""How torch's CPU threads behave on a server that computes for many sessions at once.

Sessions run in threads of one process, and every one that computes on the CPU leads its own
OpenMP team: torch's default team is as large as the machine's cores, whatever the pod's CPU
quota allows, and an idle team member spins while it waits for work (``OMP_WAIT_POLICY``
unset). On a 2-core server a training run that shares the cores with another page's forward
passes then waits on spinning threads it cannot get a core back from
(`benchmarks/bench_training_busy.py` measures it). Both are read once, when torch loads, so
`use_cpu_threads` sets them in the environment before that (``explorer/app.py``, first thing);
an operator's own values win. No torch here: Home loads none.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" in µs, or "max <period>"


def cpu_budget(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """CPUs this process may compute on: its affinity mask, capped by a cgroup v2 CPU quota
    (rounded up: a quota of 1.5 CPUs still runs two threads) where one is set."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to read: the affinity mask is the budget
    return cpus


def thread_environment(environ: Mapping[str, str] | None = None, cpu_max: Path = CGROUP_CPU_MAX) -> dict[str, str]:
    """The variables `use_cpu_threads` would set, less those ``environ`` (default: this process's) already has.

    ``OMP_NUM_THREADS``: a team per session as large as the CPU budget (`cpu_budget`), not the
    host's cores. ``OMP_WAIT_POLICY=PASSIVE``: a team member with no work sleeps at once instead
    of spinning, so a busy server's cores go to the sessions that have work.
    """
    environ = os.environ if environ is None else environ
    wanted = {"OMP_NUM_THREADS": str(cpu_budget(cpu_max)), "OMP_WAIT_POLICY": "PASSIVE"}
    return {name: value for name, value in wanted.items() if name not in environ}


def use_cpu_threads() -> dict[str, str]:
    """Set `thread_environment` in this process's environment; what was set. Only works before
    torch is imported (OpenMP and torch read them once, as they load); idempotent."""
    chosen = thread_environment()
    os.environ.update(chosen)
    return chosen
