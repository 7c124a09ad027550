"""Real-browser timing helpers for the interaction benchmarks: a click, then the app settled.

"Settled" is Streamlit's own signal: the app root's ``data-test-script-state`` attribute goes
back to ``notRunning`` (full reruns and fragment reruns alike) and stays there for a quiet
period. A MutationObserver in the page stamps every change with ``performance.now()``, so the
latency is measured by the browser's clock from the click it dispatched to the last
``notRunning``, not by Python polling. A fragment rerun that ends within one frame never
shows ``running``: then the last change to the app's DOM marks the end instead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, running_app

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "ROOT", "SETTLED", "click_and_settle", "open_settled", "running_app"]

APP_ROOT = '[data-testid="stApp"]'
SETTLED = f'{APP_ROOT}[data-test-script-state="notRunning"]'

_OBSERVER = """() => {
  if (window.__stamps) return;
  window.__stamps = [];
  window.__changes = [];
  const root = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => window.__stamps.push(
      [performance.now(), root.getAttribute('data-test-script-state')]))
    .observe(root, {attributes: true, attributeFilter: ['data-test-script-state']});
  new MutationObserver(() => window.__changes.push(performance.now()))
    .observe(root, {childList: true, subtree: true, characterData: true});
}"""


def open_settled(page, url: str, timeout_ms: float = 240_000) -> float:
    """Load ``url`` and wait until the first run has finished; seconds from the request."""
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.get_by_role("heading").first.wait_for(state="visible", timeout=timeout_ms)
    page.wait_for_selector(SETTLED, timeout=timeout_ms)
    return time.perf_counter() - start


def click_and_settle(page, locator, quiet_ms: int = 400, timeout_s: float = 120.0) -> float:
    """Click ``locator`` and return the seconds until the script state was last ``notRunning``.

    Waits until no state change has happened for ``quiet_ms`` after a ``notRunning``, so a
    click that triggers two reruns counts both. A rerun too short to show ``running`` ends
    at the last DOM change, once nothing has changed for a second.
    """
    page.wait_for_selector(SETTLED)
    page.evaluate(_OBSERVER)
    locator.wait_for(state="visible")
    handle = locator.element_handle()
    started = page.evaluate(
        "(el) => { window.__stamps = []; window.__changes = []; const t = performance.now(); el.click(); return t; }",
        handle)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(50)
        stamps, changes, now = page.evaluate("() => [window.__stamps, window.__changes, performance.now()]")
        if stamps and stamps[-1][1] == "notRunning" and now - stamps[-1][0] >= quiet_ms:
            return (stamps[-1][0] - started) / 1e3
        if not stamps and changes and now - changes[-1] >= max(quiet_ms, 1000):
            return (changes[-1] - started) / 1e3
        if not stamps and not changes and now - started >= 5000:
            raise RuntimeError("the click started no rerun: it hit nothing that reaches the server")
    raise TimeoutError(f"the app did not settle within {timeout_s} s of the click")
