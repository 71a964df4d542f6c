"""Small inline SVG drawings: an algorithm's operator graph, a voice's six envelopes, bar plots.

Plain strings (no plotting library): the page embeds them, so it opens from disk with
nothing beside it but its WAV files.

**Algorithm graph.**  Carriers sit on the bottom row above the output line, each modulator
one row above the highest operator it modulates, centred over its targets; arrows run from
modulator to modulated operator and the feedback loop is a dashed curve (on the operator's
right side for self-feedback).  Carrier boxes carry ``class="op carrier"``.

**Envelopes.**  A DX7 envelope goes from L4 to L1 at rate R1, to L2 at R2, to L3 at R3, holds
L3 while the key is down, then returns to L4 at R4.  The times are approximated from the
engine's rate law (Dexed's env.cc: the step per sample doubles every 4 "qrates", qrate =
rate x 41 / 64, so a segment's time halves every ~6.2 rate steps and grows with the level
change); the x-axis is log time: a segment is ``log2(1 + t / t99)`` wide, ``t99`` being the
same segment's time at rate 99, so one slow segment does not flatten the others, and the
same scale serves every operator and voice (comparable at a glance).  Levels are the panel's
0-99, drawn linearly; the attack's faster curve, rate scaling and key tracking are left out.
"""

from __future__ import annotations

from html import escape

import numpy as np

from ..dx7.algorithms import carriers, edges, feedback
from ..dx7.params import op_index

CARRIER, MODULATOR, CGAN = "#f0a830", "#9cc3e6", "#d9534f"
_BOX, _DX, _DY, _PAD = 16, 26, 26, 6  # operator box size, column and row spacing, margin


def _rows(algorithm: int) -> dict[int, int]:
    """Operator -> row: 0 for carriers, else one above the highest operator it modulates."""
    targets = {op: [t for s, t in edges(algorithm) if s == op] for op in range(1, 7)}
    rows: dict[int, int] = {}

    def row(op: int) -> int:
        if op not in rows:
            rows[op] = 1 + max(row(t) for t in targets[op]) if targets[op] else 0
        return rows[op]

    for op in range(1, 7):
        row(op)
    return rows


def layout(algorithm: int) -> dict[int, tuple[float, int]]:
    """Operator -> (column, row): carriers left to right by number, each modulator centred over
    its targets, operators of a row pushed apart to one column at least."""
    rows = _rows(algorithm)
    col = {op: float(i) for i, op in enumerate(sorted(o for o in rows if rows[o] == 0))}
    for r in range(1, max(rows.values()) + 1):
        wanted = {
            op: float(np.mean([col[t] for s, t in edges(algorithm) if s == op])) for op in sorted(rows) if rows[op] == r
        }
        for x in set(wanted.values()):  # operators over the same targets: side by side around them
            same = [op for op in wanted if wanted[op] == x]
            for i, op in enumerate(same):
                wanted[op] = x + i - (len(same) - 1) / 2
        last = -np.inf
        for op in sorted(wanted, key=lambda o: (wanted[o], o)):
            col[op] = last = max(wanted[op], last + 1)
    left = min(col.values())
    return {op: (col[op] - left, rows[op]) for op in col}


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    """A line ending in a small filled head at (x2, y2)."""
    dx, dy = x2 - x1, y2 - y1
    n = max(np.hypot(dx, dy), 1e-9)
    ux, uy = dx / n, dy / n
    bx, by = x2 - 5 * ux, y2 - 5 * uy
    head = f"{x2:.1f},{y2:.1f} {bx - 3 * uy:.1f},{by + 3 * ux:.1f} {bx + 3 * uy:.1f},{by - 3 * ux:.1f}"
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{bx:.1f}" y2="{by:.1f}" stroke="#444"/>'
        f'<polygon points="{head}" fill="#444"/>'
    )


def graph(algorithm: int) -> tuple[str, int, int]:
    """The graph's SVG elements and their width and height (the viewBox of the drawing)."""
    pos = layout(algorithm)
    top = max(r for _, r in pos.values())
    width = int(max(c for c, _ in pos.values()) * _DX + _BOX + 2 * _PAD + 10)
    height = int(top * _DY + _BOX + 2 * _PAD + 10)
    xy = {op: (_PAD + c * _DX, _PAD + (top - r) * _DY) for op, (c, r) in pos.items()}
    parts = [f"<title>algorithm {algorithm}: carriers {', '.join(map(str, carriers(algorithm)))}</title>"]
    bus = height - _PAD - 2
    cx = [xy[c][0] + _BOX / 2 for c in carriers(algorithm)]
    parts.append(f'<path d="M{min(cx):.1f},{bus} H{max(cx):.1f}" stroke="#444" stroke-width="2"/>')
    parts += [f'<line x1="{x:.1f}" y1="{_PAD + top * _DY + _BOX}" x2="{x:.1f}" y2="{bus}" stroke="#444"/>' for x in cx]
    for src, dst in sorted(edges(algorithm)):
        (sx, sy), (dx, dy) = xy[src], xy[dst]
        parts.append(_arrow(sx + _BOX / 2, sy + _BOX, dx + _BOX / 2, dy))
    src, dst = feedback(algorithm)
    (sx, sy), (dx, dy) = xy[src], xy[dst]
    r = sx + _BOX
    if src == dst:
        d = f"M{r},{sy + _BOX - 3} C{r + 9},{sy + _BOX + 4} {r + 9},{sy - 4} {r},{sy + 3}"
    else:
        sm, dm, dr = sy + _BOX / 2, dy + _BOX / 2, dx + _BOX  # from the source's right side to the target's
        d = f"M{r},{sm} C{r + 14},{sm} {dr + 14},{dm} {dr},{dm}"
    parts.append(
        f'<path class="feedback" data-from="{src}" data-to="{dst}" d="{d}" fill="none" stroke="#c0392b" '
        'stroke-dasharray="3 2"/>'
    )
    for op, (x, y) in sorted(xy.items()):
        kind = "carrier" if op in carriers(algorithm) else "modulator"
        parts.append(
            f'<g class="op {kind}" data-op="{op}"><rect x="{x}" y="{y}" width="{_BOX}" height="{_BOX}" '
            f'rx="3" fill="{CARRIER if kind == "carrier" else MODULATOR}" stroke="#333"/>'
            f'<text x="{x + _BOX / 2}" y="{y + 12}" text-anchor="middle" font-size="11">{op}</text></g>'
        )
    return "".join(parts), width, height


def algorithm_symbol(algorithm: int) -> str:
    """The graph as a ``<symbol id="alg-N">`` the page defines once and each voice ``<use>``s."""
    body, w, h = graph(algorithm)
    return f'<symbol id="alg-{algorithm}" viewBox="0 0 {w} {h}">{body}</symbol>'


def algorithm_svg(algorithm: int) -> str:
    """The graph as a standalone ``<svg>`` document."""
    body, w, h = graph(algorithm)
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}">{body}</svg>'


# --------------------------------------------------------------------------- envelopes

_QRATE = 41 / 64 / 4  # doublings of the envelope's speed per rate step
HOLD = 4.0  # width of the key-down hold at L3, in the same log-time units
MAX_WIDTH = 4 * np.log2(1 + 1.02 * 2 ** (_QRATE * 99)) + HOLD  # the slowest possible envelope


def _segment(rate: int, change: int) -> float:
    """Log-time width of a segment: its time over the same change's time at rate 99."""
    return float(np.log2(1 + (abs(change) / 99 + 0.02) * 2 ** (_QRATE * (99 - min(rate, 99)))))


def envelope_points(rates, levels) -> list[tuple[float, float]]:
    """(log time, level) corners: start at L4, R1 to L1, R2 to L2, R3 to L3, hold, R4 to L4."""
    rates, levels = [int(r) for r in rates], [min(int(v), 99) for v in levels]
    points = [(0.0, float(levels[3]))]
    previous = levels[3]
    for rate, level in zip(rates[:3], levels[:3]):
        points.append((points[-1][0] + _segment(rate, level - previous), float(level)))
        previous = level
    points.append((points[-1][0] + HOLD, float(levels[2])))
    points.append((points[-1][0] + _segment(rates[3], levels[3] - levels[2]), float(levels[3])))
    return points


def envelopes_svg(voice: np.ndarray, algorithm: int) -> str:
    """Six small envelope plots (OP1-OP6, two rows of three), carriers tinted, each labelled with
    its operator and output level."""
    w, h, gap = 60, 34, 4
    parts = []
    for i, op in enumerate(range(1, 7)):
        x0, y0 = (i % 3) * (w + gap), (i // 3) * (h + gap)
        rates = [voice[op_index(op, f"eg_rate{k}")] for k in range(1, 5)]
        levels = [voice[op_index(op, f"eg_level{k}")] for k in range(1, 5)]
        pts = " ".join(
            f"{x0 + t / MAX_WIDTH * w:.1f},{y0 + h - 2 - v / 99 * (h - 4):.1f}"
            for t, v in envelope_points(rates, levels)
        )
        carrier = op in carriers(algorithm)
        parts.append(
            f'<g class="env{" carrier" if carrier else ""}" data-op="{op}">'
            f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="{"#fdf0d8" if carrier else "#eef4fa"}"/>'
            f'<polyline points="{pts}" fill="none" stroke="#222" stroke-width="1.2"/>'
            f'<text x="{x0 + w - 2}" y="{y0 + 9}" text-anchor="end" font-size="8" fill="#555">'
            f"{op}:{int(voice[op_index(op, 'output_level')])}</text></g>"
        )
    return (
        f'<svg class="envs" viewBox="0 0 {3 * w + 2 * gap} {2 * h + gap}" role="img" '
        f'aria-label="operator envelopes">{"".join(parts)}</svg>'
    )


# --------------------------------------------------------------------------- bar plots


def bars_svg(values: list[tuple[str, float | None]], highlight: str, top: float = 1.0) -> str:
    """Horizontal bars, one per (label, value), labelled; ``highlight`` drawn in red, the others
    grey; ``top`` is the full bar length.  A missing value is drawn as "n/a"."""
    row, label_w, bar_w = 11, 70, 90
    parts = []
    for i, (label, value) in enumerate(values):
        y = i * row
        colour = CGAN if label == highlight else ("#555" if label == "real" else "#aaa")
        parts.append(f'<text x="{label_w - 3}" y="{y + 8.5}" text-anchor="end" font-size="9">{escape(label)}</text>')
        if value is None or value != value:
            parts.append(f'<text x="{label_w}" y="{y + 8.5}" font-size="9" fill="#888">n/a</text>')
            continue
        length = max(min(value / top, 1.0), 0.0) * bar_w
        parts.append(
            f'<rect x="{label_w}" y="{y + 1}" width="{length:.1f}" height="{row - 3}" fill="{colour}"/>'
            f'<text x="{label_w + length + 3:.1f}" y="{y + 8.5}" font-size="9">{value:.3f}</text>'
        )
    return (
        f'<svg class="bars" viewBox="0 0 {label_w + bar_w + 36} {row * len(values)}" role="img">{"".join(parts)}</svg>'
    )
