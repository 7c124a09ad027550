"""A training step alone and while other sessions' pages compute, under torch's thread settings and the app's.

A class's server trains the zero_init page's twins while other sessions' pages run forward
passes (Predict, Feature maps): threads of one process, each leading its own OpenMP team.
Issue 23 saw 'Train both twins' take 849 s instead of 75 s on a busy 2-core server. Each
configuration runs in a fresh process (OpenMP reads its variables once, as torch loads):
torch's defaults, then what `explorer.runtime.threads.use_cpu_threads` sets for the app.
"busy" runs ``--others`` threads of ResNet-50 forward passes at 224 px, batch 1, beside the
training (``--beside process``: other programs doing that, with torch's own settings). Two equal jobs on the machine's cores would make a step about 2x slower; the goal is
a ratio near that, not the collapse that spinning idle threads cause.

    python benchmarks/bench_training_busy.py [--model resnet50] [--size 32] [--batch 16] [--steps 8] [--others 1] [--rounds 3] [--beside thread|process]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OMP_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")


def child(args: argparse.Namespace) -> dict[str, object]:
    """Median step time alone and beside ``args.others`` forward-pass threads, in this process."""
    import torch

    from explorer.model.build import build_model
    from explorer.model.presets import PRESETS
    from explorer.studies.training import sgd, sgd_step, with_task_head

    spec = with_task_head(PRESETS[args.model])
    model = build_model(spec, seed=0).train()
    optimizer = sgd(model, lr=0.01)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=generator)  # (B, 3, S, S)
    y = torch.arange(args.batch) % spec.num_classes

    def steps() -> float:
        seconds = []
        for _step in range(args.steps):
            started = time.perf_counter()
            sgd_step(model, optimizer, x, y)
            seconds.append(time.perf_counter() - started)
        return statistics.median(seconds)

    sgd_step(model, optimizer, x, y)  # warm-up
    alone = steps()
    if args.beside == "process":  # another program on the machine, with torch's own thread settings
        env = {k: v for k, v in os.environ.items() if k not in OMP_VARIABLES}
        others = [subprocess.Popen([sys.executable, __file__, "--forwards"], env=env, stdout=subprocess.PIPE, text=True)
                  for _ in range(args.others)]
        for other_process in others:
            other_process.stdout.readline()  # its model is built and has run once
        begun = time.perf_counter()
        busy = steps()
        elapsed = time.perf_counter() - begun
        for other_process in others:
            other_process.terminate()
        return {"threads": torch.get_num_threads(), "alone_ms": 1e3 * alone, "busy_ms": 1e3 * busy,
                "forwards_per_s": float("nan")}
    other = build_model(PRESETS["resnet50"], seed=1)  # another page's model (eval mode)
    picture = torch.randn(1, 3, 224, 224, generator=generator)
    done, started = threading.Event(), threading.Barrier(args.others + 1)
    forwards = [0] * args.others

    def page(index: int) -> None:
        with torch.inference_mode():
            other(picture)  # its first call, before the clock runs
            started.wait()
            while not done.is_set():
                other(picture)
                forwards[index] += 1

    threads = [threading.Thread(target=page, args=(i,)) for i in range(args.others)]
    for thread in threads:
        thread.start()
    started.wait()
    begun = time.perf_counter()
    busy = steps()
    elapsed = time.perf_counter() - begun
    done.set()
    for thread in threads:
        thread.join()
    return {"threads": torch.get_num_threads(), "alone_ms": 1e3 * alone, "busy_ms": 1e3 * busy,
            "forwards_per_s": sum(forwards) / elapsed}


def forwards_forever() -> None:
    """The other program of ``--beside process``: ResNet-50 forward passes at 224 px until terminated."""
    import torch

    from explorer.model.build import build_model
    from explorer.model.presets import PRESETS

    model = build_model(PRESETS["resnet50"], seed=1)
    picture = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        model(picture)
        print("ready", flush=True)
        while True:
            model(picture)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=32, help="training picture side (px)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8, help="timed steps, alone and busy (the median counts)")
    parser.add_argument("--others", type=int, default=1, help="threads of forward passes beside the training")
    parser.add_argument("--rounds", type=int, default=3, help="runs of every configuration, interleaved")
    parser.add_argument("--beside", choices=("thread", "process"), default="thread",
                        help="the other work: threads of this server, or other programs with torch's defaults")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--forwards", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.forwards:
        forwards_forever()
        return
    if args.child:
        print(json.dumps(child(args)))
        return
    sys.path.insert(0, str(ROOT))
    from explorer.runtime.threads import thread_environment

    base = {k: v for k, v in os.environ.items() if k not in OMP_VARIABLES}
    app = thread_environment(base)
    configurations = [("torch defaults", {}), ("the app's (use_cpu_threads)", app),
                      ("one thread a session", {**app, "OMP_NUM_THREADS": "1"})]
    beside = "thread(s) of this process" if args.beside == "thread" else "other program(s) with torch's defaults"
    print(f"{os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f} at the start; training "
          f"{args.model} at {args.size} px, batch {args.batch}; beside it {args.others} {beside} running ResNet-50 "
          f"forward passes at 224 px")
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _variables in configurations}
    for _round in range(args.rounds):  # interleaved, so a busy minute of the machine falls on every configuration
        for name, variables in configurations:
            env = {**base, **variables, "PYTHONPATH": str(ROOT)}
            command = [sys.executable, __file__, "--child", "--model", args.model, "--size", str(args.size),
                       "--batch", str(args.batch), "--steps", str(args.steps), "--others", str(args.others),
                       "--beside", args.beside]
            run = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            results[name].append(json.loads(run.stdout))
    print(f"medians of {args.rounds} rounds (the busy/alone range in brackets)")
    print("| threads settings | torch threads | step alone | step busy | busy / alone | forwards/s beside it |")
    print("|---|---|---|---|---|---|")
    for name, variables in configurations:
        rounds = results[name]
        ratios = [r["busy_ms"] / r["alone_ms"] for r in rounds]
        label = name + (f" ({', '.join(f'{k}={v}' for k, v in variables.items())})" if variables else "")
        alone, busy = (statistics.median(r[key] for r in rounds) for key in ("alone_ms", "busy_ms"))
        forwards = (f"{statistics.median(r['forwards_per_s'] for r in rounds):.1f}" if args.beside == "thread"
                    else "(not counted)")
        print(f"| {label} | {rounds[0]['threads']} | {alone:.0f} ms | {busy:.0f} ms | {statistics.median(ratios):.1f}x "
              f"({min(ratios):.1f}–{max(ratios):.1f}) | {forwards} |")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
