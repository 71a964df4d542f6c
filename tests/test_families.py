"""Families: near-variants linked, each family whole on one side of every split."""

import numpy as np
import pytest

from deepdx.config import FamiliesConfig
from deepdx.corpus.families import SPLITS, assign, families, linked_pairs, partition, summary
from deepdx.distances import normalise, pairwise
from deepdx.dx7.params import INDEX, MAX
from deepdx.errors import DeepDXError
from tests.conftest import random_voices


def with_variants(n: int = 600, seed: int = 0) -> np.ndarray:
    """Random voices, a third of them followed by 1-4 tweaked copies (a few small nudges,
    sometimes a new algorithm), as real collections hold them."""
    rng = np.random.default_rng(seed)
    voices = []
    for v in random_voices(n, seed=seed):
        voices.append(v)
        for _ in range(rng.integers(1, 5) if rng.random() < 1 / 3 else 0):
            w = voices[-1].copy()
            cols = rng.choice(145, 3, replace=False)
            w[cols] = np.clip(w[cols].astype(int) + rng.integers(-2, 3, 3), 0, MAX[cols]).astype(np.uint8)
            if rng.random() < 0.3:
                w[INDEX["algorithm"]] = rng.integers(0, 32)
            voices.append(w)
    return np.array(voices)


def test_linked_pairs_are_exactly_the_pairs_within_the_distance():
    voices = with_variants(150)
    d = pairwise(normalise(voices), normalise(voices))
    i, j = np.nonzero(np.triu(d <= 0.5, k=1))
    assert sorted(map(tuple, linked_pairs(voices, 0.5, chunk=37).tolist())) == sorted(zip(i.tolist(), j.tolist()))


def test_families_are_the_linked_components_numbered_by_first_voice():
    voices = with_variants(150)
    family = families(voices, 0.5)
    for i, j in linked_pairs(voices, 0.5):
        assert family[i] == family[j]
    _, first = np.unique(family, return_index=True)
    assert (np.diff(first) > 0).all() and family[0] == 0  # numbered in order of their first voice
    assert len(np.unique(family)) < len(voices)  # the variants joined their originals


def test_no_family_straddles_a_split_and_every_algorithm_divides_as_asked():
    voices = with_variants(3000)
    cfg = FamiliesConfig(distance=0.5, validation=0.1, held_out=0.15)
    out = partition(voices, cfg, seed=3)
    family, split = out["family"], out["split"]
    for f in np.unique(family):
        assert len(set(split[family == f])) == 1
    pairs = linked_pairs(voices, cfg.distance)
    assert (split[pairs[:, 0]] == split[pairs[:, 1]]).all()  # no two voices within the distance apart
    algorithm = voices[:, INDEX["algorithm"]]
    for a in range(32):
        sel = algorithm == a
        for s, share in zip(SPLITS, (0.75, 0.1, 0.15)):
            assert abs((split[sel] == s).sum() - share * sel.sum()) <= 5, (a, s)


def test_the_assignment_is_seeded():
    voices = with_variants(1000)
    cfg = FamiliesConfig()
    a, b, c = (partition(voices, cfg, seed)["split"] for seed in (1, 1, 2))
    assert (a == b).all() and (a != c).any()


def test_an_empty_share_gets_no_voice_and_shares_must_fit():
    family, strata = np.arange(100) // 2, np.zeros(100, int)
    assert set(np.array(SPLITS)[assign(family, strata, (0.9, 0.0, 0.1), 0)]) == {"train", "held_out"}
    with pytest.raises(DeepDXError, match="at most 1"):
        partition(random_voices(10), FamiliesConfig(validation=0.6, held_out=0.5), 0)


def test_summary_counts_families_by_size():
    family = np.array([0, 0, 0, 1, 2, 2, 3] + [4] * 60)
    split = np.array(["train"] * 3 + ["validation"] + ["held_out"] * 2 + ["train"] * 61)
    r = summary(family, split)
    assert r["families"] == 5 and r["largest"] == 60 and r["voices"] == 67
    assert r["families_by_size"] == {"1": 2, "2": 1, "3-5": 1, "6-10": 0, "11-20": 0, "21-50": 0, "51+": 1}
    assert r["voices_with_a_variant"] == round(65 / 67, 4)
    assert r["by_split"]["train"] == {"voices": 64, "families": 3}
