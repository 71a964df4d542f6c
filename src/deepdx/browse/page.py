"""The browser's HTML: one static page, CSS inline, no script, every text escaped.

:mod:`deepdx.browse.build` gathers what a page shows into the dataclasses below; the
functions here only turn them into markup.  Audio is referenced by relative path (the WAV
files sit in ``audio/`` beside the page) with ``preload="none"``, so opening the page reads
no audio until a player is pressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np

from .svg import CARRIER, MODULATOR, algorithm_symbol, bars_svg, envelopes_svg

PLOTTED = (("precision", "precision"), ("recall", "recall"), ("coverage", "coverage"), ("harsh_rate", "harsh rate"))


@dataclass
class Sound:
    """A player, or why there is none."""

    src: str | None = None  # relative to the page
    problem: str = ""


@dataclass
class Nearest:
    name: str
    category: str
    distance: float
    sound: Sound


@dataclass
class Voice:
    slot: int
    name: str
    algorithm: int  # panel number 1-32
    params: np.ndarray  # 155 values
    sound: Sound
    category: str = ""
    group: str = ""
    note: str = ""  # from the manifest: found silent or shrill, repaired...
    nearest: Nearest | None = None


@dataclass
class Bank:
    label: str
    path: str
    voices: list[Voice] = field(default_factory=list)
    error: str = ""  # the bank could not be read at all
    problems: list[str] = field(default_factory=list)  # readable, but not a clean 32-voice bank


@dataclass
class GroupRun:
    group: str
    algorithms: list[int]
    run_url: str  # "" when the model has no MLflow run


CSS = """
body{font:14px/1.35 system-ui,sans-serif;margin:0 auto;padding:0 16px 40px;max-width:1500px;color:#222}
h1{font-size:22px;margin:14px 0 4px}h2{font-size:18px;margin:24px 0 6px;border-bottom:1px solid #ccc}
.lead,.legend{color:#555;margin:4px 0}
.legend span{display:inline-block;width:10px;height:10px;border:1px solid #333;margin:0 3px 0 8px}
nav a{margin-right:10px;white-space:nowrap}
.error{background:#fde2e1;border:1px solid #d9534f;padding:6px 10px;border-radius:4px}
.warn{background:#fff6d6;border:1px solid #e0b400;padding:4px 8px;border-radius:4px;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:8px}
.card{border:1px solid #ccc;border-radius:6px;padding:6px 8px;background:#fcfcfc}
.card header{display:flex;gap:6px;align-items:baseline;flex-wrap:wrap}
.card .slot{color:#888;font-size:12px}.card .name{font:600 15px ui-monospace,monospace;white-space:pre}
.tag{font-size:11px;background:#eee;border-radius:3px;padding:0 4px}
.pics{display:flex;gap:6px;align-items:center;margin:4px 0}
svg.alg{width:104px;height:84px;flex:none}svg.envs{width:172px;height:72px;flex:none}
audio{width:100%;height:28px}
.missing{color:#a33;font-size:12px;margin:4px 0}
.near{border-top:1px dashed #ccc;margin-top:4px;padding-top:3px;font-size:12px}
.near .name{font-size:12px}
table.eval{border-collapse:collapse}
table.eval td,table.eval th{border-bottom:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}
svg.bars{width:200px;height:70px}
"""


def _sound(sound: Sound) -> str:
    if sound.src:
        return f'<audio controls preload="none" src="{escape(sound.src)}"></audio>'
    return f'<p class="missing">{escape(sound.problem or "no preview")}</p>'


def voice_card(v: Voice) -> str:
    tags = "".join(
        f'<span class="tag">{escape(t)}</span>'
        for t in (v.category, f"group {v.group}" if v.group != "" else "", f"alg {v.algorithm}")
        if t
    )
    near = ""
    if v.nearest:
        n = v.nearest
        near = (
            f'<div class="near">nearest training voice: <span class="name">{escape(n.name)}</span> '
            f"{escape(n.category)} at <b>{n.distance:.2f}</b>{_sound(n.sound)}</div>"
        )
    note = f'<p class="warn">{escape(v.note)}</p>' if v.note else ""
    return (
        f'<article class="card voice"><header><span class="slot">{v.slot:02d}</span>'
        f'<span class="name">{escape(v.name)}</span>{tags}</header>'
        f'<div class="pics"><svg class="alg" role="img" aria-label="algorithm {v.algorithm}">'
        f'<use href="#alg-{v.algorithm}"/></svg>{envelopes_svg(v.params, v.algorithm)}</div>'
        f"{_sound(v.sound)}{note}{near}</article>"
    )


def bank_section(i: int, bank: Bank) -> str:
    head = f'<section class="bank" id="bank-{i}"><h2>{escape(bank.label)}</h2><p class="lead">{escape(bank.path)}'
    if bank.error:
        return f'{head}</p><p class="error bank-error">cannot show this bank: {escape(bank.error)}</p></section>'
    head += f" &middot; {len(bank.voices)} voices</p>"
    if bank.problems:
        more = len(bank.problems) - 5
        shown = "; ".join(bank.problems[:5]) + (f"; and {more} more" if more > 0 else "")
        head += f'<p class="warn">not a clean 32-voice bank: {escape(shown)}</p>'
    return f'{head}<div class="cards">{"".join(voice_card(v) for v in bank.voices)}</div></section>'


def spans(numbers: list[int]) -> str:
    """1, 2, 3, 5, 7, 8 -> "1-3, 5, 7, 8" (runs of three or more joined)."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def _group_row(group: str, refs: dict, run: GroupRun | None) -> str:
    name = "overall" if group == "overall" else f"group {group}"
    if run and run.algorithms:
        name += f"<br><small>algorithms {escape(spans(run.algorithms))}</small>"
    cells = []
    for key, _ in PLOTTED:
        values = [(ref, _number(figures.get(key))) for ref, figures in refs.items()]  # as evaluate orders them
        top = 1.0 if key != "harsh_rate" else max([v for _, v in values if v is not None] + [0.01])
        cells.append(f"<td>{bars_svg(values, 'cgan', top)}</td>")
    return f"<tr><th>{name}</th>{''.join(cells)}<td>{_run_link(run) if group != 'overall' else ''}</td></tr>"


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _run_link(run: GroupRun | None) -> str:
    if run and run.run_url:
        return f'<a class="mlflow" href="{escape(run.run_url)}">training run</a>'
    return "no run recorded"


def evaluation_section(metrics: dict | None, runs: list[GroupRun], mlflow_ui: str, missing: str) -> str:
    """Per group and overall: bars for each plotted figure across the references; MLflow links."""
    out = ['<section id="evaluation"><h2>Evaluation</h2>']
    if metrics is None:
        out.append(f'<p class="lead">{escape(missing)}</p>')
        out += [f"<p>group {escape(r.group)}: {_run_link(r)}</p>" for r in runs]
    else:
        out.append(
            '<p class="lead">Each generator against real training voices (<b>real</b>, the ceiling) and the '
            "baselines, measured on held-out voices (the evaluate stage; <code>data/evaluate/report.md</code>)."
            '</p><table class="eval"><tr><th>group</th>'
            + "".join(f"<th>{label}</th>" for _, label in PLOTTED)
            + "<th>model</th></tr>"
        )
        by_group = {r.group: r for r in runs}
        groups = sorted(metrics.get("groups", {}).items(), key=lambda kv: int(kv[0]))
        out += [_group_row(g, refs, by_group.get(g)) for g, refs in [("overall", metrics.get("overall", {}))] + groups]
        out.append("</table>")
    if runs:
        out.append(
            f'<p class="lead">Training-run links open in MLflow\'s web UI at {escape(mlflow_ui)}: start it at '
            "the repository root first, <code>mlflow ui --backend-store-uri sqlite:///mlflow.db</code>.</p>"
        )
    return "".join(out) + "</section>"


EVAL_LINK = ' <a href="#evaluation">evaluation</a>'


def page(title: str, banks: list[Bank], evaluation: str, intro: str) -> str:
    algorithms = sorted({v.algorithm for b in banks for v in b.voices})
    symbols = "".join(algorithm_symbol(a) for a in algorithms)
    nav = " ".join(
        f'<a href="#bank-{i}">{escape(b.label)}{" (unreadable)" if b.error else ""}</a>' for i, b in enumerate(banks)
    )
    legend = (
        f'<p class="legend">Algorithm: operators<span style="background:{CARRIER}"></span>carrier'
        f'<span style="background:{MODULATOR}"></span>modulator, arrows modulate, dashed red: feedback. '
        "Envelopes OP1-OP6 (operator:output level), log time, from L4 through L1-L3, a hold, back to L4. "
        "Distances: normalised parameter space (each of the 145 sound parameters over its range; 0 is the "
        "same sound).</p>"
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>'
        f'<svg width="0" height="0" style="position:absolute" aria-hidden="true">{symbols}</svg>'
        f'<h1>{escape(title)}</h1><p class="lead">{escape(intro)}</p>{legend}'
        f"<nav>{nav}{EVAL_LINK if evaluation else ''}</nav>"
        f"{''.join(bank_section(i, b) for i, b in enumerate(banks))}{evaluation}</body></html>"
    )
