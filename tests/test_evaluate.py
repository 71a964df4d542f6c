"""Each metric moves the right way on constructed cases; the evaluation run, its report,
plots and MLflow run on small data."""

import json

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from deepdx.audio.features import render_features
from deepdx.audio.render import Renderer
from deepdx.config import RepairConfig
from deepdx.corpus.categorize import classifier_features
from deepdx.dx7.params import INDEX, MAX, op_index, uniform_voices
from deepdx.evaluate import baselines
from deepdx.evaluate.audio_metrics import AudioReference
from deepdx.evaluate.metrics import Reference, category_fidelity, diversity, duplicate_rate
from deepdx.evaluate.run import REFERENCES, evaluate, load_groups, markdown, measure, plots, repaired
from deepdx.generate.sample import load_models, with_blank_names
from deepdx.tracking import log_evaluation
from tests.conftest import critic_config, critics
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


def test_prdc_agrees_with_the_authors_package_on_grid_voices_with_ties_and_copies():
    """deepdx.distances.prdc computes its own distances; the authors' ``prdc`` package (a dev
    dependency) is the reference, on voices whose distances tie and whose rows repeat."""
    import contextlib
    import io

    from prdc import compute_prdc

    from deepdx.distances import normalise, prdc

    real = normalise(population(300, seed=8)[0])
    for fake in (
        population(250, seed=9)[0],
        population(250, centres=CENTRES[:3], seed=10)[0],
        np.repeat(population(50, seed=11)[0], 5, axis=0),
        np.concatenate([population(300, seed=8)[0][:150], population(150, seed=9)[0]]),
    ):  # copies: ties
        with contextlib.redirect_stdout(io.StringIO()):
            expected = compute_prdc(real, normalise(fake), 5)
        assert prdc(real, normalise(fake), 5) == pytest.approx({k: float(v) for k, v in expected.items()}, abs=1e-12)


@pytest.mark.parametrize("chunk", [1, 7, 64, 2048])
def test_nearest_other_chunk_by_chunk_is_the_whole_matrix_s_kth(chunk):
    """Radii come chunk by chunk (the whole N x N matrix is never held); a row's own distance is
    left out, a copy of it elsewhere is not (distance 0).  Equal to rounding, which the square
    root lifts to 1e-7 near 0: a one-row chunk multiplies by another BLAS path (on the corpus's
    groups, in chunks of 2,048, the radii came out to the bit)."""
    from deepdx.distances import kth, nearest_other, normalise, own_distances

    x = normalise(population(220, seed=12)[0])
    x[200:] = x[:20]  # 20 copied rows
    for k in (1, 5):
        assert nearest_other(x, k, chunk=chunk) == pytest.approx(kth(own_distances(x), k), abs=1e-6)
    nearest = nearest_other(x, 1, chunk=chunk)
    assert (nearest[:20] < 1e-6).all() and (nearest[200:] < 1e-6).all() and (nearest[20:200] > 0.1).all()


def test_voices_in_another_key_are_counted():
    ref = Reference(uniform_voices(300, seed=1), uniform_voices(300, seed=2))
    voices = uniform_voices(490, seed=3)
    voices[:, INDEX["transpose"]] = np.arange(490) % 49  # every transposition ten times
    assert measure(ref, voices[:, :145], None, None, None)["in_octaves"] == pytest.approx(5 / 49)
    voices[:, INDEX["transpose"]] = 24
    assert measure(ref, voices[:, :145], None, None, None)["in_octaves"] == 1.0


def test_voices_far_from_real_ones_have_low_precision(ref):
    ref, _ = ref
    assert (
        ref.prdc(uniform_voices(400, seed=5))["precision"]
        < 0.05
        < 0.5
        < ref.prdc(population(400, seed=6)[0])["precision"]
    )


def test_duplicates_and_memorised_copies_are_flagged(ref):
    ref, train = ref
    fresh, _ = population(400, seed=7)
    assert duplicate_rate(np.repeat(fresh[:100], 4, axis=0)) == 0.75 and duplicate_rate(fresh) < 0.01
    assert ref.memorisation(train[:400]) == 1.0
    assert ref.memorisation(baselines.jitter(400, train, RNG, params=1, steps=1)) > 0.8
    assert ref.memorisation(fresh) < 0.2


def test_baselines_are_valid_and_shaped(ref):
    _, train = ref
    for voices in (
        baselines.uniform(50, [1, 2], RNG),
        baselines.marginal(50, train, RNG),
        baselines.jitter(50, train, RNG),
    ):
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
    # the real row: training voices, which the classifier learnt, are judged by held-out ones instead
    held, _ = population(300, seed=9)
    held_category = np.arange(300) % 4
    held[:, op_index(1, "output_level")] = held_category * 30
    right = measure(ref, voices, (category + 1) % 4, clf, None, unseen=(held, held_category))
    wrong = measure(ref, voices, category, clf, None, unseen=(held, (held_category + 1) % 4))
    assert right["category_fidelity"] > 0.95 and wrong["category_fidelity"] < 0.05
    assert right["memorisation"] == ref.memorisation(held) != ref.memorisation(voices)


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


def test_features_rendered_once_serve_the_audio_reference_and_the_measure(ref):
    """The evaluation renders each set once: its features serve its group's row and the pooled one."""
    ref, train = ref
    held, voices = uniform_voices(40, seed=3), uniform_voices(40, seed=4)
    rendered = AudioReference(held, Renderer())
    given = AudioReference(None, None, features=rendered.real)
    features = rendered.render_features(voices)
    given.render_features = lambda v: pytest.fail("rendered again")
    out = measure(ref, voices[:, :145], None, None, given, features=features)
    assert {k: out[k] for k in ("silent_rate", "harsh_rate", "audio_diversity", "audio_frechet")} == rendered.evaluate(
        voices
    )


def test_the_repair_pass_given_rendered_features_repairs_as_the_full_pass():
    """Given the voices' features, only the voices they call wrong are tried and only the
    voices it changed rendered again: the same voices, and the features a render of them gives."""
    renderer, cfg = Renderer(), RepairConfig()
    voices = np.concatenate([uniform_voices(40, seed=5), [simple_voice(True), simple_voice(False)]])[:, :145]
    full, none = repaired(voices, renderer, cfg)
    fast, features = repaired(voices, renderer, cfg, render_features(renderer, with_blank_names(voices)))
    assert none is None and np.array_equal(fast, full)
    assert (fast != voices).any(1).sum() >= 1 and (fast[-2] != voices[-2]).any()  # the fixed operator was flipped
    assert np.array_equal(features, render_features(renderer, with_blank_names(fast)))


# ---------------------------------------------------------------- the evaluation run as a whole
@pytest.fixture(scope="module")
def evaluation(workdir):
    """evaluate() on two small groups with untrained generators, with audio, sampled through
    the critic."""
    models = load_models(workdir / "models", workdir / "split" / "routing.json", critics(workdir), critic_config(2))
    groups = load_groups(str(workdir / "split"), models.routing["groups"])
    train = np.concatenate([g.train for g in groups])
    clf = DecisionTreeClassifier(random_state=0).fit(
        classifier_features(train), np.concatenate([g.train_category for g in groups])
    )
    return models, groups, clf, evaluate(groups, models, clf, seed=3, progress=False)


def test_held_out_subsets_are_seeded_and_capped(workdir):
    routing = [[1, 2], [3, 4, 5]]
    full = load_groups(str(workdir / "split"), routing)
    assert [len(g.held_out) for g in full] == [20, 20] and [len(g.train) for g in full] == [80, 80]
    a, b = (load_groups(str(workdir / "split"), routing, max_voices=7, seed=1) for _ in range(2))
    c = load_groups(str(workdir / "split"), routing, max_voices=7, seed=2)
    assert [len(g.held_out) for g in a] == [7, 7] and [len(g.train) for g in a] == [80, 80]
    assert all(np.array_equal(x.held_out, y.held_out) for x, y in zip(a, b))
    assert not all(np.array_equal(x.held_out, y.held_out) for x, y in zip(a, c))
    held = {bytes(row) for g in full for row in g.held_out}
    assert all(bytes(row) in held for g in a for row in g.held_out)


def test_evaluate_measures_every_reference_per_group_and_overall(evaluation):
    _, groups, clf, results = evaluation
    assert set(results["groups"]) == {"0", "1"}
    for rows in [results["overall"], *results["groups"].values()]:
        assert list(rows) == list(REFERENCES)
        for name, m in rows.items():
            assert 0 <= m["precision"] <= 1 and 0 <= m["coverage"] <= 1 and np.isfinite(m["frechet"]), name
            assert 0 <= m["harsh_rate"] <= 1 and np.isfinite(m["audio_frechet"]), name
        assert "category_fidelity" in rows["cgan"] and "category_fidelity" not in rows["uniform"]
    distances = results["nearest_training_distance"]
    assert len(distances["held_out"]) == sum(len(g.held_out) for g in groups) == 40
    assert len(distances["cgan"]) == 40 and min(distances["jitter"]) < np.median(distances["uniform"])
    overall = results["overall"]  # each row is measured on its own set: jitter copies, uniform does not
    assert overall["jitter"]["memorisation"] > 0.5 > overall["uniform"]["memorisation"]
    held = np.concatenate([g.held_out for g in groups])  # but the real row's fidelity is the held-out voices'
    agree = clf.predict(classifier_features(held)) == np.concatenate([g.held_out_category for g in groups])
    assert overall["real"]["category_fidelity"] == pytest.approx(agree.mean())


def test_evaluate_is_deterministic_and_audio_can_be_off(evaluation):
    models, groups, clf, results = evaluation
    again = evaluate(groups, models, clf, seed=3, progress=False)
    assert json.dumps(again, sort_keys=True) == json.dumps(results, sort_keys=True)
    quiet = evaluate(groups, models, clf, seed=3, audio=False, progress=False)
    assert list(quiet["overall"]) == [r for r in REFERENCES if r != "cgan_repaired"]
    assert "harsh_rate" not in quiet["overall"]["cgan"]
    assert quiet["overall"]["cgan"]["precision"] == results["overall"]["cgan"]["precision"]


def test_the_critic_s_cgan_row_beside_its_first_draws_and_nothing_else_moved(evaluation, workdir):
    models, groups, clf, results = evaluation
    plain = load_models(workdir / "models", workdir / "split" / "routing.json")
    without = evaluate(groups, plain, clf, seed=3, progress=False)
    assert "cgan_unchecked" not in without["overall"]
    for name, row in without["overall"].items():  # the critic draws from its own stream: all else as it was
        if name != "cgan_repaired":  # (the repair pass starts from the kept voices)
            assert row == results["overall"]["cgan_unchecked" if name == "cgan" else name], name
    overall = results["overall"]  # the critic kept other draws (which, and how: tests/test_generate.py)
    assert overall["cgan"]["frechet"] != overall["cgan_unchecked"]["frechet"]
    assert overall["cgan"]["audio_frechet"] != overall["cgan_unchecked"]["audio_frechet"]


def test_report_plots_and_mlflow_run(evaluation, workdir, tmp_path):
    import mlflow

    from deepdx.config import MLflowConfig
    from deepdx.corpus.table import write_json
    from deepdx.tracking import ensure_experiment

    models, _, _, results = evaluation
    out = tmp_path / "evaluation"
    plots(results, models.categories, out)
    for name in ("nearest_training_distance.png", "diversity_by_category.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = markdown({k: v for k, v in results.items() if k != "nearest_training_distance"})
    (out / "report.md").write_text(report)
    assert report.count("## Group") == 2 and report.count("| cgan |") == 3
    assert f"| cgan | {results['overall']['cgan']['precision']:.3f} |" in report

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = MLflowConfig(experiment="eval-test", tracking_uri=uri)
    client = mlflow.MlflowClient(uri)
    experiment = ensure_experiment(cfg.experiment, uri)
    model_dir = tmp_path / "models"
    train_run = client.create_run(experiment, run_name="group1").info.run_id
    write_json(model_dir / "group1" / "summary.json", {"mlflow_run_id": train_run})  # group0: no summary
    log_evaluation(results, out, str(model_dir), 2, cfg)
    runs = {r.info.run_name: r for r in client.search_runs([experiment])}
    assert set(runs) == {"evaluate", "group1"} and runs["evaluate"].info.status == "FINISHED"
    assert runs["evaluate"].data.metrics["cgan.coverage"] == results["overall"]["cgan"]["coverage"]
    assert runs["group1"].data.metrics["eval/precision"] == results["groups"]["1"]["cgan"]["precision"]
    artifacts = {a.path for a in client.list_artifacts(runs["evaluate"].info.run_id)}
    assert artifacts == {"report.md", "nearest_training_distance.png", "diversity_by_category.png"}


def test_category_fidelity_is_the_share_the_classifier_labels_as_asked():
    voices = uniform_voices(200, seed=3)[:, :145]

    class Judge:  # the categorize stage's classifier reads classifier_features; this one labels by row
        def predict(self, features):
            assert np.array_equal(features, classifier_features(voices))
            return np.arange(len(features)) % 8

    asked = np.arange(200) % 8
    assert category_fidelity(Judge(), voices, asked) == 1.0
    asked[:50] = (asked[:50] + 1) % 8  # a quarter asked for another category
    assert category_fidelity(Judge(), voices, asked) == 0.75
