"""Every page in both languages at a projector's 1400 px and a laptop's 1024 px, in a real Chromium:
no exception, nothing cut short, no sideways scroll. Each leaves two screenshots: the first screen
(the Chinese README's, at 1400 px) and the whole page (`assets/screens/`, by `make screenshots`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser_pages import clipped_texts, horizontal_overflow, screenshot_whole, settle
from tests.live_server import CHROMIUM

pytestmark = pytest.mark.browser

if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)

PAGES = {  # screenshot name -> address
    "home": "",
    "architecture": "architecture?model=resnet18",
    "compare": "compare",
    "feature-maps": "feature-maps?model=resnet18",
    "zero-init": "zero-init?model=cifar_resnet20",
    "predict": "predict?model=resnet18",
}
WIDTHS = (1400, 1024)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_fits_the_screen_in_both_languages(browser, app_url: str, artifacts_dir: Path, name: str,
                                                       language: str, width: int) -> None:
    path = PAGES[name]
    context = browser.new_context(viewport={"width": width, "height": 1400})
    page = context.new_page()
    try:
        page.goto(f"{app_url}/{path}{'&' if '?' in path else '?'}lang={language}", wait_until="commit")
        page.get_by_role("heading").first.wait_for(state="visible", timeout=240_000)
        settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        if language == "zh":
            assert CHINESE.search(page.locator("h1").first.inner_text())
        assert clipped_texts(page) == []
        assert horizontal_overflow(page) <= 0
        page.screenshot(path=str(artifacts_dir / f"{language}-{width}-{name}.png"))  # the first screen
        screenshot_whole(page, artifacts_dir / f"{language}-{width}-{name}-whole.png")
    finally:
        context.close()
