import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deepdx.corpus.dedupe import dedupe, dedupe_table, near_pairs
from deepdx.corpus.ingest import ingest
from deepdx.dx7.packing import encode_name
from tests.conftest import random_voices


def test_exact_duplicates_ignore_the_name():
    p = random_voices(4)
    p[2] = p[0]
    p[2, -10:] = encode_name("OTHER NAME")
    r = dedupe(p, near=False)
    assert r.representative.tolist() == [0, 1, 0, 3] and r.kind.tolist() == ["unique", "unique", "exact", "unique"]


def test_near_duplicates_within_the_tolerance_only():
    base = random_voices(1, seed=1)[0]
    base[:145] = np.minimum(base[:145], 90)  # room to nudge upwards
    variants = np.stack([base] * 5)
    variants[1, 19] += 1  # fine tune +1: near
    variants[2, [19, 16]] += np.array([2, 3], np.uint8)  # two params, within delta 3: near
    variants[3, [0, 1, 2]] += 1  # three params: not near with max_params=2
    variants[4, 30] += 5  # delta 5: not near
    r = dedupe(variants, near=True, max_params=2, max_delta=3)
    assert r.kind.tolist() == ["unique", "near", "near", "unique", "unique"]
    assert r.representative.tolist() == [0, 0, 0, 3, 4]


def test_near_groups_link_transitively_to_the_earliest_voice():
    base = random_voices(1, seed=2)[0]
    base[:145] = np.minimum(base[:145], 90)
    chain = np.stack([base] * 3)
    chain[1, 16] += 3
    chain[2, 16] += 6  # 6 from the first, 3 from the second
    exact = chain[1].copy()
    r = dedupe(np.vstack([chain, exact]), max_params=1, max_delta=3)
    assert r.representative.tolist() == [0, 0, 0, 0]
    assert r.kind.tolist() == ["unique", "near", "near", "exact"]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 3), st.integers(1, 4))
def test_candidate_search_finds_every_near_pair(seed, max_params, max_delta):
    rng = np.random.default_rng(seed)
    base = random_voices(40, seed)[:, :145]
    copies = base[rng.integers(0, 40, 60)].astype(int)
    for row in copies:  # plant near and far variants
        cols = rng.choice(145, rng.integers(1, 5), replace=False)
        row[cols] += rng.integers(-5, 6, len(cols))
    sound = np.clip(np.vstack([base, copies]), 0, 99).astype(np.uint8)
    sound = np.unique(sound, axis=0)
    diff = np.abs(sound[:, None, :].astype(int) - sound[None, :, :])
    n_diff, worst = (diff > 0).sum(-1), diff.max(-1)
    i, j = np.nonzero((n_diff <= max_params) & (n_diff > 0) & (worst <= max_delta))
    brute = {(a, b) for a, b in zip(i, j) if a < b}
    found = {tuple(p) for p in near_pairs(sound, max_params, max_delta).tolist()}
    assert found == brute


def test_table_outputs_account_for_every_voice():
    p = random_voices(5)
    p[3] = p[1]
    table = {
        "voice_id": np.arange(5) + 100,
        "name": np.array(list("abcde")),
        "source": np.array(["f"] * 5),
        "index": np.arange(5),
        "params": p,
    }
    unique, merged, report = dedupe_table(table)
    assert report["voices"] == {"in": 5, "unique": 4, "exact_duplicates": 1, "near_duplicates": 0}
    assert unique["voice_id"].tolist() == [100, 101, 102, 104] and unique["merged_exact"].tolist() == [0, 1, 0, 0]
    assert merged == [
        dict(
            voice_id=103,
            name="d",
            source="f",
            index=3,
            kind="exact",
            representative_id=101,
            representative_name="b",
            representative_source="f",
        )
    ]


def test_factory_banks_add_no_new_sound_to_compact(corpus):
    compact = ingest([str(corpus / "dx7" / "compact.bin")], progress=False).table["params"]
    both = ingest([str(corpus)], progress=False).table["params"]
    assert len(both) > len(compact)
    for near in (False, True):
        assert len(dedupe(both, near=near).kept) == len(dedupe(compact, near=near).kept)
