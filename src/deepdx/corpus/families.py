"""Families: near-variants of one patch, kept whole on one side of every split.

The same patch circulates with a tweak or under a new name: after dedupe, half the voices
still have another within 0.5 (normalised parameter distance, :mod:`deepdx.distances`).
Split voice by voice, such a patch lands on both sides, and a generator that copies its
training voices looks as good as real ones on "held-out" data.  So voices are linked when
they lie within ``distance`` of each other, a family is a connected component of that graph
(single linkage), and each family goes whole to train, validation or held-out.

Assignment: families in a seeded random order, each to the split whose share of the
family's algorithms is furthest below its target (relative to the target), so every
algorithm (and so every algorithm group) is split in the configured proportions.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..config import FamiliesConfig
from ..distances import normalise, pairwise
from ..dx7.params import INDEX
from ..errors import DeepDXError

SPLITS = ("train", "validation", "held_out")
SIZE_BINS = ((1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, 50), (51, None))


def linked_pairs(sound: np.ndarray, distance: float, chunk: int = 2048) -> np.ndarray:
    """All (i, j), i < j, whose normalised distance is at most ``distance``."""
    x = normalise(sound)
    out = [np.zeros((0, 2), np.int64)]
    for start in range(0, len(x), chunk):
        i, j = np.nonzero(pairwise(x[start : start + chunk], x[start:]) <= distance)
        keep = i < j  # the block is compared with itself and everything after it
        out.append(np.stack([i[keep] + start, j[keep] + start], axis=1))
    return np.concatenate(out)


def families(sound: np.ndarray, distance: float) -> np.ndarray:
    """Family index of each voice, numbered in order of each family's first voice."""
    n = len(sound)
    pairs = linked_pairs(sound, distance)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    _, first = np.unique(label, return_index=True)
    renumber = np.empty(len(first), np.int64)
    renumber[np.argsort(first)] = np.arange(len(first))  # families ordered by their first voice
    return renumber[label]


def assign(family: np.ndarray, strata: np.ndarray, fractions: tuple[float, ...], seed: int) -> np.ndarray:
    """The split (index into ``SPLITS``) of each voice: whole families, each stratum (an
    algorithm, say) divided in ``fractions``."""
    fractions = np.asarray(fractions, float)
    counts = np.zeros((family.max(initial=-1) + 1, strata.max(initial=-1) + 1))
    np.add.at(counts, (family, strata), 1)
    target = fractions[:, None] * counts.sum(0)[None, :]
    filled = np.zeros_like(target)
    side = np.zeros(len(counts), np.int64)
    for f in np.random.default_rng(seed).permutation(len(counts)):
        cells = np.flatnonzero(counts[f])
        k = counts[f, cells]
        unfilled = (target[:, cells] - filled[:, cells]) / np.maximum(target[:, cells], 1e-12)
        unfilled[fractions == 0] = -np.inf
        side[f] = int(np.argmax(unfilled @ k))
        filled[side[f], cells] += k
    return side[family]


def summary(family: np.ndarray, split: np.ndarray | None = None) -> dict:
    """How many families, how large, and (given each voice's split name) how they divide."""
    counts = np.bincount(family)
    sizes = counts[counts > 0]
    bins = {
        (f"{lo}" if lo == hi else f"{lo}+" if hi is None else f"{lo}-{hi}"): int(
            ((sizes >= lo) & (sizes <= (hi or sizes.max(initial=lo)))).sum()
        )
        for lo, hi in SIZE_BINS
    }
    out = {
        "families": int(len(sizes)),
        "voices": int(len(family)),
        "largest": int(sizes.max(initial=0)),
        "voices_with_a_variant": round(float((counts[family] > 1).mean()), 4) if len(family) else 0.0,
        "families_by_size": bins,
    }
    if split is not None:
        out["by_split"] = {
            s: {"voices": int((split == s).sum()), "families": int(len(np.unique(family[split == s])))} for s in SPLITS
        }
    return out


def partition(params: np.ndarray, cfg: FamiliesConfig, seed: int) -> dict[str, np.ndarray]:
    """The columns the families stage adds: ``family`` and ``split`` (train | validation | held_out)."""
    family = families(params, cfg.distance)
    algorithm = np.asarray(params)[:, INDEX["algorithm"]].astype(np.int64)
    fractions = (1 - cfg.validation - cfg.held_out, cfg.validation, cfg.held_out)
    if min(fractions) < 0:
        raise DeepDXError(
            f"families.validation + families.held_out must be at most 1; got {cfg.validation} + {cfg.held_out}"
        )
    split = np.array(SPLITS)[assign(family, algorithm, fractions, seed)]
    return {"family": family, "split": split}


def describe(report: dict) -> str:
    by = report["by_split"]
    return (
        f"families: {report['voices']} voices in {report['families']} families (largest {report['largest']}; "
        f"{report['voices_with_a_variant']:.1%} of voices have a variant) -> "
        + ", ".join(f"{s} {v['voices']} voices / {v['families']} families" for s, v in by.items())
    )
