"""The app's entry point imports from a plain checkout; no library module shadows another package."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import APP, REPO_ROOT


def test_plain_checkout_really_lacks_the_installed_package(plain_checkout_python: str, tmp_path: Path) -> None:
    probe = subprocess.run([plain_checkout_python, "-c", "import explorer"], cwd=tmp_path, capture_output=True, text=True)
    assert "No module named 'explorer'" in probe.stderr
    # Running the file puts explorer/ (not the root) first on sys.path, as `streamlit run` does.
    bare = subprocess.run([plain_checkout_python, str(APP)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bare.returncode == 0, bare.stderr


def test_no_module_in_explorer_shadows_a_standard_or_installed_one() -> None:
    import pkgutil
    import sys

    # `streamlit run explorer/app.py` puts explorer/ on sys.path: its modules and its layers' folders.
    folder = REPO_ROOT / "explorer"
    ours = {p.stem for p in folder.glob("*.py")} - {"__init__", "__main__"}
    ours |= {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
    others = {m.name for m in pkgutil.iter_modules() if m.name != "explorer"}
    assert not ours & (set(sys.stdlib_module_names) | others)


def test_the_cpu_budget_is_the_affinity_capped_by_a_cgroup_quota(tmp_path: Path) -> None:
    import os

    from explorer.runtime.threads import cpu_budget, thread_environment

    cpus = len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    assert cpu_budget(tmp_path / "absent") == cpus
    quota.write_text("max 100000\n")
    assert cpu_budget(quota) == cpus
    quota.write_text("50000 100000\n")  # half a CPU still runs one thread
    assert cpu_budget(quota) == 1
    quota.write_text(f"{(cpus + 8) * 100000} 100000\n")  # a quota above the affinity mask does not add CPUs
    assert cpu_budget(quota) == cpus
    assert thread_environment({}, quota) == {"OMP_NUM_THREADS": str(cpus), "OMP_WAIT_POLICY": "PASSIVE"}
    assert thread_environment({"OMP_NUM_THREADS": "3"}, quota) == {"OMP_WAIT_POLICY": "PASSIVE"}  # the operator's wins


def test_the_app_sets_torchs_threads_before_torch_loads() -> None:
    """Issue 23: training took 849 s instead of 75 s on a busy server. OpenMP reads its variables
    once, as torch loads, so app.py must set them before any page imports torch."""
    import os
    import sys

    from explorer.runtime.threads import cpu_budget

    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    probe = ("import os, runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__'); "
             "assert 'torch' not in sys.modules, 'Home loaded torch'; import torch; "
             "print(os.environ['OMP_WAIT_POLICY'], os.environ['OMP_NUM_THREADS'], torch.get_num_threads())")
    result = subprocess.run([sys.executable, "-c", probe, str(APP)], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["PASSIVE", str(cpu_budget()), str(cpu_budget())]
