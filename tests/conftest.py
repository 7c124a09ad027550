"""Shared test set-up: repo paths, skipping `gpu` tests where CUDA is absent, shared fixtures."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

# The browser tests' server and Chromium fixtures (`app_url`, `browser`), one of each per module.
pytest_plugins = ["tests.browser_pages"]

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
APP = REPO_ROOT / "explorer" / "app.py"
APPTEST_TIMEOUT = 180  # seconds for one AppTest run on a 2-core machine (a cold ResNet-152 page)


def open_app(page: str | None = None, timeout: float = APPTEST_TIMEOUT, **query: str):
    """An AppTest of the whole app (app.py, sidebar included) with ``query`` in the URL,
    switched to ``pages/<page>.py`` when given; fails on any exception it shows."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def shown(markdown: str) -> str:
    """What the browser shows of a markdown body whose values went through `ui.text.inert`:
    CommonMark's backslash escapes of ASCII punctuation read as the characters themselves, and
    the word joiners that break autolinks show as nothing."""
    import re
    import string

    return re.sub("\\\\([" + re.escape(string.punctuation) + "])", r"\1", markdown).replace("\u2060", "")


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
def redis_url():
    """A real redis-server of the tests' own on a free loopback port, nothing saved to disk.

    Skips where Debian's redis-server is missing, unless REQUIRE_REDIS is set (CI), then fails.
    """
    import os

    from tests.live_server import REDIS_SERVER, running_redis

    if REDIS_SERVER is None:
        if os.environ.get("REQUIRE_REDIS"):
            raise RuntimeError("REQUIRE_REDIS is set but no redis-server is installed (apt-get install redis-server)")
        pytest.skip("Debian's redis-server is not installed (.ci/run installs it)")
    with running_redis() as (url, _pid):
        yield url


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where browser screenshots and server logs go (ignored by git)."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@dataclass(frozen=True)
class TrainedCheckpoint:
    """A small ResNet the tests trained themselves, saved in seed 003's format."""

    spec: object
    input_size: int
    classes: tuple[str, ...]
    data: bytes  # torch.save({"model_state_dict": ..., "classes": [...]})
    final_accuracy: float


@pytest.fixture(scope="session")
def trained_checkpoint() -> TrainedCheckpoint:
    """cifar_resnet20 with 2 classes, trained for a few seconds on red discs vs blue squares.

    Inputs go through the app's own preprocessing at 32 px, as the pages and the CLI will.
    """
    import io

    from explorer.model.build import build_model
    from explorer.data.images import Preprocessing, preprocess
    from explorer.model.presets import cifar_resnet
    from explorer.data.shapes import class_names, shapes_images
    from explorer.studies.training import train

    spec = cifar_resnet(20, num_classes=2)
    settings = Preprocessing.for_size(32)
    pictures, labels = shapes_images(256, size=40, num_classes=2, seed=0)
    inputs = torch.stack([preprocess(p, settings).tensor for p in pictures])  # (256, 3, 32, 32)
    model = build_model(spec, seed=0)
    history = train(model, inputs, torch.tensor(labels), steps=60, batch_size=32, lr=0.05, seed=0)
    buffer = io.BytesIO()
    classes = class_names(2)
    torch.save({"epoch": 1, "model_state_dict": model.state_dict(), "classes": list(classes)}, buffer)
    return TrainedCheckpoint(spec, 32, classes, buffer.getvalue(), history[-1].accuracy)


@pytest.fixture
def hub_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty torch hub cache in ``tmp_path / "hub"`` (where torchvision keeps weights)."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, hub_dir: Path) -> Path:
    """No network for weights ("offline test"), and an empty torch hub cache (`hub_dir`)."""
    import urllib.error

    from explorer.model import pretrained

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("offline test")

    monkeypatch.setattr(pretrained.urllib.request, "urlopen", no_network)
    return hub_dir


@pytest.fixture
def fresh_class_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """A store of the class's shared models of this test's own: a model that another test built from
    ImageNet weights it had (a file it put in its hub folder) is not served here, where they are missing."""
    from explorer.studies.shared_results import SharedResults
    from explorer.ui import models

    store = SharedResults(2**31)
    monkeypatch.setattr(models, "class_models", lambda: store)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Callable[[object, str], list[tuple]]:
    """``spy(module, name)``: ``module.name`` still runs, and the positional arguments of each call
    are appended to the list returned. Patch the module a page imports the name from on each run."""
    def install(module: object, name: str) -> list[tuple]:
        calls: list[tuple] = []
        original = getattr(module, name)

        def recording(*args, **kwargs):
            calls.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, recording)
        return calls

    return install


def run_together(*jobs: Callable[[], object],
                 meanwhile: Sequence[Callable[[threading.Event], None]] = ()) -> list[object]:
    """Each job in a thread of its own, all released at one instant (a barrier); their results in order.

    ``meanwhile`` threads are released with them and run until the jobs end (they are given an
    event that is set then). The first exception a job raised is raised here.
    """
    start, jobs_done = threading.Barrier(len(jobs) + len(meanwhile)), threading.Event()
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = jobs[index]()
        except BaseException as error:  # noqa: BLE001 - handed to the test below
            errors.append(error)

    def background(task: Callable[[threading.Event], None]) -> None:
        start.wait()
        task(jobs_done)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    others = [threading.Thread(target=background, args=(task,)) for task in meanwhile]
    for thread in workers + others:
        thread.start()
    for thread in workers:
        thread.join()
    jobs_done.set()
    for thread in others:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _record_media(monkeypatch: pytest.MonkeyPatch, record) -> None:
    """Call ``record(url, data, filename)`` for everything the app hands to Streamlit's media storage."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    original = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        data = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
        record(self.get_url(file_id), data, filename)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, str | None]]:
    """Everything the app hands to st.download_button, as (content, file name)."""
    captured: list[tuple[bytes, str | None]] = []
    _record_media(monkeypatch, lambda url, data, filename: captured.append((data, filename)))
    return captured


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The bytes behind every media URL the app hands out (an st.image's ``proto.imgs[0].url``)."""
    served: dict[str, bytes] = {}
    _record_media(monkeypatch, lambda url, data, filename: served.__setitem__(url, data))
    return served


def open_tab(at, label: str):
    """Open one of the Architecture page's tabs (what a click on it does: set its state, rerun).

    ``label`` is the tab's English label; the tabs' state holds the label shown, in the session's language.
    """
    from explorer.runtime.i18n import DEFAULT_LANGUAGE, SESSION_KEY, _, in_language

    language = at.session_state[SESSION_KEY] if SESSION_KEY in at.session_state else DEFAULT_LANGUAGE
    with in_language(language):
        at.session_state["arch_tab"] = _(label)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def deferred_downloads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Callable[[], str | bytes], str | None]]:
    """Every (callable, file name) handed to st.download_button to encode on click."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    captured = []
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        captured.append((data_callable, file_name))
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return captured


WIDGET_KINDS = ("selectbox", "radio", "multiselect", "number_input", "slider", "text_input", "checkbox", "toggle")


def sent_to_browser(at, key: str) -> object:
    """What the last run told the browser's widget ``key`` to show, None if nothing.

    The browser keeps what a widget shows (a selectbox's label, a number) until the app sends
    a value (Streamlit's ``useBasicWidgetState``: the widget manager's value first, the
    proto's only with ``set_value``). So once what the widget depends on has changed, this is
    what the student reads: a label for a selectbox or radio, labels for a multiselect, a
    number for a number_input or slider, the text of a text_input, a checkbox's or toggle's bool.
    """
    (widget,) = [w for kind in WIDGET_KINDS for w in at.get(kind) if w.key == key]
    proto = widget.proto
    if not proto.set_value:
        return None
    if widget.type in ("selectbox", "radio"):
        return proto.raw_value
    if widget.type == "multiselect":
        return list(proto.raw_values)
    if widget.type == "slider":
        return proto.value[0] if len(proto.value) == 1 else list(proto.value)
    return proto.value
