import numpy as np
import pytest

from deepdx.corpus.families import SPLITS
from deepdx.config import SplitConfig
from deepdx.corpus.groups import (
    balanced_cut,
    check_groups,
    choose_groups,
    group_of,
    structural_groups,
    structure_classes,
)
from deepdx.corpus.split import algorithms_of, group_path, held_out_distances, report, routing, write_groups
from deepdx.corpus.table import read_table
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


def test_held_out_and_validation_voices_cannot_move_a_group_boundary():
    """Groups come from training voices' algorithms: piling held-out and validation voices onto
    one algorithm moves the cut when they are counted, and leaves it when they are not."""
    rng = np.random.default_rng(4)
    train = rng.integers(1, 33, 6000)
    held = np.full(6000, 32)  # as many held-out voices, all on algorithm 32: counted, the cut moves
    algorithm, split = np.r_[train, held], np.r_[["train"] * 6000, ["held_out"] * 3000, ["validation"] * 3000]
    assert structural_groups(np.bincount(algorithm - 1, minlength=32)) != structural_groups(
        np.bincount(train - 1, minlength=32)
    )
    assert choose_groups(SplitConfig(), algorithm, split) == structural_groups(np.bincount(train - 1, minlength=32))
    assert choose_groups(SplitConfig(), train, np.full(6000, "train")) == choose_groups(SplitConfig(), algorithm, split)


def test_explicit_groups_are_checked():
    with pytest.raises(ValueError, match="missing \\[32\\]"):
        check_groups([list(range(1, 32))])
    with pytest.raises(ValueError, match="repeated \\[1\\]"):
        check_groups([list(range(1, 33)), [1]])


@pytest.fixture
def table():
    p = random_voices(3000, seed=1)
    groups = structural_groups(np.bincount(algorithms_of(p) - 1, minlength=32))
    return {
        "params": p,
        "category": np.random.default_rng(2).integers(0, 8, 3000),
        "group": group_of(groups)[p[:, INDEX["algorithm"]]],
        "family": np.arange(3000) // 3,
        "split": np.array(SPLITS)[np.random.default_rng(3).choice(3, 1000, p=[0.8, 0.1, 0.1])].repeat(3),
    }, groups


def test_each_split_of_each_group_is_a_file_of_its_own(table, tmp_path):
    t, groups = table
    write_groups(t, tmp_path, len(groups))
    total = 0
    for s in SPLITS:
        for g in range(len(groups)):
            part = read_table(group_path(tmp_path, s, g))
            assert (part["split"] == s).all() and (part["group"] == g).all()
            total += len(part["params"])
    assert total == 3000


def test_routing_sums_to_one_and_the_report_accounts_for_every_voice(table):
    t, groups = table
    cats = [f"c{i}" for i in range(8)]
    train = t["split"] == "train"
    r = routing(t["category"][train], t["group"][train], algorithms_of(t["params"])[train], cats, groups)
    for c in cats:
        assert sum(r["p_group"][c]) == pytest.approx(1, abs=1e-5)
        for g in range(6):
            assert sum(r["p_algorithm"][str(g)][c].values()) == pytest.approx(1, abs=1e-5)
    distances = held_out_distances(t["params"], t["split"], seed=0)
    assert len(distances["by family"]) == (t["split"] == "held_out").sum()
    rep = report(t, cats, groups, distances)
    assert rep["voices"] == 3000 == sum(rep[s] for s in SPLITS) == sum(v["voices"] for v in rep["groups"].values())
    assert rep["families"]["families"] == 1000
    assert all(v["train"] + v["validation"] + v["held_out"] == v["voices"] for v in rep["groups"].values())


def test_a_table_reads_back_whole_or_by_the_columns_asked_for(tmp_path):
    from deepdx.corpus.table import write_table

    table = {"params": random_voices(50, seed=5), "category": np.arange(50) % 8, "source": np.array(["a.syx"] * 50)}
    write_table(tmp_path / "t.parquet", table)
    back = read_table(tmp_path / "t.parquet")
    assert all(np.array_equal(back[k], v) for k, v in table.items()) and back["params"].dtype == np.uint8
    assert list(read_table(tmp_path / "t.parquet", ["params"])) == ["params"]
    assert np.array_equal(read_table(tmp_path / "t.parquet", ["params"])["params"], table["params"])
