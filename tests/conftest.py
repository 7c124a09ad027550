"""Shared test set-up: repo paths, and skipping `gpu` tests where CUDA is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def plain_checkout_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python that has the dependencies but not the installed `explorer` package.

    It is a fresh venv whose .pth lists this interpreter's site-packages as plain paths: the
    editable install's own .pth (and so its import hook) is not processed there.
    """
    import site
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("plain-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    Path(target, "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return str(python)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where browser screenshots and server logs go (ignored by git)."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
