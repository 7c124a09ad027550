"""The Streamlit app: AppTest renders, and the real `streamlit run` starts from a plain checkout."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.live_server import APP, running_app


def test_plain_checkout_really_lacks_the_installed_package(plain_checkout_python: str, tmp_path: Path) -> None:
    probe = subprocess.run([plain_checkout_python, "-c", "import explorer"], cwd=tmp_path, capture_output=True, text=True)
    assert "No module named 'explorer'" in probe.stderr
    # Running the file puts explorer/ (not the root) first on sys.path, as `streamlit run` does.
    bare = subprocess.run([plain_checkout_python, str(APP)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bare.returncode == 0, bare.stderr


def test_streamlit_run_serves_the_app_from_a_plain_checkout(plain_checkout_python: str, tmp_path: Path) -> None:
    with running_app(plain_checkout_python, cwd=tmp_path, log_path=tmp_path / "server.log") as url:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert b"<title>Streamlit</title>" in response.read()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_no_module_in_explorer_shadows_a_standard_or_installed_one() -> None:
    import pkgutil
    import sys

    ours = {p.stem for p in (REPO_ROOT / "explorer").glob("*.py")} - {"__init__", "__main__"}
    others = {m.name for m in pkgutil.iter_modules() if m.name != "explorer"}
    assert not ours & (set(sys.stdlib_module_names) | others)
