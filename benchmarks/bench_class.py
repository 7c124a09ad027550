"""Class mode: how soon followers show the teacher's change, and what idle followers cost the server.

A teacher and N followers, each page in a Chromium context of its own (its own Streamlit session),
all on Feature maps of cifar_resnet20 at 32 px, all following. The teacher clicks "next ▶"
``--changes`` times; for each follower and change the latency runs from the click to the
follower's layer list showing the teacher's new layer. Both ends are stamped by the browsers'
clocks (``performance.timeOrigin + performance.now()``, epoch milliseconds: comparable, as all
pages run on this machine): a 10 ms timer in each follower logs every value its layer input
takes. Reported per N: p50, p95 and max over all follower × change samples, misses (no
change within ``--timeout`` seconds), and the teacher's own page's p50 (the part no poll can
save). Goal with 30 followers: p50 ≤ 1 s, p95 ≤ 2 s.

Idle followers: the server's CPU seconds (user + system, from /proc, every process of its
session) over ``--idle-seconds`` after a 10 s warm-up, with no page open, the teacher alone,
and the teacher with M followers; the followers' share is the last minus the teacher alone.
Goal: 40 idle followers under 20 % of one core.

Chromium runs on the server's own cores here: its CPU is not counted, but it delays the
server's polls, so both numbers are upper bounds for a class whose students use their own
machines. ``--redis`` runs both parts on two app servers that share one real redis-server
(started here): the teacher on server A, the followers alternating A/B; CPU then sums both
servers and redis-server.

    python benchmarks/bench_class.py [--followers 10 30] [--changes 8] [--idle-followers 40]
                                     [--idle-seconds 60] [--redis]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench_sessions import percentile, server_pid
from browser import CHROMIUM, CHROMIUM_ARGS, ROOT, SETTLED, running_app

from tests.live_server import running_redis

START = "feature-maps?model=cifar_resnet20&model_input=32"  # small: many sessions share the cores
WAIT_MS = 600_000  # for pages to open and follow: 40 sessions starting at once on 2 cores are slow
WARM_UP_S = 10.0
# Headless Chromium slows timers of pages it deems hidden: every follower must poll as if in front.
NO_THROTTLING = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]

# Logs [epoch ms, value] each time the layer input's value changes, from now on.
WATCH_LAYER = """() => {
  clearInterval(window.__layerTimer);
  const value = () => document.querySelector('.st-key-fm_layer input')?.value;
  window.__layerLog = [[performance.timeOrigin + performance.now(), value()]];
  window.__layerTimer = setInterval(() => {
    const now = value();
    if (now !== window.__layerLog[window.__layerLog.length - 1][1])
      window.__layerLog.push([performance.timeOrigin + performance.now(), now]);
  }, 10);
}"""
NOW = "() => performance.timeOrigin + performance.now()"  # epoch ms, comparable between pages
FOLLOWS = "(shown) => document.querySelector('.st-key-fm_layer input')?.value === shown"
FIRST_SHOWN = """(expected) => {
  const hit = (window.__layerLog || []).find(([, value]) => value === expected);
  return hit ? hit[0] : null;
}"""


def layer(page) -> str:
    return page.locator(".st-key-fm_layer input").input_value()


def session_cpu_seconds(leader: int) -> float:
    """CPU seconds (user + system) of every live process in the session ``leader`` started."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == leader:  # fields[3]: the session id (a leader's own is its pid)
                total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def class_servers(redis: bool, logs: Path, name: str) -> Iterator[tuple[list[str], list[int]]]:
    """Fresh app servers for one scenario (one, or two sharing a fresh Redis): URLs, and the
    session leaders whose CPU counts (the app servers, and redis-server)."""
    with ExitStack() as stack:
        env, leaders = {}, []
        if redis:
            redis_url, redis_pid = stack.enter_context(running_redis())
            env, leaders = {"EXPLORER_REDIS_URL": redis_url}, [redis_pid]
        urls = [stack.enter_context(running_app(sys.executable, cwd=ROOT, log_path=logs / f"{name}-{server}.log",
                                                env=env))
                for server in ("a", "b")[:2 if redis else 1]]
        leaders += [server_pid(int(url.rsplit(":", 1)[1])) for url in urls]
        yield urls, leaders


def new_session(browser, url: str):
    """A page in a browser context of its own: its own Streamlit session, as on a student's laptop."""
    page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
    page.goto(url, wait_until="commit")
    return page


def settle(page) -> None:
    page.wait_for_selector(SETTLED, timeout=WAIT_MS)


def start_class(browser, url: str):
    """The teacher's page on Feature maps with a class started; the page and the room's code."""
    teacher = new_session(browser, f"{url}/{START}")
    teacher.locator(".st-key-fm_layer input").wait_for(timeout=WAIT_MS)
    settle(teacher)
    teacher.get_by_text("Class mode").click()
    teacher.locator(".st-key-class_start button").first.click()
    code = teacher.locator(".st-key-class-code .class-code")
    code.wait_for(state="visible", timeout=WAIT_MS)
    settle(teacher)
    return teacher, code.inner_text().strip()


def join(browser, urls: list[str], code: str, count: int, teacher) -> list:
    """``count`` students open the room's link (alternating servers) and follow the teacher."""
    students = [new_session(browser, f"{urls[index % len(urls)]}/?room={code}") for index in range(count)]
    shown = layer(teacher)
    for student in students:
        student.locator(".st-key-class-following").wait_for(state="visible", timeout=WAIT_MS)
        student.wait_for_function(FOLLOWS, arg=shown, timeout=WAIT_MS, polling=100)
    return students


def shown_at(page, expected: str, timeout_ms: float) -> float:
    """Epoch ms at which ``page``'s layer input first showed ``expected`` since `WATCH_LAYER`."""
    return page.wait_for_function(FIRST_SHOWN, arg=expected, polling=50, timeout=timeout_ms).json_value()


@dataclass(frozen=True)
class Propagation:
    """One follower count's changes, in seconds from the teacher's click."""

    latencies: list[float]  # to each follower showing the new layer, follower × change
    teacher: list[float]  # to the teacher's own page showing it: the part no poll can save
    misses: int  # follower × change that did not show it within the timeout


def propagation(browser, urls: list[str], count: int, changes: int, timeout_s: float) -> Propagation:
    """The teacher clicks next ▶ ``changes`` times with ``count`` followers."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    teacher, code = start_class(browser, urls[0])
    students = join(browser, urls, code, count, teacher)
    latencies, teacher_times, misses = [], [], 0
    for _ in range(changes):
        before = layer(teacher)
        for page in (teacher, *students):
            page.evaluate(WATCH_LAYER)
        button = teacher.locator(".st-key-fm_next button").first.element_handle()
        clicked = teacher.evaluate(f"(el) => {{ const t = ({NOW})(); el.click(); return t; }}", button)
        teacher.wait_for_function("(before) => document.querySelector('.st-key-fm_layer input')?.value !== before",
                                  arg=before, timeout=WAIT_MS, polling=50)
        settle(teacher)
        expected = layer(teacher)
        teacher_times.append((shown_at(teacher, expected, WAIT_MS) - clicked) / 1e3)
        deadline = time.monotonic() + timeout_s
        for student in students:
            try:
                shown = shown_at(student, expected, max(1.0, deadline - time.monotonic()) * 1e3)
                latencies.append((shown - clicked) / 1e3)
            except PlaywrightTimeout:
                misses += 1
        time.sleep(1.0)
    for page in (teacher, *students):
        page.context.close()
    return Propagation(latencies, teacher_times, misses)


def cpu_share(leaders: list[int], seconds: float) -> float:
    """Share of one core that ``leaders``' sessions used over the next ``seconds``, after a warm-up."""
    time.sleep(WARM_UP_S)
    before = sum(session_cpu_seconds(leader) for leader in leaders)
    time.sleep(seconds)
    return (sum(session_cpu_seconds(leader) for leader in leaders) - before) / seconds


def idle_followers(browser, urls: list[str], leaders: list[int], count: int, seconds: float) -> list[str]:
    """Table rows: the server idle, the teacher alone, and with ``count`` idle followers."""
    nobody = cpu_share(leaders, seconds)
    teacher, code = start_class(browser, urls[0])
    alone = cpu_share(leaders, seconds)
    students = join(browser, urls, code, count, teacher)
    with_followers = cpu_share(leaders, seconds)
    following = sum(student.locator(".st-key-class-following").count() for student in students)
    for page in (teacher, *students):
        page.context.close()
    followers = with_followers - alone
    return [f"| no page open | {100 * nobody:.1f} % | | |",
            f"| teacher alone, class started | {100 * alone:.1f} % | | |",
            f"| teacher + {count} idle followers ({following} still following at the end) | "
            f"{100 * with_followers:.1f} % | {100 * followers:.1f} % (goal < 20 % for 40) | "
            f"{60 * followers / max(count, 1):.3f} s |"]


def machine() -> str:
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return (f"commit {commit}{' (with uncommitted changes)' if dirty else ''}; {cpu}, {os.cpu_count()} logical CPUs, "
            f"load average {os.getloadavg()[0]:.1f} at the start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, nargs="*", default=[10, 30], help="follower counts (none: skip)")
    parser.add_argument("--changes", type=int, default=8, help="teacher's clicks on next ▶ per follower count")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds after a click before a follower misses")
    parser.add_argument("--idle-followers", type=int, default=40, help="followers for the idle CPU (0: skip)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="seconds of each CPU measurement")
    parser.add_argument("--redis", action="store_true", help="two app servers sharing one redis-server")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    logs = Path(tempfile.mkdtemp(prefix="bench-class-"))
    where = "two app servers sharing one redis-server" if args.redis else "one app server, rooms in process"
    print(f"{machine()}; {where}. Chromium runs on the same cores as the server(s).")
    print(f"Command: python benchmarks/bench_class.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"Server logs: {logs}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + NO_THROTTLING)
        if args.followers:
            print()
            print("| followers | p50 click → follower shows it | p95 | max | samples | misses | "
                  "teacher's own page shows it (p50) | goal (30) |")
            print("|---|---|---|---|---|---|---|---|")
        for count in args.followers:
            with class_servers(args.redis, logs, f"propagation-{count}") as (urls, _):
                run = propagation(browser, urls, count, args.changes, args.timeout)
            times = run.latencies
            summary = (f"{statistics.median(times):.2f} s | {percentile(times, 0.95):.2f} s | {max(times):.2f} s"
                       if times else "– | – | –")
            print(f"| {count} | {summary} | {len(times)} | {run.misses} | {statistics.median(run.teacher):.2f} s | "
                  "p50 ≤ 1 s, p95 ≤ 2 s |", flush=True)
        if args.idle_followers:
            with class_servers(args.redis, logs, "idle") as (urls, leaders):
                rows = idle_followers(browser, urls, leaders, args.idle_followers, args.idle_seconds)
            counted = "app servers + redis-server" if args.redis else "server"
            print()
            print(f"| idle, {args.idle_seconds:.0f} s after {WARM_UP_S:.0f} s warm-up | {counted} CPU, % of one core | "
                  "followers' share | CPU s per follower per minute |")
            print("|---|---|---|---|")
            print("\n".join(rows))
        browser.close()


if __name__ == "__main__":
    main()
