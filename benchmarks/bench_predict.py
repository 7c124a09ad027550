"""Prediction latency against a plain forward of the same model on the same preprocessed tensor.

"predict" = `explorer.predict.predict` (forward, softmax, top-5, labels); "from bytes" adds
decoding the JPEG and preprocessing. Goal: predict <= 1.1x the plain forward.

    python benchmarks/bench_predict.py [--repeats 15]
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds

from explorer.model.build import build_model
from explorer.data.images import decode_image, preprocess, sample_images
from explorer.analysis.predict import predict
from explorer.model.presets import PRESETS
from explorer.runtime.devices import synchronize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    data = sample_images()["chelsea"].read_bytes()
    tensor = preprocess(decode_image(data).image).tensor  # (3, 224, 224)
    names = [f"class {i}" for i in range(1000)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}, batch 1, 224 px")
    print("| model | plain forward | predict | ratio | from JPEG bytes | ratio |")
    print("|---|---|---|---|---|---|")
    for name in ("resnet18", "resnet50", "resnet152"):
        model = build_model(PRESETS[name], args.device, seed=0)

        def forward() -> None:
            with torch.inference_mode():
                model(tensor.unsqueeze(0).to(args.device))
            synchronize(args.device)

        forward()
        plain = 1e3 * median_seconds(forward, args.repeats)
        ours = 1e3 * median_seconds(lambda: predict(model, tensor, names), args.repeats)
        full = 1e3 * median_seconds(lambda: predict(model, preprocess(decode_image(data).image).tensor, names), args.repeats)
        print(f"| {name} | {plain:.1f} ms | {ours:.1f} ms | {ours / plain:.2f}x | {full:.1f} ms | {full / plain:.2f}x |")


if __name__ == "__main__":
    main()
