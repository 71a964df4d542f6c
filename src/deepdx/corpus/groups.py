"""Six groups of structurally similar algorithms, one generator each.

Derivation (``grouping: structural``):

1. Algorithms with the same modulation graph apart from where feedback sits form one
   *structure class* (1 and 2; 7, 8 and 9; ...); a class is never split.
2. Classes are ordered by what shapes a sound most: carrier count, then the longest
   modulation chain (deeper first), then algorithm number.
3. That order is cut into ``n_groups`` contiguous runs so that the largest group holds as
   few voices as possible (an exact dynamic programme over the data's algorithm counts),
   which keeps neighbours in structure together and no group starved of data.  The counts
   are of training voices only: validation and held-out voices never move a boundary (on the
   corpus, counts of all splits cut the same six groups).

``grouping: explicit`` takes ``groups`` from the config instead.
"""

from __future__ import annotations

import numpy as np

from ..config import SplitConfig
from ..dx7 import algorithms as A
from ..errors import DeepDXError


def structure_classes() -> list[list[int]]:
    """Algorithms grouped by identical modulation graph (feedback ignored), in derivation order."""
    classes: dict[frozenset, list[int]] = {}
    for alg in A.ALGORITHMS:
        classes.setdefault(A.edges(alg), []).append(alg)
    return sorted(classes.values(), key=lambda c: (len(A.carriers(c[0])), -A.depth(c[0]), c[0]))


def balanced_cut(sizes: list[int], n_groups: int) -> list[int]:
    """Cut points of ``sizes`` into n contiguous runs minimising the largest run's total."""
    n = len(sizes)
    if not 1 <= n_groups <= n:
        raise DeepDXError(f"cannot cut {n} structure classes into {n_groups} groups")
    prefix = np.r_[0, np.cumsum(sizes)]
    best = np.full((n_groups + 1, n + 1), np.inf)
    cut = np.zeros((n_groups + 1, n + 1), dtype=int)
    best[0, 0] = 0
    for g in range(1, n_groups + 1):
        for end in range(g, n + 1):
            for start in range(g - 1, end):
                cost = max(best[g - 1, start], prefix[end] - prefix[start])
                if cost < best[g, end]:
                    best[g, end], cut[g, end] = cost, start
    bounds, end = [], n
    for g in range(n_groups, 0, -1):
        bounds.append(end)
        end = cut[g, end]
    return sorted(bounds)


def structural_groups(algorithm_counts: np.ndarray, n_groups: int = 6) -> list[list[int]]:
    """Groups of panel algorithm numbers; ``algorithm_counts[a - 1]`` voices use algorithm a."""
    classes = structure_classes()
    sizes = [int(sum(algorithm_counts[a - 1] for a in c)) for c in classes]
    groups, start = [], 0
    for end in balanced_cut(sizes, n_groups):
        groups.append(sorted(a for c in classes[start:end] for a in c))
        start = end
    return groups


def check_groups(groups: list[list[int]]) -> None:
    """Every algorithm in exactly one group."""
    flat = sorted(a for g in groups for a in g)
    if flat != list(A.ALGORITHMS):
        missing = sorted(set(A.ALGORITHMS) - set(flat))
        repeated = sorted({a for a in flat if flat.count(a) > 1})
        raise DeepDXError(f"algorithm groups must cover 1-32 once each (missing {missing}, repeated {repeated})")


def group_of(groups: list[list[int]]) -> np.ndarray:
    """32 ints: the group index of each algorithm (index a - 1)."""
    check_groups(groups)
    lookup = np.zeros(A.N_ALGORITHMS, dtype=np.int64)
    for gi, g in enumerate(groups):
        lookup[np.array(g) - 1] = gi
    return lookup


def choose_groups(cfg: SplitConfig, algorithm: np.ndarray, split: np.ndarray) -> list[list[int]]:
    """The groups the split config asks for: derived (structural) from the algorithms of the
    voices whose ``split`` is train, or given (explicit)."""
    if cfg.grouping == "structural":
        return structural_groups(np.bincount(algorithm[split == "train"] - 1, minlength=A.N_ALGORITHMS), cfg.n_groups)
    groups = [list(g) for g in cfg.groups or []]
    check_groups(groups)
    return groups
