"""Levers as tracked experiments: a verdict on an MLflow run, and the report made from them.

    python -m deepdx.decisions record RUN_ID --verdict "not kept" --why "recall -0.02 at seeds 42 and 7"
    python -m deepdx.decisions report [--experiment NAME ...]      # markdown on stdout

A lever tried is a run (a training job, a sweep job, a `dvc exp run`'s evaluate run); once
its figures are in, ``record`` tags it ``decision`` (kept | not kept) and ``why``.  ``report``
lists every tagged run, newest first, with its experiment, name, the overrides it ran with
and its figures on validation voices (``sampled/*`` or ``probe/*``, as the sweep report
reads them), so the lab notebook is generated from the records, not retyped.  The store is
``--tracking-uri``, else MLFLOW_TRACKING_URI, else the project's ``mlflow.db``.
"""

from __future__ import annotations

import argparse
import sys

VERDICTS = ("kept", "not kept")
SHOWN = ("balanced", "precision", "recall", "coverage", "audio_frechet")


def record(client, run_id: str, verdict: str, why: str) -> None:
    if verdict not in VERDICTS:
        raise ValueError(f"a verdict is one of {', '.join(VERDICTS)}; got {verdict!r}")
    if not why.strip():
        raise ValueError("say why: the figure that decided it")
    client.get_run(run_id)  # fails on an unknown run before anything is written
    client.set_tag(run_id, "decision", verdict)
    client.set_tag(run_id, "why", why.strip())


def _figure(metrics: dict, name: str) -> str:
    for prefix in ("sampled/", "probe/", "cgan.", ""):
        if prefix + name in metrics:
            return f"{metrics[prefix + name]:.3f}"
    return ""


def report(client, experiments: list[str] | None = None) -> str:
    """A markdown table of every run tagged with a decision, in the named experiments (all when none)."""
    found = [e for e in client.search_experiments() if not experiments or e.name in experiments]
    names = {e.experiment_id: e.name for e in found}
    runs = (
        client.search_runs(
            list(names), "tags.decision != ''", order_by=["attributes.start_time DESC"], max_results=10000
        )
        if names
        else []
    )
    lines = [
        "| run | experiment | overrides | " + " | ".join(SHOWN) + " | verdict | why |",
        "| --- " * (len(SHOWN) + 5) + "|",
    ]
    for r in runs:
        tags = r.data.tags
        lines.append(
            f"| {r.info.run_name} | {names[r.info.experiment_id]} | {tags.get('overrides', '')} | "
            + " | ".join(_figure(r.data.metrics, m) for m in SHOWN)
            + f" | {tags['decision']} | {tags.get('why', '')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import mlflow

    from .tracking import tracking_uri

    p = argparse.ArgumentParser(prog="python -m deepdx.decisions", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--tracking-uri", default=None, help="the MLflow store (default: MLFLOW_TRACKING_URI, else mlflow.db)"
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="tag a run with its verdict")
    r.add_argument("run_id")
    r.add_argument("--verdict", required=True, choices=VERDICTS)
    r.add_argument("--why", required=True, help="the figure that decided it")
    s = sub.add_parser("report", help="every decided run as a markdown table")
    s.add_argument("--experiment", action="append", default=None, help="only these experiments (repeatable)")
    args = p.parse_args(argv)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(args.tracking_uri))
    try:
        if args.cmd == "record":
            record(client, args.run_id, args.verdict, args.why)
            print(f"run {args.run_id}: {args.verdict} ({args.why})")
        else:
            sys.stdout.write(report(client, args.experiment))
    except (ValueError, mlflow.exceptions.MlflowException) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
