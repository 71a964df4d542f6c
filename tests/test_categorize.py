import numpy as np
import pytest

from deepdx.config import CategorizeConfig
from deepdx.corpus.categorize import NameRules, categorize, classifier_features, load_classifier, save_classifier
from deepdx.corpus.dedupe import dedupe
from deepdx.corpus.ingest import ingest
from deepdx.corpus.table import take
from deepdx.config import compose
from tests.conftest import random_voices


@pytest.fixture(scope="module")
def rules():
    return NameRules.from_config(compose().categorize)


def sides(n: int) -> np.ndarray:
    """Every tenth voice held out, the next tenth for validation, the rest for training."""
    return np.array(["held_out", "validation"] + ["train"] * 8)[np.arange(n) % 10]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("E.PNO 13.1", "keys"),
        ("BRASS   1 ", "brass"),
        ("STRINGS 2 ", "strings"),
        ("ORGN 3    ", "organ"),
        ("B3 ORGAN  ", "organ"),
        ("MRMBA     ", "bells"),
        ("VIBES HARD", "bells"),
        ("SYN-LEAD 1", "lead"),
        ("BassFlute3", "brass"),
        ("BASSOON   ", "brass"),
        ("SYN BASS 3", "bass"),
        ("Fretless25", "bass"),
        ("PERC ORGAN", "organ"),
        ("PERC.WATER", "perc"),
        ("SNARE DRM1", "perc"),
        ("BagPipes.1", "brass"),
        ("JAZZ GUIT1", "keys"),
        ("Clavinet2\\", "keys"),
        ("STR.PAD   ", "strings"),
        ("SynthBrass", "brass"),
        ("Synthy 2  ", "lead"),
        ("CREEPJAZ  ", None),
        ("NESSYMESSY", None),
        ("<Stereo.2>", None),
    ],
)
def test_name_rules_on_real_names(rules, name, expected):
    label = rules.label(name)
    assert (rules.categories[label] if label >= 0 else None) == expected


def test_rules_refuse_unknown_categories():
    with pytest.raises(ValueError, match="unknown categories"):
        NameRules.from_config(CategorizeConfig(categories=["keys"], strong={"bass": ["BASS"]}))


def test_features_are_finite_and_sized():
    f = classifier_features(random_voices(20))
    assert f.shape[0] == 20 and np.isfinite(f).all() and f.shape[1] > 145 + 32


def test_every_voice_gets_a_category_confidence_and_how(rules):
    p = random_voices(400, seed=9)
    names = np.array(
        [["PIANO", "BASS", "BRASS", "STRING", "ORGAN", "BELL", "LEAD", "DRUM", "XX"][i % 9] for i in range(400)]
    )
    r = categorize(p, names, rules, sides(len(p)), max_iter=20)
    assert (r.category >= 0).all() and (r.category < 8).all()
    assert set(r.how) == {"rule", "model"} and (r.confidence[r.how == "rule"] == 1).all()
    assert ((r.confidence > 0) & (r.confidence <= 1)).all()
    assert r.report["by_rule"] + r.report["by_model"] == 400 == sum(r.report["classes"].values())


def test_the_saved_classifier_is_the_one_that_labelled_the_voices(rules, tmp_path):
    p = random_voices(300, seed=10)
    names = np.array([["PIANO", "BASS", "BRASS", "STRING", "XX"][i % 5] for i in range(300)])
    r = categorize(p, names, rules, sides(len(p)), max_iter=10)
    save_classifier(tmp_path / "c.skops", r.model)
    loaded = load_classifier(tmp_path / "c.skops")
    unlabelled = r.how == "model"
    assert (loaded.predict(classifier_features(p[unlabelled])) == r.category[unlabelled]).all()
    assert (loaded.predict_proba(classifier_features(p)) == r.model.predict_proba(classifier_features(p))).all()


def test_the_same_classifier_saves_the_same_bytes(rules, tmp_path):
    """skops names objects by memory address and stamps the time; the saved file must not
    change from run to run (DVC compares outputs by hash)."""
    p = random_voices(300, seed=10)
    names = np.array([["PIANO", "BASS", "BRASS", "STRING", "XX"][i % 5] for i in range(300)])
    first = categorize(p, names, rules, sides(len(p)), max_iter=10).model
    save_classifier(tmp_path / "a.skops", first)
    save_classifier(
        tmp_path / "b.skops", categorize(p, names, rules, sides(len(p)), max_iter=10).model
    )  # other objects, addresses
    assert (tmp_path / "a.skops").read_bytes() == (tmp_path / "b.skops").read_bytes()


def test_a_classifier_file_holding_other_types_is_refused_not_run(tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    sio.dump(FunctionTransformer(func=eval), tmp_path / "evil.skops")
    with pytest.raises(ValueError, match="builtins.eval"):
        load_classifier(tmp_path / "evil.skops")
    with pytest.raises(ValueError, match="run `dvc repro categorize`"):
        load_classifier(tmp_path / "missing.skops")


def test_classifier_beats_the_majority_baseline_on_real_voices(corpus, rules):
    t = ingest([str(corpus / "dx7" / "compact.bin")], progress=False).table
    t = take(t, dedupe(t["params"]).kept)
    r = categorize(t["params"], t["name"], rules, sides(len(t["params"])), max_iter=60).report["classifier"]
    assert r["validation"] > 1000 and 1 <= r["rounds"] <= 60
    assert r["accuracy"] > r["majority_baseline_accuracy"] + 0.3
    assert r["balanced_accuracy"] > 0.5


def test_the_classifier_never_learns_from_held_out_voices(rules):
    """Change every held-out voice (sound and name): the classifier, its chosen round count
    and its validation figures stay exactly as they were; only the held-out labels move."""
    p = random_voices(400, seed=11)
    names = np.array(
        [["PIANO", "BASS", "BRASS", "STRING", "ORGAN", "BELL", "LEAD", "DRUM", "XX"][i % 9] for i in range(400)]
    )
    split = sides(400)
    a = categorize(p, names, rules, split, max_iter=15)
    held = split == "held_out"
    p2, names2 = p.copy(), names.copy()
    p2[held] = random_voices(int(held.sum()), seed=12)
    names2[held] = "BASS"
    b = categorize(p2, names2, rules, split, max_iter=15)
    assert a.report["classifier"] == b.report["classifier"]
    f = classifier_features(p)
    assert (a.model.predict_proba(f) == b.model.predict_proba(f)).all()
    assert (a.category[~held] == b.category[~held]).all()


def test_the_round_count_is_the_best_on_validation_voices(rules):
    from sklearn.metrics import accuracy_score

    from deepdx.corpus.categorize import train_classifier

    p = random_voices(400, seed=11)
    names = np.array([["PIANO", "BASS", "BRASS", "STRING", "XX"][i % 5] for i in range(400)])
    split = sides(400)
    r = categorize(p, names, rules, split, max_iter=30)
    y, f = rules.label_all(names), classifier_features(p)
    train, valid = (y >= 0) & (split == "train"), (y >= 0) & (split == "validation")
    staged = [accuracy_score(y[valid], q) for q in train_classifier(f[train], y[train], 0, 30).staged_predict(f[valid])]
    assert r.report["classifier"]["rounds"] == int(np.argmax(staged)) + 1
    assert r.report["classifier"]["accuracy"] == round(max(staged), 4)
    assert r.model.n_iter_ == r.report["classifier"]["rounds"]
