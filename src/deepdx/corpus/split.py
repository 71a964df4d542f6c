"""Split by algorithm group: each group's voices of each split (train | validation |
held_out, decided whole families at a time by the families stage), and the routing
statistics that later send a requested category to a group and algorithm.

On disk (:mod:`.layout`): ``<split dir>/<split>/group<g>.parquet``, so that what a stage may
read is what DVC lets it depend on: training and selection read ``train/`` and
``validation/``, and only the evaluate stage reads ``held_out/``; and
``known_sounds.npy``, the training and validation voices' sounds for the novelty check.

Routing (from training voices only):
``p_group[c][g]`` = P(group g | category c) and
``p_algorithm[g][c][a]`` = P(algorithm a | group g, category c).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..distances import nearest, normalise
from ..dx7.params import INDEX, N_SOUND_PARAMS
from ..files import replacing
from .families import SPLITS, summary
from .layout import group_path, known_path
from .table import Table, take, write_table


def algorithms_of(params: np.ndarray) -> np.ndarray:
    """Panel algorithm numbers (1-32) of N voices."""
    return np.asarray(params)[:, INDEX["algorithm"]].astype(np.int64) + 1


def write_groups(table: Table, split_dir: str | Path, n_groups: int) -> None:
    """One file per split and group (every file written, empty or not), and the known sounds:
    the training and validation voices' 145 sound parameters (``layout.known_path``)."""
    for s in SPLITS:
        for g in range(n_groups):
            write_table(
                group_path(split_dir, s, g), take(table, np.flatnonzero((table["split"] == s) & (table["group"] == g)))
            )
    known = np.isin(table["split"], ("train", "validation"))
    with replacing(known_path(split_dir)) as partial, open(partial, "wb") as f:
        np.save(f, np.ascontiguousarray(table["params"][known, :N_SOUND_PARAMS], dtype=np.uint8))


def routing(
    category: np.ndarray, group: np.ndarray, algorithm: np.ndarray, categories: list[str], groups: list[list[int]]
) -> dict:
    """Routing statistics from training voices (pass only those)."""
    p_group, p_alg = {}, {str(g): {} for g in range(len(groups))}
    for c, name in enumerate(categories):
        in_c = category == c
        counts = np.bincount(group[in_c], minlength=len(groups))
        p_group[name] = (counts / max(counts.sum(), 1)).round(6).tolist()
        for g, algs in enumerate(groups):
            sel = in_c & (group == g)
            alg_counts = np.array([(algorithm[sel] == a).sum() for a in algs])
            p_alg[str(g)][name] = {str(a): round(n / max(alg_counts.sum(), 1), 6) for a, n in zip(algs, alg_counts)}
    return {"categories": categories, "groups": groups, "p_group": p_group, "p_algorithm": p_alg}


def held_out_distances(params: np.ndarray, split: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Each held-out voice's distance to its nearest training voice, for the split as made
    ("by family") and for a voice-by-voice random split of the same sizes (what the split
    was before families: variants of one patch on both sides)."""
    x = normalise(params)
    held, train = split == "held_out", split == "train"
    shuffled = np.random.default_rng(seed).permutation(split)
    return {
        "voice by voice": nearest(x[shuffled == "held_out"], x[shuffled == "train"]),
        "by family": nearest(x[held], x[train]),
    }


def report(table: Table, categories: list[str], groups: list[list[int]], distances: dict[str, np.ndarray]) -> dict:
    group, split, category, family = table["group"], table["split"], table["category"], table["family"]
    per_group = {}
    for g, algs in enumerate(groups):
        sel = group == g
        per_group[str(g)] = {
            "algorithms": algs,
            "voices": int(sel.sum()),
            **{s: int((sel & (split == s)).sum()) for s in SPLITS},
            "families": int(len(np.unique(family[sel]))),
            "by_category": {c: int((sel & (category == i)).sum()) for i, c in enumerate(categories)},
        }
    near = {
        name: {
            "within_0.1": round(float((d <= 0.1).mean()), 4),
            "within_0.5": round(float((d <= 0.5).mean()), 4),
            "median": round(float(np.median(d)), 4),
        }
        for name, d in distances.items()
    }
    return {
        "voices": int(len(group)),
        **{s: int((split == s).sum()) for s in SPLITS},
        "smallest_group": int(min(v["voices"] for v in per_group.values())),
        "families": summary(family, split),
        "held_out_to_nearest_training": near,
        "groups": per_group,
    }
