"""The results tables of README.md and docs/results.md, written from metrics/evaluate.json (the
default run's) and docs/results/flow.json (the held-out evaluation of a full
`dvc exp run -S model=flow`, copied from that run's metrics/evaluate.json).

    python -m deepdx.results            # rewrite every generated table in place
    python -m deepdx.results --check    # exit 1 when one differs from what the metrics give

A generated table sits between ``<!-- results:NAME -->`` and ``<!-- /results -->``; the text
in between is never edited by hand (tests/test_results.py fails when it disagrees).  Targets
are held-out figures of the generator (``cgan``: sampled through the critic, before repair)
against ``real`` (a training sample, the ceiling), overall unless said.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("README.md", "docs/results.md")
BLOCK = re.compile(r"(<!-- results:(\w+) -->\n)(.*?)(<!-- /results -->)", re.S)
MODEL = "cgan"  # the generated set's name in evaluate.json, whichever family made it (its "family" says which)
FLOW = "docs/results/flow.json"


def _ratio(metric: str) -> Callable[[dict], tuple[float, str]]:
    def measure(m: dict) -> tuple[float, str]:
        v, r = m["overall"][MODEL][metric], m["overall"]["real"][metric]
        return v / r, f"{v / r:.2f}x ({v:.3f} against {r:.3f})"

    return measure


def _worst_group_coverage(m: dict) -> tuple[float, str]:
    shares = {g: rows[MODEL]["coverage"] / rows["real"]["coverage"] for g, rows in m["groups"].items()}
    g = min(shares, key=shares.get)
    return shares[g], f"{min(shares.values()):.2f}x-{max(shares.values()):.2f}x (lowest: group {g})"


def _points_over(metric: str) -> Callable[[dict], tuple[float, str]]:
    """Percentage points above real's, in the group furthest above (below real is no fault: the
    critic's screen drops silent and harsh draws)."""

    def measure(m: dict) -> tuple[float, str]:
        over = {g: 100 * (rows[MODEL][metric] - rows["real"][metric]) for g, rows in m["groups"].items()}
        g = max(over, key=over.get)
        overall = 100 * (m["overall"][MODEL][metric] - m["overall"]["real"][metric])
        return over[g], f"overall {overall:+.1f} points; highest group {g} {over[g]:+.1f}"

    return measure


def _against(metric: str, baseline: str) -> Callable[[dict], tuple[float, str]]:
    """The model's figure over a baseline's (above 1: the model's is the larger)."""

    def measure(m: dict) -> tuple[float, str]:
        v, b = m["overall"][MODEL][metric], m["overall"][baseline][metric]
        return v / b, f"{v:.3f} against {b:.3f}"

    return measure


def _memorisation(m: dict) -> tuple[float, str]:
    v, r = m["overall"][MODEL]["memorisation"], m["overall"]["real"]["memorisation"]
    dup = m["overall"][MODEL]["duplicate_rate"]
    return (v / r if dup == 0 else float("inf")), f"{v:.3f} against {r:.3f}; duplicates {dup:.3f}"


# (target as read, how it is measured, the bound it must meet: value <= or >= bound)
TARGETS: list[tuple[str, Callable[[dict], tuple[float, str]], str, float]] = [
    ("precision >= 0.9x real", _ratio("precision"), ">=", 0.9),
    ("density >= 0.9x real", _ratio("density"), ">=", 0.9),
    ("recall >= 0.9x real", _ratio("recall"), ">=", 0.9),
    ("coverage >= 0.9x real", _ratio("coverage"), ">=", 0.9),
    ("every group's coverage >= 0.8x its real", _worst_group_coverage, ">=", 0.8),
    ("FD <= 2x real", _ratio("frechet"), "<=", 2.0),
    ("NDB/K <= 2x real", _ratio("ndb"), "<=", 2.0),
    ("audio FD <= 3x real", _ratio("audio_frechet"), "<=", 3.0),
    ("audio FD below the interpolation baseline's", _against("audio_frechet", "interpolation"), "<", 1.0),
    ("recall above the interpolation baseline's", _against("recall", "interpolation"), ">", 1.0),
    ("category fidelity >= 0.9x real", _ratio("category_fidelity"), ">=", 0.9),
    ("harsh rate at most 1 point above real's, every group", _points_over("harsh_rate"), "<=", 1.0),
    ("silent rate at most 1 point above real's, every group", _points_over("silent_rate"), "<=", 1.0),
    ("memorisation <= 2x real, no duplicates", _memorisation, "<=", 2.0),
]

COLUMNS = [
    ("precision", 3),
    ("recall", 3),
    ("density", 3),
    ("coverage", 3),
    ("frechet", 3),
    ("ndb", 2),
    ("audio_frechet", 2),
    ("category_fidelity", 3),
    ("memorisation", 3),
    ("harsh_rate", 3),
]
HEAD = ["precision", "recall", "density", "coverage", "FD", "NDB/K", "audio FD", "cat. fidelity", "memorised", "harsh"]


def _met(measure, op: str, bound: float, metrics: dict) -> tuple[str, str]:
    value, text = measure(metrics)
    met = {">=": value >= bound, "<=": value <= bound, ">": value > bound, "<": value < bound}[op]
    return text, "yes" if met else "**no**"


def targets_table(runs: dict) -> str:
    lines = ["| target | measured | met |", "| --- | --- | --- |"]
    for name, measure, op, bound in TARGETS:
        lines.append(f"| {name} | " + " | ".join(_met(measure, op, bound, runs["cgan"])) + " |")
    return "\n".join(lines) + "\n"


def families_table(runs: dict) -> str:
    """Every target, the CGAN's figure (the default run) beside the flow's (model=flow)."""
    if runs.get("flow") is None:
        return f"(no {FLOW}: run `dvc exp run -S model=flow` and copy its metrics/evaluate.json there)\n"
    lines = ["| target | CGAN (default) | met | flow (`model=flow`) | met |", "| --- | --- | --- | --- | --- |"]
    for name, measure, op, bound in TARGETS:
        cells = [*_met(measure, op, bound, runs["cgan"]), *_met(measure, op, bound, runs["flow"])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _row(label: str, row: dict) -> str:
    cells = [f"{row[k]:.{d}f}" if isinstance(row.get(k), (int, float)) else "" for k, d in COLUMNS]
    return f"| {label} | " + " | ".join(cells) + " |"


def references_table(runs: dict) -> str:
    metrics = runs["cgan"]
    lines = ["| held-out, overall | " + " | ".join(HEAD) + " |", "| --- " * (len(HEAD) + 1) + "|"]
    lines += [_row(name, row) for name, row in metrics["overall"].items()]
    return "\n".join(lines) + "\n"


def groups_table(runs: dict) -> str:
    metrics = runs["cgan"]
    lines = ["| group: model / real | " + " | ".join(HEAD) + " |", "| --- " * (len(HEAD) + 1) + "|"]
    for g, rows in metrics["groups"].items():
        lines += [_row(f"{g}: {MODEL}", rows[MODEL]), _row(f"{g}: real", rows["real"])]
    return "\n".join(lines) + "\n"


TABLES = {
    "targets": targets_table,
    "families": families_table,
    "references": references_table,
    "groups": groups_table,
}


def render(text: str, metrics: dict, flow: dict | None = None) -> str:
    """``text`` with every generated block written anew from ``metrics`` (the default run's)
    and ``flow`` (the flow run's, if any)."""
    runs = {"cgan": metrics, "flow": flow}

    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in TABLES:
            raise ValueError(f"unknown results table {name!r} (known: {', '.join(TABLES)})")
        return match.group(1) + TABLES[name](runs) + match.group(4)

    return BLOCK.sub(fill, text)


def main(argv: list[str], root: Path = ROOT) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m deepdx.results", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 when a table differs from what the metrics give")
    check = p.parse_args(argv).check
    metrics = json.loads((root / "metrics" / "evaluate.json").read_text())
    flow = json.loads((root / FLOW).read_text()) if (root / FLOW).is_file() else None
    stale = []
    for page in PAGES:
        path = root / page
        text = path.read_text()
        fresh = render(text, metrics, flow)
        if fresh != text:
            stale.append(page)
            if not check:
                path.write_text(fresh)
    if check:
        for page in stale:
            print(
                f"{page}: a results table differs from metrics/evaluate.json: run `python -m deepdx.results`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    print(f"rewrote {', '.join(stale)}" if stale else "every results table matches metrics/evaluate.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
