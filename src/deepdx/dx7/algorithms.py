"""The 32 DX7 algorithms' structure, taken from dexed-py's table (the engine we render with).

dexed-py numbers algorithms 0-31 and operators 0-5 (OP1 == 0); this module speaks the
DX7 panel's language: algorithms 1-32, operators 1-6.  tests/test_dx7_algorithms.py checks
the table against the DX7 manual's diagrams.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

N_ALGORITHMS = 32
ALGORITHMS = tuple(range(1, N_ALGORITHMS + 1))


@lru_cache(maxsize=None)
def _dexed(algorithm: int):
    import dexed

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be 1-32, got {algorithm}")
    return dexed.algorithms[algorithm - 1]


def carriers(algorithm: int) -> tuple[int, ...]:
    """Panel numbers of the operators that reach the output."""
    return tuple(op + 1 for op in _dexed(algorithm).carriers)


def edges(algorithm: int) -> frozenset[tuple[int, int]]:
    """(modulator, modulated) operator pairs, feedback excluded."""
    m = _dexed(algorithm).mod_matrix
    return frozenset((j + 1, i + 1) for i, j in zip(*np.nonzero(m)))


def feedback(algorithm: int) -> tuple[int, int]:
    """(source, target) of the feedback loop; equal for self-feedback."""
    src, dst = _dexed(algorithm).feedback_edge
    return src + 1, dst + 1


def depth(algorithm: int) -> int:
    """Operators in the longest modulation chain ending at a carrier (1 = no modulation)."""
    e = edges(algorithm)

    def longest(op: int) -> int:
        return 1 + max((longest(src) for src, dst in e if dst == op), default=0)

    return max(longest(c) for c in carriers(algorithm))


def carrier_table() -> np.ndarray:
    """32 x 6 bool: ``[alg - 1, op - 1]`` is True where the operator is a carrier."""
    table = np.zeros((N_ALGORITHMS, 6), dtype=bool)
    for alg in ALGORITHMS:
        table[alg - 1, [c - 1 for c in carriers(alg)]] = True
    return table
