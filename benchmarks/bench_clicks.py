"""Click-to-settled latency in a real headless Chromium against `streamlit run` (issue goals).

Starts the app of a checkout (default: this one) with the given Python, then measures, by the
browser's clock (see `browser.click_and_settle`):

* the first page settled after the server process starts (goal ≤ 5 s);
* Feature maps, resnet50: "next ▶", "◀ prev" and picking a layer in the list (goal ≤ 0.3 s);
* Architecture, resnet152: switching the table's granularity and the stage filter (≤ 0.3 s);
* the Architecture page of cifar_resnet1202 opened in a new session (goal ≤ 2 s).

    python benchmarks/bench_clicks.py [--repo PATH] [--python PATH] [--clicks 6]

``--repo`` points at another checkout (e.g. a worktree of an older commit) to measure
"before"; its app runs with ``--python`` (default: this interpreter).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from browser import CHROMIUM, CHROMIUM_ARGS, ROOT, click_and_settle, open_settled, running_app


def summary(name: str, goal: str, times: list[float]) -> str:
    return (f"| {name} | {statistics.median(times):.2f} s | {min(times):.2f}–{max(times):.2f} s | "
            f"{len(times)} | {goal} |")


def feature_maps(page, url: str, clicks: int) -> list[str]:
    open_settled(page, f"{url}/feature-maps?model=resnet50")
    # The capture runs once; the first click may still pay for lazily drawn parts.
    # Widgets are found by their keys (Streamlit puts "st-key-<key>" on each widget's container).
    next_button, prev_button = page.locator(".st-key-fm_next button"), page.locator(".st-key-fm_prev button")
    click_and_settle(page, next_button)
    nexts = [click_and_settle(page, next_button) for _ in range(clicks)]
    prevs = [click_and_settle(page, prev_button) for _ in range(clicks)]
    picks = []
    for index in range(clicks):
        page.locator(".st-key-fm_layer").click()
        picks.append(click_and_settle(page, page.get_by_role("option").nth(3 + 2 * index)))
    return [summary("Feature maps resnet50: next ▶", "≤ 0.3 s", nexts),
            summary("Feature maps resnet50: ◀ prev", "≤ 0.3 s", prevs),
            summary("Feature maps resnet50: pick a layer", "≤ 0.3 s", picks)]


def architecture(page, url: str, clicks: int) -> list[str]:
    open_settled(page, f"{url}/architecture?model=resnet152")
    levels = page.locator(".st-key-arch_level label:has(input[type=radio])")
    granularity = [click_and_settle(page, levels.nth((i + 1) % 3)) for i in range(clicks)]
    stages = []
    chips = page.locator(".st-key-arch_stage_filter")
    for index in range(clicks):
        if index % 2 == 0:  # drop the first chosen stage, then put it back
            stages.append(click_and_settle(page, chips.locator('button[aria-label^="Remove"]').first))
        else:
            chips.locator("input").first.click()
            stages.append(click_and_settle(page, page.get_by_role("option").first))
    return [summary("Architecture resnet152: granularity", "≤ 0.3 s", granularity),
            summary("Architecture resnet152: stage filter", "≤ 0.3 s", stages)]


def cifar_1202(browser, url: str, repeats: int) -> list[str]:
    times = []
    for _ in range(repeats):
        context = browser.new_context(viewport={"width": 1400, "height": 1400})
        times.append(open_settled(context.new_page(), f"{url}/architecture?model=cifar_resnet1202&model_input=32"))
        context.close()
    return [summary("Architecture page of cifar_resnet1202, new session", "≤ 2 s", times)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--clicks", type=int, default=6)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    logs = Path(tempfile.mkdtemp(prefix="bench-clicks-"))
    rows = []
    started = time.perf_counter()
    with running_app(args.python, cwd=args.repo, log_path=logs / "server.log",
                     app=args.repo / "explorer" / "app.py") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        open_settled(page, url)
        rows.append(summary("First page settled after the server starts", "≤ 5 s", [time.perf_counter() - started]))
        rows += feature_maps(page, url, args.clicks)
        rows += architecture(page, url, args.clicks)
        rows += cifar_1202(browser, url, 3)
        browser.close()
    print("| interaction | median | range | clicks | goal |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
