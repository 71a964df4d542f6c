"""The critic stage's report: on validation voices, what sampling through the critic changes
(held-out voices stay unopened: the evaluate stage's alone)."""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from ..audio.render import Renderer
from ..config import RepairConfig
from ..corpus.encoding import with_blank_names
from ..distances import nearest_other, normalise, prdc
from ..generate.sample import Draws, Models, critic_stream, sample_critiqued
from ..models.diagnostics import PRDC, CollapseProbe
from .audio_metrics import AudioReference
from .metrics import category_fidelity


def draw_validation(
    models: Models,
    g: int,
    validation: dict,
    renderer: Renderer,
    seed: int,
    temperature: float | None = None,
    truncation: float | None = None,
) -> Draws:
    """Group ``g``'s generator asked for one voice per validation voice (its category; the
    algorithm by the routing statistics, as generation asks), through the critic if there is one."""
    return sample_critiqued(
        models,
        g,
        validation["category"].astype(np.int64),
        np.random.default_rng(seed),
        torch.Generator().manual_seed(seed),
        renderer,
        critic_stream(seed),
        temperature=temperature,
        truncation=truncation,
    )


def validation_report(
    drawn: Draws, validation: dict, train: dict, audio: AudioReference, seed: int, classifier=None
) -> dict:
    """A group's ``draw_validation`` voices, alone and through the critic: PRDC and ``balanced``
    (the probe's, against the validation voices, with training voices as the ceiling),
    memorisation, audio FD, harsh and silent rates (the evaluation's measures, against
    ``audio``: the validation voices' reference) of each, and the share of voices whose kept
    draw is not the first; with the categorize stage's ``classifier``, the category fidelity of
    each (the share it labels as asked)."""
    category = validation["category"].astype(np.int64)
    probe = CollapseProbe(validation["params"], category, train["params"], train["category"], seed=seed)
    out = {}
    drawn_sets = (("generator", drawn.first, drawn.first_features), ("critic", drawn.voices, drawn.features))
    for name, voices, features in drawn_sets:
        scores = probe(voices, category)
        if features is None:
            features = audio.render_features(with_blank_names(voices))
        out[name] = {**{k: scores[k] for k in (*PRDC, "balanced", "memorisation")}, **audio.evaluate_features(features)}
        if classifier is not None:
            out[name]["category_fidelity"] = category_fidelity(classifier, voices, category)
    out["other_draw"] = 0.0 if drawn.kept is None else float((drawn.kept > 0).mean())
    return out


def pooled_report(draws: list[Draws], validations: list[dict], trains: list[dict], seed: int, k: int = 5) -> dict:
    """PRDC and ``balanced`` of every group's voices together against every group's validation
    voices together, as the evaluation's overall row pools the groups (a voice then meets the
    other groups' voices too, and the balls shrink: a finer test than group by group).  The
    ceiling: as many training voices of each group as it has validation voices."""
    rng = np.random.default_rng(seed)
    reference = normalise(np.concatenate([v["params"] for v in validations]))
    radius = nearest_other(reference, k)
    real = np.concatenate(
        [
            t["params"][rng.choice(len(t["params"]), len(v["params"]), replace=len(t["params"]) < len(v["params"]))]
            for t, v in zip(trains, validations)
        ]
    )
    ceiling = prdc(reference, normalise(real), k, radius)
    out = {}
    for name, voices in (("generator", [d.first for d in draws]), ("critic", [d.voices for d in draws])):
        scores = prdc(reference, normalise(np.concatenate(voices)), k, radius)
        out[name] = {**scores, "balanced": min(scores[m] / ceiling[m] for m in PRDC if ceiling[m] > 0)}
    return out


def mean_report(reports: list[dict]) -> dict:
    """The mean of several ``validation_report`` results, figure by figure."""
    first = reports[0]
    return {
        k: mean_report([r[k] for r in reports]) if isinstance(v, dict) else float(np.mean([r[k] for r in reports]))
        for k, v in first.items()
    }


def validation_reports(
    models: Models,
    validations: list[dict],
    trains: list[dict],
    renderer: Renderer,
    seed: int,
    draws: int,
    thresholds: RepairConfig,
    temperature: float | None = None,
    truncation: float | None = None,
    classifier=None,
) -> tuple[list[dict], dict]:
    """Each group's ``validation_report`` (with category fidelity, given the ``classifier``, and
    the validation voices' own, ``validation_category_fidelity``) and the groups' ``pooled_report``,
    each the mean of ``draws`` draws (group g's d-th draw seeded seed + g + 1000 d).  Each
    group's validation voices are rendered once, for every draw's audio figures."""
    audio = [AudioReference(v["params"], renderer, thresholds) for v in validations]
    groups, pooled = [[] for _ in validations], []
    for d in tqdm(range(draws), desc="critic: validation", unit="draw"):
        drawn = []
        for g, (validation, train) in enumerate(zip(validations, trains)):
            s = seed + g + 1000 * d
            drawn.append(draw_validation(models, g, validation, renderer, s, temperature, truncation))
            groups[g].append(validation_report(drawn[-1], validation, train, audio[g], s, classifier))
        pooled.append(pooled_report(drawn, validations, trains, seed + 1000 * d))
    reports = [mean_report(rows) for rows in groups]
    if classifier is not None:  # the same voices at every draw: measured once
        for report, validation in zip(reports, validations):
            report["validation_category_fidelity"] = category_fidelity(
                classifier, validation["params"], validation["category"].astype(np.int64)
            )
    return reports, mean_report(pooled)
