"""Each metric moves the right way on constructed cases."""
import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from deepdx.audio.render import Renderer
from deepdx.corpus.categorize import classifier_features
from deepdx.dx7.params import MAX, op_index, uniform_voices
from deepdx.evaluate import baselines
from deepdx.evaluate.audio_metrics import AudioReference
from deepdx.evaluate.metrics import Reference, diversity, duplicate_rate
from deepdx.evaluate.run import measure
from tests.test_generate import simple_voice

RNG = np.random.default_rng(0)
CENTRES = uniform_voices(20, seed=11)[:, :145].astype(int)


def population(n, centres=CENTRES, seed=0):
    """Voices around a few centres: a population with structure, like real voices."""
    rng = np.random.default_rng(seed)
    rows = centres[rng.integers(0, len(centres), n)] + rng.integers(-6, 7, (n, 145))
    return np.clip(rows, 0, MAX[:145].astype(int)).astype(np.uint8), None


@pytest.fixture(scope="module")
def ref():
    train, _ = population(2000, seed=1)
    held, _ = population(400, seed=2)
    return Reference(train, held, seed=0), train


def test_a_collapsed_generator_scores_worse_than_a_diverse_one(ref):
    ref, _ = ref
    diverse, _ = population(400, seed=3)
    collapsed, _ = population(400, centres=CENTRES[:2], seed=4)
    d, c = ref.prdc(diverse), ref.prdc(collapsed)
    assert c["recall"] < d["recall"] and c["coverage"] < d["coverage"]
    assert ref.ndb(collapsed) > ref.ndb(diverse)
    assert ref.frechet(collapsed) > ref.frechet(diverse)
    assert diversity(collapsed)["all"] < diversity(diverse)["all"]


def test_voices_far_from_real_ones_have_low_precision(ref):
    ref, _ = ref
    assert ref.prdc(uniform_voices(400, seed=5))["precision"] < 0.05 < 0.5 < ref.prdc(population(400, seed=6)[0])["precision"]


def test_duplicates_and_memorised_copies_are_flagged(ref):
    ref, train = ref
    fresh, _ = population(400, seed=7)
    assert duplicate_rate(np.repeat(fresh[:100], 4, axis=0)) == 0.75 and duplicate_rate(fresh) < 0.01
    assert ref.memorisation(train[:400]) == 1.0
    assert ref.memorisation(baselines.jitter(400, train, RNG, params=1, steps=1)) > 0.8
    assert ref.memorisation(fresh) < 0.2


def test_baselines_are_valid_and_shaped(ref):
    _, train = ref
    for voices in (baselines.uniform(50, [1, 2], RNG), baselines.marginal(50, train, RNG), baselines.jitter(50, train, RNG)):
        assert voices.shape == (50, 145) and (voices <= MAX[:145]).all()
    assert set(baselines.uniform(200, [3, 4], RNG)[:, 134]) == {2, 3}


def test_category_fidelity_follows_the_requested_category(ref):
    ref, _ = ref
    voices, _ = population(800, seed=8)
    category = np.arange(800) % 4
    voices[:, op_index(1, "output_level")] = category * 30  # the category is audible in one parameter
    clf = DecisionTreeClassifier(random_state=0).fit(classifier_features(voices), category)
    good = measure(ref, voices, category, clf, None)["category_fidelity"]
    wrong = measure(ref, voices, (category + 1) % 4, clf, None)["category_fidelity"]
    assert good > 0.95 and wrong < 0.05


def test_audio_rates_flag_silent_and_shrill_voices():
    renderer = Renderer()
    real = np.stack([simple_voice(False)] * 20)
    for i, row in enumerate(real):  # real-ish: sines at different ratios
        row[op_index(1, "freq_coarse")] = 1 + i % 4
    aref = AudioReference(real, renderer)
    silent = real.copy()
    silent[:, op_index(1, "output_level")] = 0
    shrill = real.copy()
    shrill[:, op_index(1, "osc_mode")] = 1
    shrill[:, op_index(1, "freq_coarse")] = 3  # fixed 1 kHz x fine
    shrill[:, op_index(1, "freq_fine")] = 99  # ~9.8 kHz
    shrill[:, 135] = 7  # feedback
    shrill[:, 134] = 31
    ok, quiet, harsh = aref.evaluate(real), aref.evaluate(silent), aref.evaluate(shrill)
    assert ok["silent_rate"] == 0 and quiet["silent_rate"] == 1
    assert ok["harsh_rate"] == 0 and harsh["harsh_rate"] > 0.9
    assert harsh["audio_frechet"] > ok["audio_frechet"]
