"""Start the real app with `streamlit run` on a free local port, and stop it afterwards."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import APP

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for a sandboxed, offline machine: no background connections, no GPU, root allowed.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str, timeout: float = 2.0) -> bool:
    """The server answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=timeout) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@contextmanager
def running_app(python: str, cwd: Path, log_path: Path, timeout: float = 90.0, app: Path = APP,
                preexec_fn: Callable[[], None] | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """Yield the base URL of ``streamlit run <app>`` (default: this checkout's) served by ``python``.

    ``preexec_fn`` runs in the server's process before it starts (`tests.cgroups.MemoryCgroup.enter`
    puts it under a memory limit); ``env`` adds to the environment (two servers sharing one Redis).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        python, "-m", "streamlit", "run", str(app),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=preexec_fn, env={**os.environ, **(env or {})})
        try:
            deadline = time.monotonic() + timeout
            while not healthy(url):
                if process.poll() is not None:
                    raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit not healthy after {timeout}s:\n{log_path.read_text()}")
                time.sleep(0.25)
            yield url
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


REDIS_SERVER = shutil.which("redis-server")


def answers_ping(port: int) -> bool:
    """Whether a Redis server on ``port`` answers PING (in RESP, without a client library)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def running_redis() -> Iterator[tuple[str, int]]:
    """A real redis-server of our own on a free loopback port, nothing saved to disk; its URL and pid."""
    if REDIS_SERVER is None:
        raise RuntimeError("no redis-server is installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--protected-mode", "yes"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {port} did not answer PING within 10 s")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)
