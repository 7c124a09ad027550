"""The command line's start-up: ``--help`` loads no torch, so it answers before a command that
needs torch has finished importing it. Each command runs in a fresh interpreter, as a user
types it. Goal: ``--help`` under 1 s (it took about 11 s when the parser imported torch).

    python benchmarks/bench_cli.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from timing import median_seconds

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    ("--help",),
    ("table", "--help"),
    ("predict", "--help"),
    ("table", "--style", "keras"),  # a usage error: refused before any torch import
    ("table", "resnet50"),  # for comparison: a command that needs torch
)


def run(command: tuple[str, ...]) -> None:
    subprocess.run([sys.executable, "-m", "explorer", *command], cwd=ROOT, capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    baseline = median_seconds(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), args.repeats)
    print(f"| command | median wall time ({args.repeats} runs) |")
    print("|---|---|")
    print(f"| `python -c pass` (the interpreter alone) | {baseline * 1e3:.0f} ms |")
    for command in COMMANDS:
        run(command)  # warm-up: the file cache
        print(f"| `python -m explorer {' '.join(command)}` | {median_seconds(lambda: run(command), args.repeats) * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
