"""Activation capture vs one plain forward of the same model on the same image, and its memory.

Capture = the stem and every block's output ("blocks", what the Feature maps page captures
first), or additionally every conv/BN/ReLU call and every block's shortcut and F(x)
("detail"), copied to the CPU as float16. Goal: blocks <= 1.2x a forward.

    python benchmarks/bench_capture.py [--repeats 9]
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds

from explorer.analysis.activations import capture_activations, capture_bytes, capture_points
from explorer.model.build import build_model
from explorer.data.images import decode_image, preprocess, sample_images
from explorer.model.presets import PRESETS
from explorer.runtime.devices import synchronize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    image = preprocess(decode_image(sample_images()["chelsea"].read_bytes()).image).tensor  # (3, 224, 224)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")
    print("| model | plain forward | capture blocks | ratio | capture detail | ratio | maps (blocks) | maps (detail) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("resnet18", "resnet50", "resnet152"):
        spec = PRESETS[name]
        model = build_model(spec, args.device, seed=0)
        blocks = capture_points(spec, 224)
        detail = capture_points(spec, 224, detail=True, residual_parts=True)

        def forward() -> None:
            with torch.inference_mode():
                model(image.unsqueeze(0).to(args.device))
            synchronize(args.device)

        forward()
        capture_activations(model, spec, image, blocks)
        plain = 1e3 * median_seconds(forward, args.repeats)
        block_ms = 1e3 * median_seconds(lambda: capture_activations(model, spec, image, blocks), args.repeats)
        detail_ms = 1e3 * median_seconds(lambda: capture_activations(model, spec, image, detail), args.repeats)
        print(f"| {name} | {plain:.0f} ms | {block_ms:.0f} ms | {block_ms / plain:.2f}x | {detail_ms:.0f} ms | "
              f"{detail_ms / plain:.2f}x | {capture_bytes(blocks) / 2**20:.1f} MiB | {capture_bytes(detail) / 2**20:.1f} MiB |")


if __name__ == "__main__":
    main()
