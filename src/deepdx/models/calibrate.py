"""Sampling calibration: how the kept generator is sampled, chosen on validation voices.

Two knobs trade typical voices against varied ones at generation: the temperature of the
choices (softmax(logits / temperature)) and the truncation (the noise scaled by it); a flow
has a third, its guidance weight (deepdx.models.flow).  A GAN's
generator tends to make its voices more alike than real ones (validation density above the
ceiling, recall below it), so 1 and 1 are not where it is best balanced.  After training,
``calibrate`` measures the kept generator on a grid of the two with the validation probe
(``draws`` noise draws each, averaged) and keeps the pair with the best ``balanced`` score:
the weakest of precision, recall, density and coverage as a share of the ceiling.  Ties go
to the earlier pair of the grid.  Held-out voices are never read: the probe holds the
validation split only.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import torch

from ..config import CalibrateConfig
from .diagnostics import PRDC, CollapseProbe


def grid(c: CalibrateConfig, flow: bool) -> list[dict[str, float]]:
    """The knob pairs (a flow's, triples) ``train.calibrate`` lists, in order."""
    pairs = product(c.temperatures, c.truncations, *([c.guidances] if flow else []))
    names = ("temperature", "truncation", "guidance")
    return [dict(zip(names, map(float, pair))) for pair in pairs]


def calibrate(generator, probe: CollapseProbe, knobs: list[dict[str, float]], draws: int, seed: int):
    """(the best row, every row): one row per entry of ``knobs`` (keyword arguments of the
    generator's ``sample``), with its mean validation metrics over ``draws`` noise draws,
    seeded ``seed``, ``seed + 1``, ..."""
    category, algorithm = torch.from_numpy(probe.category), torch.from_numpy(probe.algorithm)
    rows = []
    for pair in knobs:
        seeds = [torch.Generator().manual_seed(seed + i) for i in range(draws)]
        scores = [probe(generator.sample(category, algorithm, rng, **pair), probe.category) for rng in seeds]
        means = {k: float(np.mean([s[k] for s in scores])) for k in (*PRDC, "balanced", "memorisation")}
        rows.append({**pair, **means})
    return max(rows, key=lambda row: row["balanced"]), rows  # max: the first of equals
