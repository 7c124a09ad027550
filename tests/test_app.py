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
