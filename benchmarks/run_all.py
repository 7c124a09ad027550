"""Run every benchmark in one go and write benchmarks/RESULTS.md.

Each benchmark runs in its own process (so one's caches and memory do not help another);
its peak resident memory is reported beside its table. With CUDA, a GPU section runs the
`gpu` tests and the capture and predict benchmarks on the GPU; without, it says so.

    python benchmarks/run_all.py [--before PATH]

``--before PATH`` also runs the browser benchmarks against another checkout (e.g. a worktree
of an older commit) in the same run, for before/after tables.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Runs a benchmark script as __main__ and prints its own peak RSS (KiB) last.
WRAPPER = ("import os, resource, runpy, sys; script = sys.argv[1]; sys.argv = sys.argv[1:]; "
           "sys.path.insert(0, os.path.dirname(script)); "
           "runpy.run_path(script, run_name='__main__'); "
           "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
BENCHMARKS = [
    ("Layer table vs build + torchinfo + thop", "bench_table.py", []),
    ("Command line start-up", "bench_cli.py", []),
    ("Page render (AppTest)", "bench_pages.py", []),
    ("Activation capture vs plain forward", "bench_capture.py", []),
    ("Prediction vs plain forward", "bench_predict.py", []),
    ("Click to settled in a real browser", "bench_clicks.py", []),
    ("Many sessions on one server, and a class clicking Train", "bench_sessions.py", []),
    ("A training step beside other work: torch's thread settings and the app's", "bench_training_busy.py", []),
]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            kib = int(next(line.split()[1] for line in info if line.startswith("MemTotal")))
            memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    return (f"{cpu}, {os.cpu_count()} logical CPUs{memory}; {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} torch threads")


def run(script: str, extra: list[str]) -> tuple[str, float | None]:
    result = subprocess.run([sys.executable, "-c", WRAPPER, str(HERE / script), *extra], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    lines = result.stdout.strip().splitlines()
    peak = None
    if lines and lines[-1].startswith("PEAK_RSS_KIB"):
        peak = int(lines.pop().split()[1]) / 2**20
    text = "\n".join(lines)
    if result.returncode != 0:
        text += f"\n\n(failed with exit code {result.returncode})\n```\n{result.stderr[-2000:]}\n```"
    return text, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older checkout to run the browser benchmarks against too")
    args = parser.parse_args()
    sections = [f"# Benchmark results\n\nMeasured {datetime.date.today().isoformat()} in one run of "
                f"`python benchmarks/run_all.py` on: {machine()}.\n"]
    for title, script, extra in BENCHMARKS:
        print(f"running {script} …", file=sys.stderr)
        text, peak = run(script, extra)
        memory = f"\n\nPeak memory of this benchmark's process: {peak:.2f} GiB." if peak is not None else ""
        sections.append(f"## {title}\n\n`{script}`\n\n{text}{memory}\n")
        if args.before is not None and script in ("bench_clicks.py", "bench_sessions.py"):
            print(f"running {script} against {args.before} …", file=sys.stderr)
            text, _ = run(script, ["--repo", str(args.before)])
            commit = subprocess.run(["git", "-C", str(args.before), "log", "-1", "--format=%h %s"],
                                    capture_output=True, text=True, check=False).stdout.strip()
            sections.append(f"### Before: the same benchmark against `{commit}`\n\n{text}\n")
    if torch.cuda.is_available():
        tests = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q"], cwd=ROOT, capture_output=True, text=True)
        gpu = [f"`pytest -m gpu`: {tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else 'no output'}\n"]
        for title, script in (("Activation capture", "bench_capture.py"), ("Prediction", "bench_predict.py")):
            text, peak = run(script, ["--device", "cuda"])
            gpu.append(f"### {title} on the GPU\n\n{text}\n")
        sections.append("## GPU\n\n" + "\n".join(gpu))
    else:
        sections.append("## GPU\n\nAbsent: no CUDA device on this machine, so the `gpu` tests were skipped and no GPU "
                        "benchmark ran. Run `python benchmarks/run_all.py` on a CUDA machine to fill this section.\n")
    (HERE / "RESULTS.md").write_text("\n".join(sections), encoding="utf-8")
    print(f"wrote {HERE / 'RESULTS.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
