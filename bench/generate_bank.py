"""Benchmark: one bank from the command line, as a musician runs it, and where its time goes.

    python bench/generate_bank.py [--category bells] [--runs 5] [--models data/models]
                                  [--critic data/critic] [--split data/split] [--module]

Two measurements, each in fresh processes (a user's call starts cold):

* ``deepdx generate --category C`` with the critic on, ``runs`` times: the wall time of the
  whole command (median and range) and its peak RSS; after each call, a Python that only
  imports torch and leaves as the command does (the floor of any command that samples a torch
  model, measured the same minute);
* the same call once more inside one process with timers on its phases: imports (everything
  the command imports, torch included), loading (models, critics, training voices for the
  novelty check), sampling (drawing, the critic's choice, the audio measures), rendering
  (dexed-py's time, wall clock, across every thread) and writing the bank; then what the
  process took outside them (the interpreter's start, and its exit).

Target (issue 52): at most 2 s (median of five) on the 2-core development machine.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def phases(argv: list[str]) -> dict:
    """The phases of one ``deepdx`` call, in this (fresh) process."""
    start = time.perf_counter()
    import deepdx.cli as cli  # the command's own imports, then what its generate path imports
    from deepdx.audio import render
    from deepdx.generate import banks, sample

    out = {"imports": time.perf_counter() - start}
    timers = {"loading": 0.0, "writing": 0.0, "generating": 0.0}

    def timed(module, name: str, phase: str) -> None:
        original = getattr(module, name)

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                timers[phase] += time.perf_counter() - t

        setattr(module, name, wrapper)

    timed(sample, "load_models", "loading")
    timed(sample, "training_keys", "loading")
    timed(sample, "generate", "generating")
    timed(banks, "write_banks", "writing")
    # rendering: the wall time during which at least one render runs, whatever the thread
    lock, active, rendering = threading.Lock(), [0], [0.0, 0.0]  # running renders; since, total
    original = render.Renderer.render

    def render_timed(self, voice):
        with lock:
            if active[0] == 0:
                rendering[0] = time.perf_counter()
            active[0] += 1
        try:
            return original(self, voice)
        finally:
            with lock:
                active[0] -= 1
                if active[0] == 0:
                    rendering[1] += time.perf_counter() - rendering[0]

    render.Renderer.render = render_timed
    t = time.perf_counter()
    sys.argv = ["deepdx", *argv]  # as the command runs it (main() reads sys.argv)
    if cli.main():
        sys.exit("the deepdx call failed")
    total = time.perf_counter() - t
    out["loading"] = timers["loading"]
    out["rendering"] = rendering[1]
    out["sampling"] = timers["generating"] - rendering[1]
    out["writing"] = timers["writing"]
    out["other"] = total - timers["loading"] - timers["generating"] - timers["writing"]
    out["total"] = out["imports"] + total
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--category", default="bells")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--models", default="data/models")
    ap.add_argument("--critic", default="data/critic")
    ap.add_argument("--split", default="data/split")
    ap.add_argument(
        "--module",
        action="store_true",
        help="run `python -m deepdx.cli`, not the installed command (other code: PYTHONPATH=other/src)",
    )
    ap.add_argument("--phases", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phases is not None:
        print(json.dumps(phases(args.phases)), flush=True)
        os._exit(0)  # as the command leaves (deepdx.cli.command)
    for path in (args.models, args.critic, args.split):
        if not os.path.isdir(path):
            sys.exit(f"{path}: no such folder (run dvc repro, or name the folders)")
    with tempfile.TemporaryDirectory() as tmp:
        call = [
            "generate",
            "--category",
            args.category,
            "--models",
            args.models,
            "--critic",
            args.critic,
            "--routing",
            f"{args.split}/routing.json",
            "--train",
            args.split,
            "--out",
        ]
        script = os.path.join(os.path.dirname(sys.executable), "deepdx")  # the installed command
        use_script = os.path.exists(script) and not args.module
        command = [script] if use_script else [sys.executable, "-m", "deepdx.cli"]
        walls, floor = [], []
        for r in range(args.runs):  # each call, then torch's import alone: the floor, the same minute
            out = os.path.join(tmp, f"run{r}.syx")
            t = time.perf_counter()
            subprocess.run([*command, *call, out], check=True, capture_output=True)
            walls.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import os, torch; os._exit(0)"], check=True)  # leaves as deepdx does
            floor.append(time.perf_counter() - t)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        t = time.perf_counter()
        timed = subprocess.run(
            [sys.executable, __file__, "--phases", *call, os.path.join(tmp, "phases.syx")],
            check=True,
            capture_output=True,
            text=True,
            cwd=os.getcwd(),
        )
        split = json.loads(timed.stdout.strip().splitlines()[-1])
        split["start and exit"] = time.perf_counter() - t - split["total"]  # the interpreter's, outside the timers
    median = statistics.median(walls)
    print(
        f"deepdx generate --category {args.category} (critic on), {args.runs} fresh processes: "
        f"median {median:.2f} s (range {min(walls):.2f}-{max(walls):.2f}), peak RSS {rss:.0f} MB; "
        f"target at most 2 s: {'met' if median <= 2 else 'MISSED'}"
    )
    print(f"a Python that imports torch and leaves, between the calls: median {statistics.median(floor):.2f} s")
    print("\none more call, its phases:\n\n| phase | s |\n| --- | --- |")
    for phase in ("imports", "loading", "sampling", "rendering", "writing", "other", "total", "start and exit"):
        print(f"| {phase} | {split[phase]:.2f} |")


if __name__ == "__main__":
    main()
