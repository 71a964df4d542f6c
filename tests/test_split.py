import numpy as np
import pytest

from deepdx.corpus.groups import balanced_cut, check_groups, group_of, structural_groups, structure_classes
from deepdx.corpus.split import algorithms_of, report, routing, split_groups
from deepdx.dx7.params import INDEX
from tests.conftest import random_voices


def test_structure_classes_pool_algorithms_that_differ_only_in_feedback():
    classes = structure_classes()
    assert sorted(a for c in classes for a in c) == list(range(1, 33))
    assert [1, 2] in classes and [7, 8, 9] in classes and [18] in classes


def test_structural_groups_cover_all_algorithms_once_and_balance_counts():
    counts = np.random.default_rng(0).integers(50, 3000, 32)
    groups = structural_groups(counts)
    assert len(groups) == 6
    check_groups(groups)
    assert any({1, 2} <= set(g) for g in groups)
    sizes = [counts[np.array(g) - 1].sum() for g in groups]
    single = max(counts[np.array(c) - 1].sum() for c in structure_classes())
    assert max(sizes) <= max(single, counts.sum() / 6 + single)


def test_balanced_cut_is_optimal_on_a_small_case():
    assert balanced_cut([5, 1, 1, 1, 5], 3) == [1, 4, 5]


def test_explicit_groups_are_checked():
    with pytest.raises(ValueError, match="missing \\[32\\]"):
        check_groups([list(range(1, 32))])
    with pytest.raises(ValueError, match="repeated \\[1\\]"):
        check_groups([list(range(1, 33)), [1]])


def test_split_is_seeded_stratified_and_routing_sums_to_one():
    p = random_voices(3000, seed=1)
    category = np.random.default_rng(2).integers(0, 8, 3000)
    groups = structural_groups(np.bincount(algorithms_of(p) - 1, minlength=32))
    g1, h1 = split_groups(p, category, groups, 0.1, seed=5)
    g2, h2 = split_groups(p, category, groups, 0.1, seed=5)
    assert np.array_equal(h1, h2) and abs(h1.mean() - 0.1) < 0.01
    assert not np.array_equal(h1, split_groups(p, category, groups, 0.1, seed=6)[1])
    assert np.array_equal(g1, group_of(groups)[p[:, INDEX["algorithm"]]])
    for g in range(6):  # each category held out in proportion within each group
        sel = g1 == g
        for c in range(8):
            members = sel & (category == c)
            assert abs((members & h1).sum() - 0.1 * members.sum()) <= 1.5
    cats = [f"c{i}" for i in range(8)]
    r = routing(category[~h1], g1[~h1], algorithms_of(p)[~h1], cats, groups)
    for c in cats:
        assert sum(r["p_group"][c]) == pytest.approx(1, abs=1e-5)
        for g in range(6):
            assert sum(r["p_algorithm"][str(g)][c].values()) == pytest.approx(1, abs=1e-5)
    rep = report(category, g1, h1, cats, groups)
    assert rep["voices"] == 3000 == rep["train"] + rep["held_out"] == sum(v["voices"] for v in rep["groups"].values())
