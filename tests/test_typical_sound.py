import numpy as np
import pytest

from deepdx.audio.features import render_features
from deepdx.audio.render import Renderer
from deepdx.audio.typical import TypicalSound, fit_group
from deepdx.errors import DeepDXError
from tests.conftest import random_voices


def features(n: int, seed: int = 0) -> np.ndarray:
    """Correlated Gaussian stand-ins for 27 audio features: one law, ``seed`` the draw."""
    law = np.random.default_rng(100)
    mix, shift = law.normal(size=(27, 27)), law.normal(size=27) * 5
    return np.random.default_rng(seed).normal(size=(n, 27)) @ mix + shift


def test_the_limit_holds_the_asked_share_and_far_voices_lie_beyond_it():
    train = features(2000)
    typical = TypicalSound.fit(train, 0.9)
    assert typical.typical(train).mean() == pytest.approx(0.9, abs=0.001)
    fresh = typical.typical(features(20000, seed=1))  # other voices of the same law: about the same share
    assert fresh.mean() == pytest.approx(0.9, abs=0.02)
    assert typical.distance(train.mean(0, keepdims=True))[0] < 1e-6
    shifted = train[:100] + 10 * train.std(0)  # ten standard deviations off on every feature
    assert not typical.typical(shifted).any()
    with pytest.raises(DeepDXError, match="more voices than"):
        TypicalSound.fit(train[:27], 0.9)


def test_a_saved_typical_sound_loads_equal_and_a_bad_file_is_refused(tmp_path):
    typical = TypicalSound.fit(features(500), 0.95)
    typical.save(tmp_path / "group0.npz")
    back = TypicalSound.load(tmp_path / "group0.npz")
    probe = features(50, seed=1)
    assert np.array_equal(back.distance(probe), typical.distance(probe))
    assert (back.limit, back.quantile, back.voices) == (typical.limit, 0.95, 500)
    (tmp_path / "junk.npz").write_bytes(b"not numpy")
    with pytest.raises(DeepDXError, match="not a typical-sound file"):
        TypicalSound.load(tmp_path / "junk.npz")
    with open(tmp_path / "pickled.npz", "wb") as f:  # an object array would need unpickling: refused
        np.savez(f, mean=np.array([object()], dtype=object), sd=np.ones(1), precision=np.ones((1, 1)),
                 scalars=np.ones(3))
    with pytest.raises(DeepDXError, match="not a typical-sound file"):
        TypicalSound.load(tmp_path / "pickled.npz")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "group0.npz").read_bytes()[:300])  # a truncated zip
    np.save(tmp_path / "array.npy", np.ones(3))  # .npy, not .npz
    with open(tmp_path / "small.npz", "wb") as f:  # the wrong number of features
        np.savez(f, mean=np.zeros(3), sd=np.ones(3), precision=np.eye(3), scalars=np.ones(3))
    for name in ("cut.npz", "array.npy", "small.npz"):
        with pytest.raises(DeepDXError, match="not a typical-sound file"):
            TypicalSound.load(tmp_path / name)
    unlimited = TypicalSound.unlimited(0.95, 10)
    unlimited.save(tmp_path / "unlimited.npz")  # a group too small to fit: no limit, saved and loaded
    assert TypicalSound.load(tmp_path / "unlimited.npz").typical(features(50) * 1e6).all()


def test_fitted_on_rendered_voices_a_seeded_subset():
    voices, renderer = random_voices(120, seed=5), Renderer()
    a, b = (fit_group(voices, renderer, 0.95, 60, seed=1) for _ in range(2))
    c = fit_group(voices, renderer, 0.95, 60, seed=2)
    assert a.voices == 60 and np.array_equal(a.mean, b.mean) and not np.array_equal(a.mean, c.mean)
    whole = fit_group(voices, renderer, 0.95, 1000, seed=1)  # asked for more than there are: all of them
    assert whole.voices == 120
    assert np.allclose(whole.mean, render_features(renderer, voices).mean(0))
    few = fit_group(voices[:20], renderer, 0.95, 1000, seed=1)  # too few to fit 27 features: no limit
    assert few.voices == 20 and few.typical(render_features(renderer, voices)).all()


def test_features_rendered_in_chunks_equal_those_rendered_at_once():
    voices, renderer = random_voices(20, seed=6), Renderer()
    assert np.array_equal(render_features(renderer, voices, chunk=7), render_features(renderer, voices, chunk=100))
    assert render_features(renderer, voices[:0]).shape == (0, 27)


def test_features_rendered_by_several_threads_equal_those_rendered_by_one():
    voices, renderer = random_voices(45, seed=7), Renderer()
    one = render_features(renderer, voices, chunk=4, threads=1)
    for threads in (2, 3):  # 12 chunks over 2 or 3 synths, put back in the voices' order
        assert np.array_equal(render_features(renderer, voices, chunk=4, threads=threads), one)
