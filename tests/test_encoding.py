import numpy as np
import pytest

from deepdx.corpus.encoding import LAYOUTS, decode, encode, used_cells
from deepdx.config import IngestConfig
from deepdx.corpus.ingest import ingest
from deepdx.dx7.params import INDEX, MAX
from tests.conftest import random_voices


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_round_trip_and_range(layout):
    p = random_voices(500, seed=4)
    grid = encode(p, layout)
    assert grid.shape == (500, 16, 16) and grid.min() >= -1 and grid.max() <= 1
    assert np.array_equal(decode(grid, layout), p[:, :145])
    assert used_cells(layout).sum() == 145


def test_decode_clamps_anything_to_valid_values():
    grid = np.random.default_rng(0).normal(0, 3, size=(100, 16, 16))
    assert (decode(grid) <= MAX[:145]).all()


def test_operator_blocks_keep_each_operator_together():
    cells = LAYOUTS["operator_blocks"]
    for op in range(1, 7):
        rows = {cells[INDEX[f"op{op}_{f}"]] // 16 for f in ("eg_rate1", "output_level", "kls_right_curve")}
        cols = {cells[INDEX[f"op{op}_{f}"]] % 16 for f in ("eg_rate1", "eg_level4", "rate_scaling")}
        assert max(rows) - min(rows) < 4 and max(cols) - min(cols) < 8


def test_every_corpus_voice_round_trips(corpus):
    params = ingest([str(corpus)], IngestConfig(policy="clamp"), progress=False).table["params"]
    for layout in LAYOUTS:
        assert np.array_equal(decode(encode(params, layout), layout), params[:, :145])
