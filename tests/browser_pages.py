"""What the browser tests wait for and check on a page: state, never time.

A page is *settled* when Streamlit says its script is not running, every plotly chart has
drawn its SVG, every table its grid, every image has loaded and the web fonts are ready:
then a screenshot shows what a student sees, without a sleep that is too short on a busy
machine and too long on an idle one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, running_app

SETTLED = '[data-testid="stApp"][data-test-script-state="notRunning"]'

# Streamlit loads its chart and table libraries lazily: a chart's box exists before the chart
# does, and a table is a grey skeleton until its grid has loaded and drawn on its canvas.
_DRAWN = """() => document.fonts.status === 'loaded'
    && !document.querySelector('[data-testid="stSkeleton"]')
    && [...document.querySelectorAll('[data-testid="stDataFrame"]')].every(box => box.querySelector('canvas'))
    && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(box => box.querySelector('.main-svg'))
    && [...document.querySelectorAll('[data-testid="stImage"]')].every(box => box.querySelector('img'))
    && [...document.images].every(image => image.complete)"""

# Texts that the browser cuts with an ellipsis because their box is too narrow: a navigation
# entry, a widget or metric label, a tab, a button, a chosen option. Streamlit sets
# `text-overflow: ellipsis` on each of those boxes; a box wider inside than outside is cut.
_CLIPPED = """() => [...document.querySelectorAll('body *')]
  .filter(box => box.offsetParent !== null && getComputedStyle(box).textOverflow === 'ellipsis'
                 && box.scrollWidth > box.clientWidth + 1)
  .map(box => box.innerText.trim()).filter(text => text)"""


def settle(page, timeout_ms: float = 240_000) -> None:
    """Wait until the script has finished and everything it drew is on the screen."""
    page.wait_for_selector(SETTLED, timeout=timeout_ms)
    page.wait_for_function(_DRAWN, timeout=timeout_ms)
    page.wait_for_selector(SETTLED, timeout=timeout_ms)  # a chart's first draw can send one more rerun


def screenshot_whole(page, path) -> None:
    """A screenshot of the whole page. Streamlit scrolls its main area inside the window, so a
    "full page" screenshot would stop at the window's foot: the window grows to the page first."""
    width = page.viewport_size["width"]
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": width, "height": min(max(height, 600), 12_000)})
    settle(page)
    page.screenshot(path=str(path))


def clipped_texts(page) -> list[str]:
    """The texts on ``page`` that the browser cuts short for lack of room."""
    return page.evaluate(_CLIPPED)


def horizontal_overflow(page) -> int:
    """Pixels the page is wider than the window (0: nothing needs a sideways scroll)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture(scope="module")
def app_url(request: pytest.FixtureRequest, artifacts_dir: Path):
    """The app served by `streamlit run`, one server per test module (its log beside the screenshots)."""
    log = artifacts_dir / f"{request.module.__name__.rsplit('.', 1)[-1]}-server.log"
    with running_app(sys.executable, cwd=artifacts_dir.parent, log_path=log) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
