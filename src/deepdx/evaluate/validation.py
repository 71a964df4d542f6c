"""The critic stage's report: on validation voices, what sampling through the critic changes
(held-out voices stay unopened: the evaluate stage's alone)."""
from __future__ import annotations

import numpy as np
import torch

from ..audio.features import render_features
from ..audio.render import Renderer
from ..config import RepairConfig
from ..corpus.encoding import with_blank_names
from ..generate.sample import Models, critic_stream, sample_critiqued
from ..models.diagnostics import PRDC, CollapseProbe
from .audio_metrics import AudioReference


def validation_report(models: Models, g: int, validation: dict, train: dict, renderer: Renderer, seed: int,
                      thresholds: RepairConfig, temperature: float | None = None, truncation: float | None = None) -> dict:
    """Group ``g``'s generator asked for one voice per validation voice (its category; the
    algorithm by the routing statistics, as generation asks), alone and through the critic:
    PRDC and ``balanced`` (the probe's, against the validation voices, with training voices as
    the ceiling), memorisation, audio FD, harsh and silent rates (the evaluation's measures,
    against the validation voices) of each, and the share of voices whose kept draw is not the first."""
    category = validation["category"].astype(np.int64)
    drawn = sample_critiqued(models, g, category, np.random.default_rng(seed), torch.Generator().manual_seed(seed),
                             renderer, critic_stream(seed), temperature=temperature, truncation=truncation)
    probe = CollapseProbe(validation["params"], category, train["params"], train["category"], seed=seed)
    audio = AudioReference(validation["params"], renderer, thresholds)
    out = {}
    for name, voices, features in (("generator", drawn.first, drawn.first_features), ("critic", drawn.voices, drawn.features)):
        scores = probe(voices, category)
        out[name] = {**{k: scores[k] for k in (*PRDC, "balanced", "memorisation")},
                     **audio.evaluate_features(features if features is not None
                                               else render_features(renderer, with_blank_names(voices)))}
    out["other_draw"] = 0.0 if drawn.kept is None else float((drawn.kept > 0).mean())
    return out


def mean_report(reports: list[dict]) -> dict:
    """The mean of several ``validation_report`` results, figure by figure."""
    first = reports[0]
    return {k: mean_report([r[k] for r in reports]) if isinstance(v, dict) else float(np.mean([r[k] for r in reports]))
            for k, v in first.items()}
