"""Sampling calibration: how the kept generator is sampled, chosen on validation voices.

Two knobs trade typical voices against varied ones at generation: the temperature of the
choices (softmax(logits / temperature)) and the truncation (the noise scaled by it).  A GAN's
generator tends to make its voices more alike than real ones (validation density above the
ceiling, recall below it), so 1 and 1 are not where it is best balanced.  After training,
``calibrate`` measures the kept generator on a grid of both with the validation probe
(``draws`` noise draws each, averaged) and keeps the pair with the best ``balanced`` score:
the weakest of precision, recall, density and coverage as a share of the ceiling.  Ties go
to the earlier pair of the grid.  Held-out voices are never read: the probe holds the
validation split only.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import torch

from .diagnostics import PRDC, CollapseProbe
from .nets import VoiceGenerator


def calibrate(
    generator: VoiceGenerator,
    probe: CollapseProbe,
    temperatures: list[float],
    truncations: list[float],
    draws: int,
    seed: int,
) -> tuple[dict, list[dict]]:
    """(the best row, every row): one row per pair, its ``temperature``, ``truncation`` and
    mean validation metrics over ``draws`` noise draws, seeded ``seed``, ``seed + 1``, ..."""
    category, algorithm = torch.from_numpy(probe.category), torch.from_numpy(probe.algorithm)
    rows = []
    for temperature, truncation in product(temperatures, truncations):
        scores = [
            probe(
                generator.sample(category, algorithm, torch.Generator().manual_seed(seed + i), temperature, truncation),
                probe.category,
            )
            for i in range(draws)
        ]
        rows.append(
            {
                "temperature": float(temperature),
                "truncation": float(truncation),
                **{k: float(np.mean([s[k] for s in scores])) for k in (*PRDC, "balanced", "memorisation")},
            }
        )
    return max(rows, key=lambda row: row["balanced"]), rows  # max: the first of equals
