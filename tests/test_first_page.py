"""A fresh server's first page loads no torch; the Architecture page loads the counting tools only when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from explorer.model.presets import PRESETS, TORCHVISION_PRESETS
from tests.conftest import APP, REPO_ROOT

HEAVY = ("torch", "torchvision", "pandas", "thop", "torchinfo", "torch.utils.flop_counter")
# Opens Home, then Architecture (its layer table), then the counting conventions, in one fresh
# interpreter, and prints which heavy modules were loaded after each step.
PROBE = f"""
import json, sys
from streamlit.testing.v1 import AppTest
loaded = lambda: [m for m in {HEAVY!r} if m in sys.modules]
at = AppTest.from_file({str(APP)!r}, default_timeout=180).run()
steps = {{"home": loaded()}}
at.switch_page("../pages/architecture.py").run()
steps["architecture"] = loaded()
at.session_state["arch_tab"] = "Counting conventions"
at.run()
steps["conventions"] = loaded()
assert not at.exception, at.exception
print(json.dumps(steps))
"""


def test_home_loads_no_torch_and_architecture_loads_the_counting_tools_on_demand() -> None:
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
                           env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert probe.returncode == 0, probe.stderr
    steps = json.loads(probe.stdout.splitlines()[-1])
    assert steps["home"] == []
    assert steps["architecture"] == ["torch", "torchvision", "pandas"]
    assert steps["conventions"] == list(HEAVY)


def test_the_written_out_torchvision_presets_are_torchvisions() -> None:
    from torchvision.models import list_models

    assert TORCHVISION_PRESETS == tuple(name for name in PRESETS if name in list_models())
