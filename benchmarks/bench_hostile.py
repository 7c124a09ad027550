"""A hostile class: 10 browser sessions at once ask for the most expensive things the UI allows,
on a server under a real memory limit. Did it stay up, how much memory did it take, and what
did each session read?

The server runs in a fresh memory cgroup (`tests.cgroups`: the kernel kills it if it passes
the limit, as a pod's would be); the browsers run outside it. Each session is its own Chromium
context and opens one address of `HOSTILE` at the same moment. Reported per session: seconds
until its page settled, whether it shows an exception element (it must not), and the first
words of each error or warning it shows. Then: whether the server still answers its health
check, the cgroup's peak memory against the limit, and the kernel's OOM kills (must be 0).

    python benchmarks/bench_hostile.py [--memory-gib 6] [--repo PATH] [--python PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from browser import CHROMIUM, CHROMIUM_ARGS, ROOT, SETTLED, running_app  # browser puts the repository on sys.path

from tests.cgroups import memory_cgroup
from tests.live_server import healthy

# The widest models at the largest input the sidebar allows, on every page that runs a model.
HOSTILE = [
    "predict?model=resnet152&model_input=4096",
    "predict?model=wide_resnet101_2&model_input=2048",
    "predict?model=resnext101_32x8d&model_input=4096",
    "feature-maps?model=wide_resnet101_2&model_input=4096",
    "feature-maps?model=resnet152&model_input=3072",
    "feature-maps?model=resnext101_64x4d&model_input=4096",
    "compare?a=resnext101_64x4d&b=wide_resnet101_2",
    "architecture?model=resnet152&model_input=4096",
    "architecture?model=resnet50;stages=250,250,250,250&model_input=4096",
    "zero-init?model=wide_resnet101_2&model_input=4096",
]
ALERTS = '[data-testid="stAlert"]'
EXCEPTION = '[data-testid="stException"]'


def open_all(browser, url: str, paths: list[str], timeout_ms: float) -> list[dict]:
    """Every path in its own session, all requested at once; what each showed once settled."""
    pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in paths]
    start = time.perf_counter()
    for page, path in zip(pages, paths):
        page.goto(f"{url}/{path}", wait_until="commit")
    results = []
    for page, path in zip(pages, paths):
        try:
            page.get_by_role("heading").first.wait_for(state="visible", timeout=timeout_ms)
            page.wait_for_selector(SETTLED, timeout=timeout_ms)
            settled = time.perf_counter() - start
        except Exception as error:  # noqa: BLE001 - a page that never settles is a result to report
            settled = None
            print(f"  {path}: not settled ({type(error).__name__})", file=sys.stderr)
        alerts = [" ".join(text.split())[:110] for text in page.locator(ALERTS).all_inner_texts()]
        results.append({"path": path, "settled": settled, "exception": page.locator(EXCEPTION).count() > 0,
                        "alerts": alerts})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-gib", type=float, default=6.0, help="the server's memory limit")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to serve")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a page may take to settle")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    limit = int(args.memory_gib * 2**30)
    with memory_cgroup(limit) as cgroup, tempfile.TemporaryDirectory() as scratch:
        if cgroup is None:
            print("No memory cgroup can be made here (needs root on Linux): the server runs without a limit.")
        log = Path(scratch) / "server.log"
        with running_app(args.python, args.repo, log, app=args.repo / "explorer" / "app.py",
                         preexec_fn=cgroup.enter if cgroup else None) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            results = open_all(browser, url, HOSTILE, args.timeout * 1000)
            up = healthy(url, timeout=5)
            browser.close()
        peak = cgroup.peak_bytes() if cgroup else None
        kills = cgroup.oom_kills() if cgroup else None

    print(f"## A hostile class: {len(HOSTILE)} sessions at once, server limited to {args.memory_gib:g} GiB\n")
    print("| session | settled (s) | exception | what it was told |")
    print("|---|---:|---|---|")
    for row in results:
        settled = f"{row['settled']:.1f}" if row["settled"] is not None else "not settled"
        told = " / ".join(row["alerts"]) or "(no error: it ran)"
        print(f"| `{row['path']}` | {settled} | {'**yes**' if row['exception'] else 'no'} | {told} |")
    peak_text = f"{peak / 2**30:.2f} GiB of {args.memory_gib:g} GiB" if peak is not None else "not measured"
    print(f"\nServer still up: {'yes' if up else '**no**'} · peak memory (cgroup): {peak_text} · "
          f"OOM kills: {kills if kills is not None else 'not measured'} · sessions with an exception: "
          f"{sum(r['exception'] for r in results)}")


if __name__ == "__main__":
    main()
