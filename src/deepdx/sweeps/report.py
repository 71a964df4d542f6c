"""Sweep reports: the training runs of Hydra multiruns (grids or Optuna searches), read back
through MLflow's search API, averaged over seeds, tabled and plotted.

Each training run logs its validation probe every epoch (``probe/precision`` ...
``probe/balanced``, see deepdx.models.cgan); a run's figures here are those of the epoch that
training kept (``train.select``: the best ``balanced`` or ``coverage`` epoch, or the last),
found from those histories as training found it; for a run calibrated after training
(``train.calibrate``), its ``sampled/*`` figures instead: the kept generator at the sampling
knobs calibration chose, which is also what the run returned to its sweeper.  The knobs of a sweep are the keys its jobs
were given (the ``overrides`` tag that pipeline/train.py sets) whose values differ between
runs; ``seed`` is never a knob: runs that differ only by seed are one setting, averaged.

    python -m deepdx.sweeps.report --experiment sweep-seed --experiment sweep-default --out reports/sweeps
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..corpus.table import write_csv
from ..errors import DeepDXError
from ..tracking import tracking_uri
from .jobs import overrides, short, untag

METRICS = ("precision", "recall", "density", "coverage", "balanced")
NOT_KNOBS = {"seed", "train.groups", "train.progress_bar", "train.steps", "train.scale_steps_above", "train.epochs"}
NOT_KNOB_PREFIXES = ("mlflow.", "hydra.", "data.")


@dataclass
class Run:
    status: str
    params: dict[str, str]
    swept: dict[str, str]  # the job's own overrides that can be knobs
    kept: dict[str, float]  # the kept generator's validation figures (as calibrated, when it was)


def kept_epoch(history: dict[str, list[float]], select: str) -> int:
    """The epoch training kept: the first best of ``select`` (balanced, coverage), or the last."""
    values = history.get(f"probe/{select}") if select != "last" else None
    if not values:
        return len(next(iter(history.values()), [])) - 1
    return int(np.argmax(values))


def load_runs(uri: str, experiments: list[str], sweep: str | None = None) -> list[Run]:
    """Every finished or failed training run of these experiments that belongs to a sweep."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = {name: client.get_experiment_by_name(name) for name in experiments}
    missing = [name for name, e in found.items() if e is None]
    if missing:
        raise DeepDXError(f"no MLflow experiment {', '.join(missing)} at {uri}")
    query = "tags.sweep != ''" if sweep is None else f"tags.sweep = '{sweep}'"
    runs = []
    for experiment in found.values():
        for r in client.search_runs([experiment.experiment_id], query, max_results=50000):
            history = {
                f"probe/{m}": [
                    x.value
                    for x in sorted(client.get_metric_history(r.info.run_id, f"probe/{m}"), key=lambda x: x.step)
                ]
                for m in METRICS
            }
            epoch = kept_epoch(history, r.data.params.get("train.select", "last"))
            kept = {m: history[f"probe/{m}"][epoch] for m in METRICS if 0 <= epoch < len(history[f"probe/{m}"])}
            kept.update({m: r.data.metrics[f"sampled/{m}"] for m in METRICS if f"sampled/{m}" in r.data.metrics})
            swept = {
                k: v
                for k, v in overrides(untag(r.data.tags.get("overrides", ""))).items()
                if k not in NOT_KNOBS and not k.startswith(NOT_KNOB_PREFIXES)
            }
            runs.append(Run(r.info.status, dict(r.data.params), swept, kept))
    return runs


def knobs(runs: list[Run]) -> list[str]:
    """Override keys whose values differ between the runs (``model`` first: the model config)."""
    keys = sorted({k for r in runs for k in r.swept}, key=lambda k: (k != "model", k))
    return [k for k in keys if len({r.swept.get(k, "") for r in runs}) > 1 or k == "model"]


def setting(run: Run, keys: list[str]) -> tuple:
    """The run's value of each knob: its override, else the resolved param (the model config's default)."""
    return tuple(run.swept.get(k) or ("default" if k == "model" else run.params.get(k, "")) for k in keys)


def summarise(runs: list[Run]) -> list[dict]:
    """One row per setting: the knobs, the number of finished, failed and unfinished runs, and
    the mean and standard deviation over the finished runs (seeds) of each kept validation
    figure; best balanced first (then coverage: a collapsed model scores 0 balanced everywhere)."""
    keys = knobs(runs)
    groups: dict[tuple, list[Run]] = {}
    for r in runs:
        groups.setdefault(setting(r, keys), []).append(r)
    rows = []
    for values, members in groups.items():
        done = [r for r in members if r.status == "FINISHED" and r.kept]
        row = dict(
            zip(keys, values),
            runs=len(done),
            failed=sum(r.status == "FAILED" for r in members),
            running=sum(r.status not in ("FINISHED", "FAILED") for r in members),
        )
        for m in METRICS:
            xs = [r.kept[m] for r in done if m in r.kept]
            row[m] = float(np.mean(xs)) if xs else float("nan")
            row[f"{m}_sd"] = float(np.std(xs)) if len(xs) > 1 else float("nan")
        rows.append(row)
    return sorted(rows, key=lambda r: (-np.nan_to_num(r["balanced"], nan=-1), -np.nan_to_num(r["coverage"], nan=-1)))


def _number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def plot(rows: list[dict], out: Path, prefix: str = "") -> list[Path]:
    """For each numeric knob: every metric against it (mean and standard deviation over seeds),
    one line per combination of the other knobs; for a search (no two settings share the
    other knobs), every setting as a point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = (
        [k for k in rows[0] if k not in ("runs", "failed", "running") and k not in METRICS and not k.endswith("_sd")]
        if rows
        else []
    )
    paths = []
    for knob in [k for k in keys if all(_number(r[k]) is not None for r in rows)]:
        others = [k for k in keys if k != knob]
        lines: dict[tuple, list[dict]] = {}
        for r in rows:
            lines.setdefault(tuple(r[k] for k in others), []).append(r)
        scatter = all(len(v) < 2 for v in lines.values())  # a search: every setting differs in every knob
        if scatter:
            lines = {("every setting",): rows}
        fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 3.2), sharex=True)
        for label, members in sorted(lines.items()):
            members = sorted(members, key=lambda r: _number(r[knob]))
            x = [_number(r[knob]) for r in members]
            for ax, m in zip(axes, METRICS):
                ax.errorbar(
                    x,
                    [r[m] for r in members],
                    yerr=[np.nan_to_num(r[f"{m}_sd"]) for r in members],
                    marker="o",
                    capsize=3,
                    linestyle="none" if scatter else "-",
                    label=" ".join(f"{k}={v}" for k, v in zip(others, label)) if not scatter else label[0],
                )
        for ax, m in zip(axes, METRICS):
            ax.set_title(m)
            ax.set_xlabel(knob)
            ax.set_ylim(0, max(1.05, ax.get_ylim()[1]))
        axes[0].set_ylabel("validation (mean ± sd over seeds)")
        axes[-1].legend(fontsize=6)
        fig.tight_layout()
        path = out / f"{prefix}{re.sub(r'[^A-Za-z0-9_.-]', '_', knob)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def markdown(rows: list[dict]) -> str:
    if not rows:
        return "no runs\n"
    keys = [k for k in rows[0] if not k.endswith("_sd") and k not in METRICS]
    head = keys + list(METRICS)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [short(str(r[k])) for k in keys] + [
            f"{r[m]:.3f} ± {r[m + '_sd']:.3f}" if r[m + "_sd"] == r[m + "_sd"] else f"{r[m]:.3f}" for m in METRICS
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def report(uri: str, experiments: list[str], out: str | Path, sweep: str | None = None) -> dict:
    """Per experiment: ``<experiment>.csv``, ``<experiment>.md`` and a plot per numeric knob,
    ``<experiment>-<knob>.png``, in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in experiments:
        runs = load_runs(uri, [name], sweep)
        if not runs:
            raise DeepDXError(f"experiment {name} has no sweep runs at {uri}")
        rows = summarise(runs)
        write_csv(out / f"{name}.csv", rows, list(rows[0]))
        (out / f"{name}.md").write_text(f"# {name}: {len(runs)} runs\n\n" + markdown(rows))
        written[name] = {
            "runs": len(runs),
            "settings": len(rows),
            "plots": [str(p) for p in plot(rows, out, f"{name}-")],
        }
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepdx.sweeps.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", action="append", required=True, help="MLflow experiment (repeatable)")
    parser.add_argument("--sweep", help="only the runs of this sweep (its multirun folder, the runs' `sweep` tag)")
    parser.add_argument("--tracking-uri", help="default: MLFLOW_TRACKING_URI, else the project's mlflow.db")
    parser.add_argument("--out", default="reports/sweeps")
    args = parser.parse_args(argv)
    try:
        written = report(tracking_uri(args.tracking_uri), args.experiment, args.out, args.sweep)
    except DeepDXError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, info in written.items():
        print(
            f"{name}: {info['runs']} runs, {info['settings']} settings -> {args.out}/{name}.md, "
            f"{len(info['plots'])} plots"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
