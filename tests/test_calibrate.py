import numpy as np
import pytest
import torch

from deepdx.config import CalibrateConfig, compose
from deepdx.errors import DeepDXError
from deepdx.models.calibrate import calibrate, grid
from deepdx.models.diagnostics import CollapseProbe
from deepdx.models.nets import load_generator
from deepdx.models.train import train_group
from tests.conftest import cgan, random_voices
from tests.test_models import CATS, split, tiny_config  # noqa: F401 (split: a fixture)


class Stub:
    """Voices like the real ones at truncation 1.1 (any temperature), four voices repeated
    otherwise: what a collapsed generator gives.  Records the seeds it was drawn with."""

    def __init__(self):
        self.seeds = []

    def sample(self, category, algorithm, generator, temperature, truncation):
        seed = generator.initial_seed()
        self.seeds.append((temperature, truncation, seed))
        if truncation == 1.1:
            return random_voices(len(category), seed=100 + seed)
        return np.repeat(random_voices(4, seed=seed), -(-len(category) // 4), axis=0)[: len(category)]


def test_calibration_keeps_the_best_balanced_pair_first_of_equals_over_seeded_draws():
    real, cat = random_voices(400, seed=1), np.arange(400) % 4
    probe = CollapseProbe(real[:200], cat[:200], real[200:], cat[200:])
    stub = Stub()
    knobs = grid(CalibrateConfig(temperatures=[1.0, 1.5], truncations=[1.0, 1.1, 1.2]), flow=False)
    best, rows = calibrate(stub, probe, knobs, draws=2, seed=7)
    assert [(r["temperature"], r["truncation"]) for r in rows] == [(t, p) for t in (1.0, 1.5) for p in (1.0, 1.1, 1.2)]
    assert (best["temperature"], best["truncation"]) == (1.0, 1.1)  # 1.5 and 1.1 ties with it: the first is kept
    assert best["balanced"] == max(r["balanced"] for r in rows) > 2 * rows[0]["balanced"]
    assert {s for *_, s in stub.seeds} == {7, 8} and len(stub.seeds) == 12
    collapsed = rows[0]
    assert collapsed["coverage"] < best["coverage"] and collapsed["recall"] < best["recall"]


def test_a_trained_generator_samples_as_calibrated_on_validation_voices(split, tmp_path):  # noqa: F811
    cfg = compose(
        "seed=1",
        "model.channels=16",
        "train.epochs=2",
        "train.steps=null",
        "train.batch_size=32",
        "train.progress_bar=false",
        "mlflow.experiment=test",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
        "train.calibrate.temperatures=[1.0,3.0]",
        "train.calibrate.truncations=[0.5,1.0,2.0]",
    )
    summary = train_group(0, str(split), str(tmp_path / "m"), cfg, CATS, [1, 2])
    rows = summary["calibration"]
    assert len(rows) == 6 and summary["sampled/balanced"] == max(r["balanced"] for r in rows)
    state = torch.load(tmp_path / "m" / "generator.pt", weights_only=True)
    chosen = (summary["sampled/temperature"], summary["sampled/truncation"])
    assert (state["sampling"]["temperature"], state["sampling"]["truncation"]) == chosen
    gen = load_generator(tmp_path / "m" / "generator.pt")
    assert (gen.temperature, gen.truncation) == chosen
    c, a = torch.arange(64) % 8, torch.zeros(64, dtype=torch.long)
    own = gen.sample(c, a, torch.Generator().manual_seed(3))
    assert np.array_equal(own, gen.sample(c, a, torch.Generator().manual_seed(3), *chosen))
    other = (1.0, 0.5) if chosen != (1.0, 0.5) else (3.0, 2.0)
    assert not np.array_equal(own, gen.sample(c, a, torch.Generator().manual_seed(3), *other))


def test_generator_files_without_sampling_knobs_sample_at_one_and_bad_knobs_are_refused(tmp_path):
    state = cgan("model.channels=8").export()
    torch.save(state, tmp_path / "old.pt")
    gen = load_generator(tmp_path / "old.pt")
    assert (gen.temperature, gen.truncation) == (1.0, 1.0)
    state["sampling"] = {"temperature": 1.0, "truncation": 1e9}
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(DeepDXError, match="bad.pt: sampling knobs out of range"):
        load_generator(tmp_path / "bad.pt")


def test_the_seeds_design_is_sampled_at_one_and_one():
    c = compose("model=seed").train.calibrate
    assert (c.temperatures, c.truncations) == ([1.0], [1.0])
    assert len(compose().train.calibrate.temperatures) > 1  # the default chooses
    assert compose().generate.temperature is None  # the default: each group's calibrated value
