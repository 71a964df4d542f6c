"""Benchmark: training throughput over the six algorithm groups, by CPU code path and number
format, each as a share of the machine's own matrix-product peak.

    python bench/train_speed.py [SPLIT_DIR] [--steps 60] [--repeats 3] [--model default] [--set KEY=VALUE ...]

Each setting runs in fresh processes (the code path is chosen when torch loads):

* ``pinned fp32``: float32 on the AVX2 code paths that DeepDX pinned before (``PIN``);
* ``native fp32``: float32 on the kernels the libraries choose for this CPU;
* ``native bf16``: the same, the training step under bfloat16 autocast (``train.precision=bf16``).

As in the train stage, ``--jobs`` (2) one-thread processes train side by side, each taking
every other group; each group's model (its own size, spike gates and categories, as the
train stage builds it) trains ``steps`` steps after a few of warm-up.  The figure is
voice-steps per second over all six groups: every voice of every timed step, over the
longest process's timed seconds.  Then as many processes side by side measure the machine's
matrix-product peak for float32 and bfloat16 (1024 x 1024 products, best of five, summed
over the processes), and the step's arithmetic is counted (torch's FLOP counter; R1's double
backward is not counted, so the CGAN's share of peak is a floor).  The settings alternate
within each repeat: the table gives medians over the repeats and, for the ratios, the median
of the ratios taken within a repeat.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the code-path pins of DeepDX before 2026-12 (they cost throughput and kept nothing equal
# across the two machine kinds measured: docs/reproducibility.md)
PIN = {"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"}
SETTINGS = {"pinned fp32": (PIN, "32"), "native fp32": ({}, "32"), "native bf16": ({}, "bf16")}


def peak(dtype, n: int = 1024, repeats: int = 5) -> float:
    """GFLOP/s of one thread's ``n``-square matrix products in ``dtype``: the best of ``repeats``."""
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def worker(split: str, steps: int, overrides: list[str], groups: list[int]) -> dict:
    """One process of a setting (its environment already set): timed seconds, voices and FLOPs
    of each of ``groups``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from deepdx.config import compose
    from deepdx.models import precision
    from deepdx.models.probed import without_lightning
    from deepdx.models.train import group_module

    torch.set_num_threads(1)
    cfg = compose(*overrides)
    asked = cfg.train.precision
    routing = json.load(open(os.path.join(split, "routing.json")))
    n_classes, warmup = len(routing["categories"]), 5
    seconds, voices, flops = [], [], []
    for group in groups:
        torch.manual_seed(group)
        module, data = group_module(cfg, split, group, n_classes, seed=group)
        module = without_lightning(module)
        batches = list(data.train_dataloader())
        with precision.autocast(asked):
            for i in range(warmup):
                module.training_step(batches[i % len(batches)], i)
            t = time.perf_counter()
            for i in range(warmup, warmup + steps):
                module.training_step(batches[i % len(batches)], i)
            seconds.append(time.perf_counter() - t)
        voices.append(steps * cfg.train.batch_size)
        if cfg.model.family == "cgan":  # the counter cannot follow R1's double backward
            module.model_cfg.r1 = 0.0
        with FlopCounterMode(display=False) as counter:
            module.training_step(batches[0], 0)
        flops.append(counter.get_total_flops() / cfg.train.batch_size)
    return {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "precision": precision.used(asked),
        "groups": groups,
        "seconds": seconds,
        "voices": voices,
        "flops": [f * v for f, v in zip(flops, voices)],
    }


def peaks() -> dict:
    import torch

    torch.set_num_threads(1)
    return {"fp32": peak(torch.float32), "bf16": peak(torch.bfloat16)}


def side_by_side(setting: str, args, what: list[str]) -> list[dict]:
    """``args.jobs`` worker processes of ``setting`` at once; their reports."""
    env_pins, asked = SETTINGS[setting]
    env = {k: v for k, v in os.environ.items() if k not in PIN}
    env.update(env_pins, PYTHONWARNINGS="ignore")
    base = [sys.executable, __file__, args.split, "--steps", str(args.steps), "--model", args.model]
    procs = [
        subprocess.Popen(
            [*base, *what, str(i), "--set", f"train.precision={asked}", *args.set],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(args.jobs)
    ]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate()
        if proc.returncode:
            sys.exit(f"{setting}: a worker failed:\n{stderr[-3000:]}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def run(setting: str, args) -> dict:
    """One repeat of ``setting``: the training processes side by side, then the peak's."""
    parts = side_by_side(setting, args, ["--worker"])
    top = side_by_side(setting, args, ["--peak"])
    voices = sum(sum(p["voices"]) for p in parts)
    return {
        "capability": parts[0]["capability"],
        "precision": parts[0]["precision"],
        "per_group": {g: v / s for p in parts for g, v, s in zip(p["groups"], p["voices"], p["seconds"])},
        "voice_steps_per_s": voices / max(sum(p["seconds"]) for p in parts),
        "gflop_per_voice": sum(sum(p["flops"]) for p in parts) / voices / 1e9,
        "peak": {k: sum(t[k] for t in top) for k in ("fp32", "bf16")},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("split", nargs="?", default="data/split", help="the split stage's folder (data/split)")
    ap.add_argument("--steps", type=int, default=60, help="timed steps per group")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="default", help="model config (default | flow | seed)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more config overrides")
    ap.add_argument("--jobs", type=int, default=2, help="processes side by side (train.jobs)")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--peak", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.split, "routing.json")):
        sys.exit(f"{args.split}: no split stage output here (run dvc repro split, or name the folder)")
    if args.peak is not None:
        print(json.dumps(peaks()))
        return
    if args.worker is not None:
        n = len(json.load(open(os.path.join(args.split, "routing.json")))["groups"])
        groups = [g for g in range(n) if g % args.jobs == args.worker]
        print(json.dumps(worker(args.split, args.steps, [f"model={args.model}", *args.set], groups)))
        return
    results = {s: [] for s in SETTINGS}
    for r in range(args.repeats):
        for s in SETTINGS:
            results[s].append(run(s, args))
            print(f"repeat {r + 1}: {s:12s} {results[s][-1]['voice_steps_per_s']:7.0f} voice-steps/s", file=sys.stderr)
    base = results["pinned fp32"]
    dtype = {"32": "fp32", "bf16": "bf16"}
    print(
        f"\nmodel={args.model} {' '.join(args.set)}: six groups, {args.steps} steps each, {args.jobs} one-thread "
        f"processes side by side; medians of {args.repeats} repeats, ratios taken within each repeat\n"
    )
    print(
        "| setting | kernels | voice-steps/s | ratio to pinned (range) | GFLOP/s | peak (its dtype) | share of peak |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for s, rs in results.items():
        speed = statistics.median(x["voice_steps_per_s"] for x in rs)
        ratios = [x["voice_steps_per_s"] / b["voice_steps_per_s"] for x, b in zip(rs, base)]
        ratio = statistics.median(ratios)
        achieved = statistics.median(x["voice_steps_per_s"] * x["gflop_per_voice"] for x in rs)
        top = statistics.median(x["peak"][dtype[x["precision"]]] for x in rs)
        print(
            f"| {s} | {rs[0]['capability']}, {dtype[rs[0]['precision']]} | {speed:.0f} | "
            f"{ratio:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | "
            f"{achieved:.1f} | {top:.0f} | {100 * achieved / top:.0f} % |"
        )
    print(f"\npeaks of {args.jobs} one-thread processes side by side, GFLOP/s (medians): ", end="")
    print(
        "; ".join(
            f"{s}: fp32 {statistics.median(x['peak']['fp32'] for x in rs):.0f}, "
            f"bf16 {statistics.median(x['peak']['bf16'] for x in rs):.0f}"
            for s, rs in results.items()
        )
    )
    print("voice-steps/s of each group, g0 / g1 / ... (medians): ", end="")
    print(
        "; ".join(
            f"{s}: "
            + " / ".join(f"{statistics.median(x['per_group'][g] for x in rs):.0f}" for g in sorted(rs[0]["per_group"]))
            for s, rs in results.items()
        )
    )


if __name__ == "__main__":
    main()
