"""Render time of the Architecture page for resnet152 with Streamlit's AppTest.

Cold: every cache emptied (layer tables, conventions). Warm: a new session with the caches
filled. Widget change: a warm session whose batch size changes (goal: under 0.5 s).

    python benchmarks/bench_pages.py [--model resnet152] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from explorer.analysis.anatomy import layer_table

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"


def open_architecture(model: str) -> tuple[AppTest, float]:
    start = time.perf_counter()
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.query_params["model"] = model
    at.run()
    at.switch_page("../pages/architecture.py").run()
    elapsed = time.perf_counter() - start
    assert not at.exception, at.exception
    return at, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet152")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    st.cache_data.clear()
    layer_table.cache_clear()
    _, cold = open_architecture(args.model)
    warm_times, change_times = [], []
    for repeat in range(args.repeats):
        at, warm = open_architecture(args.model)
        warm_times.append(warm)
        start = time.perf_counter()
        at.number_input(key="arch_batch").set_value(2 + repeat).run()
        change_times.append(time.perf_counter() - start)
        assert not at.exception
    print("| page | model | cold (home + page) | warm (home + page) | widget change, warm |")
    print("|---|---|---|---|---|")
    print(f"| Architecture | {args.model} | {cold:.2f} s | {statistics.median(warm_times):.2f} s | "
          f"{statistics.median(change_times):.2f} s |")


if __name__ == "__main__":
    main()
