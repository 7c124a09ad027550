"""N real browser sessions open mixed pages at once on one server: how long until all settle.

Each session is its own Chromium context (own cookies, own Streamlit session) and opens one
page of a rotating mix of every page and several models. Reported: p50/p95/max time from the
request to the page settled, the wall time until every session settled, the server's CPU
seconds per session (from /proc, user + system) and its peak resident memory (VmHWM).

"Class clicks Train": N sessions open the zero_init page of cifar_resnet20 and, once their
browsers have drawn it, press *Train both twins* within a second; reported against one
session alone (goal for N = 5: ≤ 1.3x). Each is run ``--repeats`` times on a fresh server
(interleaved; the median is reported with the range: single runs vary by up to ±1 s here),
with the CPU seconds of the server and of Chromium from the first click to the last curves.
The browsers run on the server's own 2 cores here, where a class's run on the students'
machines, so it is done twice: with Chromium at the kernel's default share (its session gets
half the CPU whenever it wants it) and with Chromium at low priority (`lower_browser_priority`).
Then the same N followers as threads in one process with no browser: the server's share alone.

    python benchmarks/bench_sessions.py [--sessions 10 30] [--train 5] [--repeats 3] [--repo PATH] [--python PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
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


def our_chromium() -> dict[int, float]:
    """CPU seconds (user + system) of each Chromium process this benchmark started, by pid."""
    parents, chromium, ours = {}, {}, os.getpid()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                is_chromium = "chrom" in Path(os.readlink(entry / "exe")).name
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
            if is_chromium:
                chromium[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def descends_from_us(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 1)
            if pid == ours:
                return True
        return False

    return {pid: cpu for pid, cpu in chromium.items() if descends_from_us(pid)}


def chromium_cpu_seconds() -> float:
    """CPU seconds of all this benchmark's Chromium processes together."""
    return sum(our_chromium().values())


def wait_until_browsers_idle(quiet_cpu: float = 0.05, window: float = 0.5, timeout: float = 60.0) -> None:
    """Until Chromium used under ``quiet_cpu`` CPU seconds in ``window`` seconds: a settled script
    is not a drawn page (charts and tables still render), and a class clicks on pages long drawn."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = chromium_cpu_seconds()
        time.sleep(window)
        if chromium_cpu_seconds() - before < quiet_cpu:
            return
    raise TimeoutError(f"Chromium still busy {timeout:.0f} s after the pages settled")


def lower_browser_priority() -> bool:
    """Set the nice value of Chromium's autogroup to 19 (Linux ``/proc/PID/autogroup``); False
    where that cannot be done or would change nothing.

    With autogroups (Linux's default), the kernel first shares the CPU equally between sessions:
    the browser's session (Playwright starts Chromium in one of its own) gets half of the 2 cores
    whenever it wants them, however many threads the server runs, and a process's own nice value
    only counts inside its session. In a class the browsers run on the students' machines; at
    nice 19 they get what the server leaves instead.
    """
    enabled = Path("/proc/sys/kernel/sched_autogroup_enabled")
    if not enabled.exists() or enabled.read_text().strip() != "1" or not our_chromium():
        return False
    group = Path(f"/proc/{min(our_chromium())}/autogroup")  # one autogroup holds all of them
    try:
        group.write_text("19")
        return group.read_text().split()[-1] == "19"
    except OSError:
        return False


@dataclass(frozen=True)
class TrainClicks:
    """One class-clicks-Train run: from the first click to the last session's curves."""

    wall: float
    server_cpu: float
    browser_cpu: float


def class_clicks_train(browser, url: str, count: int, server: int) -> TrainClicks:
    """``count`` sessions open the page, then click *Train both twins* one after the other."""
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1400}) for _ in range(count)]
    pages = [context.new_page() for context in contexts]
    for page in pages:
        page.goto(f"{url}/{TRAIN_PAGE}", wait_until="commit")
    for page in pages:
        page.wait_for_selector(".st-key-zi_train button", timeout=600_000)
        page.wait_for_selector(SETTLED, timeout=600_000)
    wait_until_browsers_idle()
    server_before, browser_before = cpu_seconds(server), chromium_cpu_seconds()
    start = time.perf_counter()
    for page in pages:
        page.locator(".st-key-zi_train button").click()
    for page in pages:
        page.wait_for_selector(".st-key-zi_curves", timeout=900_000)
    wall = time.perf_counter() - start
    clicks = TrainClicks(wall, cpu_seconds(server) - server_before, chromium_cpu_seconds() - browser_before)
    for context in contexts:
        context.close()
    return clicks


def train_row(label: str, runs: list[TrainClicks], alone: float, goal: str = "") -> str:
    """A table row: medians, the wall time's range, and the ratio of medians to one session's."""
    wall = statistics.median(run.wall for run in runs)
    return (f"| {label} | {wall:.1f} s ({min(r.wall for r in runs):.1f}–{max(r.wall for r in runs):.1f}) | "
            f"{statistics.median(r.server_cpu for r in runs):.1f} s | "
            f"{statistics.median(r.browser_cpu for r in runs):.1f} s | {wall / alone:.2f}x{goal} |")


def followers_in_process(count: int, repo: Path) -> float:
    """Seconds until ``count`` threads that join the page's training run (the class store, as the
    page uses it) all have its curves: the server's share of the scenario, without browsers."""
    import threading

    sys.path.insert(0, str(repo))  # before the first import of explorer in this process
    from explorer.model.presets import get_preset
    from explorer.studies.shared_results import SharedResults
    from explorer.studies.training import TrainingRun, curves_bytes
    from explorer.studies.zero_init import twins

    store = SharedResults(2**30)
    request = TrainingRun.of(twins(get_preset("cifar_resnet20")), 60, 32, 0.02, 0, 32)  # fixed (the page fits its own)

    def follow() -> None:
        run = store.join(request, lambda run: request.train(run.report), curves_bytes)
        run.follow(interval=1.0)
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
    parser.add_argument("--repeats", type=int, default=3, help="fresh servers for each of 1 and --train sessions")
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
        modes = {"at the kernel's default share": False, "at low priority (autogroup nice 19)": True}
        runs: dict[tuple[str, int], list[TrainClicks]] = {}
        for repeat in range(args.repeats):  # fresh servers, modes and counts interleaved against drift
            for mode, low_priority in modes.items():
                for count in (1, args.train):
                    with running_app(args.python, cwd=args.repo, app=args.repo / "explorer" / "app.py",
                                     log_path=logs / f"train-{count}-{'low' if low_priority else 'default'}-{repeat}.log"
                                     ) as url, sync_playwright() as playwright:
                        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                        if low_priority and not lower_browser_priority():
                            browser.close()
                            continue
                        runs.setdefault((mode, count), []).append(
                            class_clicks_train(browser, url, count, server_pid(int(url.rsplit(":", 1)[1]))))
                        browser.close()
        print()
        print(f"| class clicks Train (cifar_resnet20 twins, page defaults; median of {args.repeats}) | wall (range) | "
              "server CPU | Chromium CPU | vs one session |")
        print("|---|---|---|---|---|")
        for mode in modes:
            if (mode, 1) not in runs:
                print(f"| browsers {mode}: not measured (this kernel has no autogroups to lower) | | | | |")
                continue
            alone = statistics.median(run.wall for run in runs[(mode, 1)])
            print(train_row(f"1 session, browser {mode}", runs[(mode, 1)], alone))
            print(train_row(f"{args.train} sessions within a second, browsers {mode}", runs[(mode, args.train)],
                            alone, " (goal ≤ 1.3x)"))
        alone, together = followers_in_process(1, args.repo), followers_in_process(args.train, args.repo)
        print(f"| server only: 1 follower thread, no browser (one run) | {alone:.1f} s | | | 1.00x |")
        print(f"| server only: {args.train} follower threads, no browser (one run) | {together:.1f} s | | | "
              f"{together / alone:.2f}x |")


if __name__ == "__main__":
    main()
