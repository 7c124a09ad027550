"""Layer table vs what a user would otherwise run, timed in one process.

Baseline: build the real torchvision model, then ``torchinfo.summary`` and ``thop.profile``
on it (shapes + params + MACs). Also shown: one plain forward pass of the built model.
``layer_table`` is timed uncached (its ``lru_cache`` bypassed). Goals: >= 10x faster than
the baseline for resnet152 at 224, and the same time at 1024 as at 224.

    python benchmarks/bench_table.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import warnings

import thop
import torch
import torchinfo
import torchvision
from timing import median_seconds

from explorer.analysis.anatomy import layer_table
from explorer.model.presets import PRESETS

MODELS = ("resnet18", "resnet50", "resnet152")


def baseline(name: str, size: int) -> None:
    model = torchvision.models.get_model(name).eval()
    torchinfo.summary(model, input_size=(1, 3, size, size), verbose=0)
    thop.profile(model, inputs=(torch.zeros(1, 3, size, size),), verbose=False)


def plain_forward(model: torch.nn.Module, size: int) -> None:
    with torch.inference_mode():
        model(torch.zeros(1, 3, size, size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    uncached_table = layer_table.__wrapped__
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    print("| model | layer_table 224 | layer_table 1024 | 1024/224 | build+torchinfo+thop 224 | speed-up | plain forward 224 |")
    print("|---|---|---|---|---|---|---|")
    for name in MODELS:
        spec = PRESETS[name]
        uncached_table(spec, 224)  # warm-up: imports, first meta kernels
        ours_224 = median_seconds(lambda: uncached_table(spec, 224), args.repeats)
        ours_1024 = median_seconds(lambda: uncached_table(spec, 1024), args.repeats)
        theirs = median_seconds(lambda: baseline(name, 224), max(1, args.repeats // 2))
        model = torchvision.models.get_model(name).eval()
        plain_forward(model, 224)
        forward = median_seconds(lambda: plain_forward(model, 224), args.repeats)
        print(f"| {name} | {ours_224 * 1e3:.0f} ms | {ours_1024 * 1e3:.0f} ms | {ours_1024 / ours_224:.2f} | "
              f"{theirs * 1e3:.0f} ms | {theirs / ours_224:.1f}x | {forward * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
