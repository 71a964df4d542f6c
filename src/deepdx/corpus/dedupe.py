"""Dedupe: one representative per sound, with a record of every voice merged into it.

* **exact** duplicates share all 145 sound parameters (the name is ignored: the same
  sound circulates under many names).
* **near** duplicates differ in at most ``max_params`` parameters, each by at most
  ``max_delta`` steps (a nudged fine-tune, a level one step lower).  Near pairs are
  linked transitively (single linkage); the representative of a group is its earliest
  voice in table order, so the result is deterministic.

Finding near pairs without comparing all N^2 pairs: the 145 parameters are cut into
``blocks`` slices.  Two voices that differ in at most t parameters agree exactly on at
least ``blocks - t`` slices, so they share one of the C(blocks, t) keys made of all but
t slices.  Hashing each key and grouping equal hashes yields the candidate pairs, which
are then checked exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..config import DedupeConfig
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..dx7.params import N_SOUND_PARAMS


@dataclass
class DedupeResult:
    representative: np.ndarray  # N int: row of the voice each row was merged into (itself if kept)
    kind: np.ndarray  # N str: "unique" for kept rows, else "exact" or "near"

    @property
    def kept(self) -> np.ndarray:
        return np.flatnonzero(self.representative == np.arange(len(self.representative)))


def exact_groups(sound: np.ndarray) -> np.ndarray:
    """For each row, the first row with identical parameters."""
    rows = np.ascontiguousarray(sound).view(np.dtype((np.void, sound.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return first[inverse.ravel()]


def _block_hashes(sound: np.ndarray, blocks: int) -> np.ndarray:
    """N x blocks uint64 hashes of contiguous parameter slices (collisions only add candidates)."""
    rng = np.random.default_rng(0)
    weights = rng.integers(1, 2**63, size=sound.shape[1], dtype=np.uint64) | np.uint64(1)
    edges = np.linspace(0, sound.shape[1], blocks + 1).astype(int)
    with np.errstate(over="ignore"):
        terms = (sound.astype(np.uint64) + np.uint64(1)) * weights
        return np.stack([terms[:, a:b].sum(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)


def _pairs_with_equal_keys(keys: np.ndarray, max_group: int) -> np.ndarray:
    """All (i, j), i < j, with keys[i] == keys[j]; groups larger than max_group are skipped."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    lengths = np.diff(np.r_[starts, len(keys)])
    run_end = np.repeat(starts + lengths, lengths)
    usable = np.repeat(lengths <= max_group, lengths)
    pairs, pos = [], np.arange(len(keys))
    for step in range(1, int(lengths[lengths <= max_group].max(initial=1))):
        ok = usable & (pos + step < run_end)
        if not ok.any():
            break
        pairs.append(np.stack([order[pos[ok]], order[pos[ok] + step]], axis=1))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)


def near_pairs(
    sound: np.ndarray, max_params: int, max_delta: int, blocks: int = 8, max_group: int = 2000
) -> np.ndarray:
    """Pairs (i, j), i < j, that differ in 1..max_params parameters, each by <= max_delta."""
    if len(sound) < 2 or max_params < 1:
        return np.zeros((0, 2), np.int64)
    blocks = max(blocks, max_params + 1)
    hashes = _block_hashes(sound, blocks)
    mix = np.random.default_rng(1).integers(1, 2**63, size=blocks, dtype=np.uint64) | np.uint64(1)
    candidates = []
    for dropped in combinations(range(blocks), max_params):
        kept = [b for b in range(blocks) if b not in dropped]
        with np.errstate(over="ignore"):
            keys = (hashes[:, kept] * mix[kept]).sum(axis=1)
        candidates.append(_pairs_with_equal_keys(keys, max_group))
    pairs = np.unique(np.sort(np.concatenate(candidates), axis=1), axis=0)
    out = []
    for chunk in np.array_split(pairs, max(1, len(pairs) // 200_000)):
        diff = np.abs(sound[chunk[:, 0]].astype(np.int16) - sound[chunk[:, 1]].astype(np.int16))
        n_diff = (diff > 0).sum(axis=1)
        out.append(chunk[(n_diff >= 1) & (n_diff <= max_params) & (diff.max(axis=1) <= max_delta)])
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


def dedupe(params: np.ndarray, near: bool = True, max_params: int = 2, max_delta: int = 3) -> DedupeResult:
    sound = np.asarray(params)[:, :N_SOUND_PARAMS]
    n = len(sound)
    first = exact_groups(sound) if n else np.zeros(0, np.int64)
    representative = first.copy()
    kind = np.where(first == np.arange(n), "unique", "exact").astype("<U6")
    if near and n:
        uniq = np.flatnonzero(first == np.arange(n))
        pairs = uniq[near_pairs(sound[uniq], max_params, max_delta)] if len(uniq) > 1 else np.zeros((0, 2), int)
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        _, label = connected_components(graph, directed=False)
        # earliest row of each connected component among the exact representatives
        lead = np.full(label.max() + 1, n, dtype=np.int64)
        np.minimum.at(lead, label[uniq], uniq)
        near_rep = lead[label[uniq]]
        merged = near_rep != uniq
        kind[uniq[merged]] = "near"
        representative[uniq] = near_rep
        representative = representative[representative]  # exact copies follow their leader
    return DedupeResult(representative=representative, kind=kind)


def dedupe_table(table: dict, cfg: DedupeConfig = DedupeConfig()):
    """(unique voices with merge counts, one row per merged voice, report) for a voice table."""
    from .table import take

    result = dedupe(table["params"], cfg.near, cfg.max_params, cfg.max_delta)
    rep, kept = result.representative, result.kept
    unique = take(table, kept)
    for k in ("exact", "near"):
        unique[f"merged_{k}"] = np.bincount(rep[result.kind == k], minlength=len(rep))[kept]
    merged = [
        dict(
            voice_id=int(table["voice_id"][i]),
            name=table["name"][i],
            source=table["source"][i],
            index=int(table["index"][i]),
            kind=result.kind[i],
            representative_id=int(table["voice_id"][rep[i]]),
            representative_name=table["name"][rep[i]],
            representative_source=table["source"][rep[i]],
        )
        for i in np.flatnonzero(result.kind != "unique")
    ]
    sizes = np.bincount(rep)[kept]
    report = {
        "settings": {"near": cfg.near, "max_params": cfg.max_params, "max_delta": cfg.max_delta},
        "voices": {
            "in": len(rep),
            "unique": len(kept),
            "exact_duplicates": int((result.kind == "exact").sum()),
            "near_duplicates": int((result.kind == "near").sum()),
        },
        "groups": {
            "with_duplicates": int((sizes > 1).sum()),
            "largest": int(sizes.max(initial=0)),
        },
    }
    return unique, merged, report


MERGED_FIELDS = [
    "voice_id",
    "name",
    "source",
    "index",
    "kind",
    "representative_id",
    "representative_name",
    "representative_source",
]


def summary(report: dict) -> str:
    v, g = report["voices"], report["groups"]
    return (
        f"dedupe: {v['in']} voices -> {v['unique']} unique "
        f"({v['exact_duplicates']} exact and {v['near_duplicates']} near duplicates merged "
        f"into {g['with_duplicates']} groups; largest group {g['largest']})"
    )
