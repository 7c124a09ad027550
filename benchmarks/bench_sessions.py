"""N real browser sessions open mixed pages at once on one server: how long until all settle.

Each session is its own Chromium context (own cookies, own Streamlit session) and opens one
page of a rotating mix of every page and several models. Reported: p50/p95/max time from the
request to the page settled, the wall time until every session settled, the server's CPU
seconds per session (from /proc, user + system) and its peak resident memory (VmHWM).

"Class clicks Train": N sessions open the zero_init page of cifar_resnet20 and press *Train
both twins* within a second; reported against one session alone on a fresh server (goal for
N = 5: ≤ 1.3x), with the server's CPU seconds for each; then the same N followers as threads in
one process with no browser, which isolates the server's share (the browsers of the scenario
run on the server's own 2 cores here, where a class's run on the students' machines).

    python benchmarks/bench_sessions.py [--sessions 10 30] [--train 5] [--repo PATH] [--python PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from browser import CHROMIUM, CHROMIUM_ARGS, ROOT, SETTLED, running_app

MIX = [
    "architecture?model=resnet18",
    "feature-maps?model=resnet50",
    "compare",
    "predict?model=resnet18",
    "architecture?model=resnet152",
    "feature-maps?model=resnet18",
    "zero-init?model=cifar_resnet20",
    "architecture?model=resnext50_32x4d",
    "predict?model=cifar_resnet20&model_input=32",
    "",
    "feature-maps?model=cifar_resnet56&model_input=32",
    "architecture?model=cifar_resnet110&model_input=32",
]


def server_pid(port: int) -> int:
    """The `streamlit run` process listening on ``port`` (found by its command line)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in b" ".join(command) and str(port).encode() in command:
                return int(entry.name)
    raise RuntimeError(f"no streamlit process serves port {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def peak_rss_mib(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# Stamps, by the page's own clock (0 = its navigation start), the first moment the page has a
# heading and its script is not running: the first run has finished.
STAMP_SETTLED = """
const timer = setInterval(() => {
  if (document.querySelector('h1') && document.querySelector('%s')) {
    window.__settledAt = performance.now();
    clearInterval(timer);
  }
}, 20);
""" % SETTLED


def open_all(browser, url: str, count: int) -> tuple[list[float], float]:
    """Open ``count`` sessions at once; seconds from each request to settled, and the wall time."""
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1400}) for _ in range(count)]
    for context in contexts:
        context.add_init_script(STAMP_SETTLED)
    pages = [context.new_page() for context in contexts]
    start = time.perf_counter()
    for index, page in enumerate(pages):
        page.goto(f"{url}/{MIX[index % len(MIX)]}", wait_until="commit")
    settled = []
    for page in pages:
        page.wait_for_function("() => window.__settledAt !== undefined", timeout=600_000, polling=100)
        settled.append(page.evaluate("() => window.__settledAt") / 1e3)
        if page.locator('[data-testid="stException"]').count():
            raise RuntimeError(f"exception on {page.url}")
    wall = time.perf_counter() - start
    for context in contexts:
        context.close()
    return settled, wall


TRAIN_PAGE = "zero-init?model=cifar_resnet20"


def class_clicks_train(browser, url: str, count: int) -> float:
    """Seconds from the first of ``count`` sessions' clicks on *Train both twins* to the last curves."""
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1400}) for _ in range(count)]
    pages = [context.new_page() for context in contexts]
    for page in pages:
        page.goto(f"{url}/{TRAIN_PAGE}", wait_until="commit")
    for page in pages:
        page.wait_for_selector(".st-key-zi_train button", timeout=600_000)
        page.wait_for_selector(SETTLED, timeout=600_000)
    start = time.perf_counter()
    for page in pages:
        page.locator(".st-key-zi_train button").click()
    for page in pages:
        page.wait_for_selector(".st-key-zi_curves", timeout=900_000)
    wall = time.perf_counter() - start
    for context in contexts:
        context.close()
    return wall


def followers_in_process(count: int) -> float:
    """Seconds until ``count`` threads that join the page's training run (the class store, as the
    page uses it) all have its curves: the server's share of the scenario, without browsers."""
    import threading

    sys.path.insert(0, str(ROOT))
    from explorer.presets import get_preset
    from explorer.shared_results import SharedResults
    from explorer.training import TrainingRun, curves_bytes
    from explorer.zero_init import twins

    store = SharedResults(2**30)
    request = TrainingRun.of(twins(get_preset("cifar_resnet20")), 60, 32, 0.02, 0, 32)  # the page's defaults

    def follow() -> None:
        run = store.join(request, lambda run: request.train(run.report), curves_bytes)
        run.follow(lambda fraction, text: None, interval=1.0)
        store.leave(run)

    start = time.perf_counter()
    threads = [threading.Thread(target=follow) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.runs_started == 1
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="*", default=[10, 30], help="session counts (none: skip)")
    parser.add_argument("--train", type=int, default=5, help="sessions pressing Train together (0: skip)")
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    logs = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    rows = []
    for count in args.sessions:  # a fresh server for each count: nothing cached from the last
        with running_app(args.python, cwd=args.repo, log_path=logs / f"server-{count}.log",
                         app=args.repo / "explorer" / "app.py") as url, sync_playwright() as playwright:
            pid = server_pid(int(url.rsplit(":", 1)[1]))
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            cpu_before = cpu_seconds(pid)
            times, wall = open_all(browser, url, count)
            cpu = cpu_seconds(pid) - cpu_before
            rows.append(f"| {count} | {statistics.median(times):.1f} s | {percentile(times, 0.95):.1f} s | "
                        f"{max(times):.1f} s | {wall:.1f} s | {cpu / count:.2f} s | {peak_rss_mib(pid):,.0f} MiB |")
            browser.close()
    if rows:
        print("| sessions | p50 to settled | p95 | max | all settled (wall) | server CPU / session | server peak RSS |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(rows))
    if args.train:
        trains = []
        for count in (1, args.train):  # a fresh server each: no stored result helps the second
            with running_app(args.python, cwd=args.repo, log_path=logs / f"train-{count}.log",
                             app=args.repo / "explorer" / "app.py") as url, sync_playwright() as playwright:
                pid = server_pid(int(url.rsplit(":", 1)[1]))
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                cpu_before = cpu_seconds(pid)
                trains.append((count, class_clicks_train(browser, url, count), cpu_seconds(pid) - cpu_before))
                browser.close()
        (_, alone, alone_cpu), (count, together, together_cpu) = trains
        print()
        print("| class clicks Train (cifar_resnet20 twins, page defaults) | wall | server CPU | vs one session |")
        print("|---|---|---|---|")
        print(f"| 1 session | {alone:.1f} s | {alone_cpu:.1f} s | 1.00x |")
        print(f"| {count} sessions within a second | {together:.1f} s | {together_cpu:.1f} s | "
              f"{together / alone:.2f}x (goal ≤ 1.3x) |")
        alone, together = followers_in_process(1), followers_in_process(args.train)
        print(f"| server only: 1 follower thread, no browser | {alone:.1f} s | | 1.00x |")
        print(f"| server only: {args.train} follower threads, no browser | {together:.1f} s | | "
              f"{together / alone:.2f}x |")


if __name__ == "__main__":
    main()
