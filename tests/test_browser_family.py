"""The family beyond v1 in a real Chromium: Compare of three models, the gate drawn and on a photo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser_pages import settle
from tests.live_server import CHROMIUM
from tests.test_browser import open_page, to_top, visible

pytestmark = pytest.mark.browser

if CHROMIUM is None:
    if os.environ.get("REQUIRE_BROWSER"):
        raise RuntimeError("REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)")
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


def test_compare_resnet50_seresnet50_and_resnetv2_50(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, f"{app_url}/compare?a=resnet50&b=seresnet50&c=resnetv2_50", artifacts_dir,
                     "compare-family-whole")
    assert visible(page, "Where the difference goes")
    assert visible(page, "resnet50 → resnetv2_50")
    assert visible(page, "SE gates")
    to_top(page.get_by_text("Where the difference goes", exact=True))
    page.screenshot(path=str(artifacts_dir / "compare-family.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_the_gate_is_drawn_as_a_side_branch_in_figure_3(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, f"{app_url}/architecture?model=seresnet50", artifacts_dir, "architecture-family-whole")
    page.get_by_role("tab", name="Diagram").click()
    settle(page)
    page.get_by_text("Paper style").first.click()
    settle(page)
    figure = page.locator('[data-testid="stImage"] img').first  # the figure, drawn by the server
    figure.wait_for(state="visible")
    assert figure.evaluate("image => image.naturalWidth") > 0
    to_top(page.locator('[data-testid="stTabs"]').first)
    page.screenshot(path=str(artifacts_dir / "figure3-se.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()
