"""Split by algorithm group: per group a seeded train / held-out split, stratified by category,
and the routing statistics that later send a requested category to a group and algorithm.

Routing (from training voices only):
``p_group[c][g]`` = P(group g | category c) and
``p_algorithm[g][c][a]`` = P(algorithm a | group g, category c).
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from ..dx7.params import INDEX
from .groups import group_of


def algorithms_of(params: np.ndarray) -> np.ndarray:
    """Panel algorithm numbers (1-32) of N voices."""
    return np.asarray(params)[:, INDEX["algorithm"]].astype(np.int64) + 1


def seeded_split(items: np.ndarray, labels: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) items, stratified by label where every class can appear on both sides."""
    classes = np.unique(labels)
    n_test = int(np.ceil(test_size * len(items)))
    can_stratify = (np.bincount(np.searchsorted(classes, labels)).min() >= 2
                    and n_test >= len(classes) and len(items) - n_test >= len(classes))
    return tuple(train_test_split(items, test_size=test_size, random_state=seed,
                                  stratify=labels if can_stratify else None))


def split_groups(params: np.ndarray, category: np.ndarray, groups: list[list[int]], holdout: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(group index per voice, True where the voice is held out)."""
    group = group_of(groups)[algorithms_of(params) - 1]
    held_out = np.zeros(len(params), dtype=bool)
    for g in range(len(groups)):
        members = np.flatnonzero(group == g)
        if len(members) < 2:
            continue
        _, test = seeded_split(members, category[members], holdout, seed + g)
        held_out[test] = True
    return group, held_out


def routing(category: np.ndarray, group: np.ndarray, algorithm: np.ndarray, categories: list[str],
            groups: list[list[int]]) -> dict:
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


def report(category: np.ndarray, group: np.ndarray, held_out: np.ndarray, categories: list[str],
           groups: list[list[int]]) -> dict:
    per_group = {}
    for g, algs in enumerate(groups):
        sel = group == g
        per_group[str(g)] = {
            "algorithms": algs,
            "voices": int(sel.sum()),
            "train": int((sel & ~held_out).sum()),
            "held_out": int((sel & held_out).sum()),
            "by_category": {c: int((sel & (category == i)).sum()) for i, c in enumerate(categories)},
        }
    return {"voices": int(len(group)), "train": int((~held_out).sum()), "held_out": int(held_out.sum()),
            "smallest_group": int(min(v["voices"] for v in per_group.values())), "groups": per_group}
