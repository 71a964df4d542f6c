import numpy as np
import pytest

from deepdx.audio.features import BLOCK, audio_features, render_features
from deepdx.audio.render import Renderer
from deepdx.audio.rendered import RenderedVoices, render_group
from deepdx.errors import DeepDXError
from deepdx.distances import log_realism, normalise, prdc
from deepdx.generate.critic import N_FEATURES, Critic, Realism, choose, critic_features
from tests.conftest import random_voices


def audio(n: int, seed: int = 0, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """Correlated Gaussian stand-ins for 27 audio features; ``shift`` moves the first one by
    that many of its standard deviations, ``scale`` widens every one."""
    law = np.random.default_rng(100)
    mix = law.normal(size=(27, 27))
    z = np.random.default_rng(seed).normal(size=(n, 27)) * scale
    z[:, 0] += shift
    return z @ mix


def sets(n: int = 1500):
    """Real voices against generated ones that differ in sound only: louder in one feature and
    wider in all."""
    sound = random_voices(2 * n, seed=11)[:, :145]
    return sound[:n], audio(n, seed=1), sound[n:], audio(n, seed=2, shift=1.0, scale=1.3)


def test_the_critic_scores_fresh_real_voices_above_fresh_generated_ones():
    critic = Critic.fit(*sets(), regularisation=0.05)
    assert 0.6 < critic.accuracy < 1 and critic.voices == 1500
    real, fake = (
        critic.logit(random_voices(800, 20)[:, :145], audio(800, seed=3)),
        critic.logit(random_voices(800, 21)[:, :145], audio(800, seed=4, shift=1.0, scale=1.3)),
    )
    auc = (real[:, None] > fake[None, :]).mean()
    assert auc > 0.65 and real.mean() > 0 > fake.mean()
    alike = Critic.fit(*sets()[:2], random_voices(1500, seed=12)[:, :145], audio(1500, seed=5), regularisation=0.05)
    assert alike.accuracy < critic.accuracy - 0.05  # voices of one law: little to tell apart


def test_keeping_draws_by_the_critic_moves_them_towards_real_voices():
    critic = Critic.fit(*sets(), regularisation=0.05)
    n, k = 2000, 8
    sound, features = random_voices(n * k, seed=30)[:, :145], audio(n * k, seed=6, shift=1.0, scale=1.3)
    z = lambda f: (f - critic.audio_mean) / critic.audio_sd
    logits = critic.logit(sound, features).reshape(n, k)
    kept = choose(logits, np.zeros((n, k), bool), 1.0, np.random.default_rng(0))
    chosen = features.reshape(n, k, -1)[np.arange(n), kept]
    real, drawn = audio(n, seed=7), features.reshape(n, k, -1)[:, 0]
    gap = lambda f: np.abs(z(f).mean(0) - z(real).mean(0)).sum() + np.abs(z(f).std(0) - z(real).std(0)).sum()
    assert gap(chosen) < 0.6 * gap(drawn)  # means and spreads nearer the real voices'
    weaker = choose(logits, np.zeros((n, k), bool), 0.25, np.random.default_rng(0))
    assert gap(chosen) < gap(features.reshape(n, k, -1)[np.arange(n), weaker]) < gap(drawn)


def test_choose_never_keeps_a_wrong_draw_while_a_right_one_is_left_and_is_seeded():
    rng = np.random.default_rng(1)
    logits, wrong = rng.normal(size=(3000, 4)) * 3, rng.random((3000, 4)) < 0.5
    wrong[:10] = True  # every draw wrong: the first
    kept, hopeless = choose(logits, wrong, 1.0, np.random.default_rng(2)), wrong.all(1)
    assert hopeless.sum() > 100 and (kept[hopeless] == 0).all()
    assert not wrong[np.arange(3000), kept][~hopeless].any()
    assert np.array_equal(kept, choose(logits, wrong, 1.0, np.random.default_rng(2)))
    assert not np.array_equal(kept, choose(logits, wrong, 1.0, np.random.default_rng(3)))
    uniform = choose(logits, np.zeros_like(wrong), 0.0, np.random.default_rng(4))
    assert np.allclose(
        np.bincount(uniform, minlength=4) / 3000, 0.25, atol=0.03
    )  # strength 0: the logit does not count
    sharp = choose(logits, np.zeros_like(wrong), 50.0, np.random.default_rng(4))
    assert (sharp == logits.argmax(1)).mean() > 0.99
    proportional = choose(
        np.log(np.tile([[1.0, 3.0]], (20000, 1))), np.zeros((20000, 2), bool), 1.0, np.random.default_rng(5)
    )
    assert proportional.mean() == pytest.approx(0.75, abs=0.015)  # in proportion to exp(logit)


def test_log_realism_is_the_best_ratio_of_a_real_balls_radius_to_the_distance_from_its_centre():
    real, radius = np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([1.0, 2.0])
    fake = np.array([[0.5, 0.0], [3.0, 0.0], [7.0, 0.0], [10.0, 1.0]])
    assert np.allclose(log_realism(real, radius, fake, chunk=3), np.log([2.0, 1 / 3, 2 / 3, 2.0]))


def test_realism_is_capped_at_zero_inside_a_ball_and_below_zero_outside_every_ball():
    train, others = random_voices(400, seed=40)[:, :145], random_voices(400, seed=41)[:, :145]
    realism = Realism.of(train)
    assert (
        realism.score(train) == 0
    ).all()  # at the centre of its own ball: no reward for nearness, so no pull to copies
    raw = log_realism(realism.train, realism.radius, normalise(others))
    score = realism.score(others)
    assert (raw < 0).any() and (raw > 0).any() and np.array_equal(score, np.minimum(raw, 0))


def test_the_category_ratio_favours_a_voice_typical_of_its_category_among_real_ones():
    """Real voices: category 0 loud in the first audio feature, category 1 quiet; generated
    voices of either category alike.  A loud voice is likelier a real category 0 than a
    generated one, and less likely a real category 1: the ratio says so, and says nothing of a
    category neither set had."""
    real_sound, real_audio, fake_sound, fake_audio = sets(1200)
    category = np.arange(1200) % 2
    sd = real_audio[:, 0].std()
    real_audio[:, 0] += np.where(category == 0, 1.5, -1.5) * sd
    critic = Critic.fit(real_sound, real_audio, fake_sound, fake_audio, 0.05, category, categories=8)
    probe = random_voices(2, seed=9)[:, :145]
    both = np.tile(real_audio.mean(0), (2, 1))
    both[:, 0] += np.array([2.0, -2.0]) * sd  # a loud voice, a quiet one
    as_0, as_1 = (critic.category_logratio(probe, both, np.full(2, c)) for c in (0, 1))
    assert as_0[0] > 0.5 and as_1[0] < -0.5 and as_1[1] > 0.5 and as_0[1] < -0.5
    assert not critic.category_logratio(probe, both, np.full(2, 5)).any()  # a category neither set had: no preference
    assert Critic.fit(*sets(300), regularisation=0.05).category_real is None  # fitted without categories: no ratio


def test_a_saved_critic_loads_equal_and_a_bad_file_is_refused(tmp_path):
    critic = Critic.fit(*sets(300), regularisation=0.05)
    critic.save(tmp_path / "group0.npz")
    back = Critic.load(tmp_path / "group0.npz")
    probe = (random_voices(50, seed=9)[:, :145], audio(50, seed=9))
    assert np.array_equal(back.logit(*probe), critic.logit(*probe))
    assert (back.voices, back.accuracy) == (critic.voices, critic.accuracy)
    assert critic_features(*probe, critic.audio_mean, critic.audio_sd).shape == (50, N_FEATURES)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DeepDXError, match="not a critic file"):
        Critic.load(tmp_path / "junk.npz")
    with open(tmp_path / "pickled.npz", "wb") as f:  # an object array would need unpickling
        np.savez(
            f,
            audio_mean=np.array([object()]),
            audio_sd=critic.audio_sd,
            mean=critic.mean,
            sd=critic.sd,
            coef=critic.coef,
            scalars=np.zeros(3),
        )
    with pytest.raises(DeepDXError, match="not a critic file"):
        Critic.load(tmp_path / "pickled.npz")
    for name, bad in (("short.npz", dict(coef=critic.coef[:10])), ("nan.npz", dict(coef=critic.coef * np.nan))):
        arrays = {
            **dict(
                audio_mean=critic.audio_mean,
                audio_sd=critic.audio_sd,
                mean=critic.mean,
                sd=critic.sd,
                coef=critic.coef,
                scalars=np.zeros(3),
            ),
            **bad,
        }
        with open(tmp_path / name, "wb") as f:
            np.savez(f, **arrays)
        with pytest.raises(DeepDXError, match="not a critic file"):
            Critic.load(tmp_path / name)
    with_categories = Critic.fit(*sets(300), regularisation=0.05, category=np.arange(300) % 3, categories=8)
    with_categories.save(tmp_path / "categories.npz")
    back, asked = Critic.load(tmp_path / "categories.npz"), np.arange(50) % 3
    assert np.array_equal(back.category_logratio(*probe, asked), with_categories.category_logratio(*probe, asked))
    assert back.category_logratio(*probe, asked).any() and np.isnan(back.category_real[3:]).all()
    bad = {k: getattr(with_categories, k) for k in ("audio_mean", "audio_sd", "mean", "sd", "coef")}
    for name, models in (
        ("one.npz", dict(category_real=with_categories.category_real)),  # both or neither
        (
            "narrow.npz",
            dict(
                category_real=with_categories.category_real[:, :10], category_fake=with_categories.category_fake[:, :10]
            ),
        ),
    ):
        with open(tmp_path / name, "wb") as f:
            np.savez(f, **bad, scalars=np.zeros(3), **models)
        with pytest.raises(DeepDXError, match="not a critic file"):
            Critic.load(tmp_path / name)
    with pytest.raises(DeepDXError, match="at least 54 voices a side"):
        Critic.fit(*(a[:40] for a in sets(300)), regularisation=0.05)
    neutral = Critic.neutral(40)  # what a group with too few voices gets: no preference, and it loads
    neutral.save(tmp_path / "neutral.npz")
    assert not Critic.load(tmp_path / "neutral.npz").logit(*probe).any()


def test_the_sound_stage_renders_a_seeded_sample_and_its_file_is_checked(tmp_path):
    voices, renderer = random_voices(120, seed=5), Renderer()
    category = np.arange(120) % 8
    a, b = (render_group(voices, category, renderer, 60, seed=1) for _ in range(2))
    c = render_group(voices, category, renderer, 60, seed=2)
    assert len(a.sound) == 60 and np.array_equal(a.sound, b.sound) and not np.array_equal(a.sound, c.sound)
    whole = render_group(voices, category, renderer, 1000, seed=1)  # asked for more than there are: all of them
    assert np.array_equal(whole.sound, voices[:, :145]) and np.array_equal(whole.category, category)
    assert np.array_equal(whole.features, render_features(renderer, voices))
    whole.save(tmp_path / "group0.npz")
    back = RenderedVoices.load(tmp_path / "group0.npz")
    assert all(np.array_equal(getattr(back, k), getattr(whole, k)) for k in ("sound", "category", "features"))
    with open(tmp_path / "bad.npz", "wb") as f:
        np.savez(f, sound=whole.sound, category=whole.category[:5], features=whole.features)
    with pytest.raises(DeepDXError, match="not rendered voices from the sound stage"):
        RenderedVoices.load(tmp_path / "bad.npz")


def test_features_rendered_in_chunks_equal_those_rendered_at_once():
    voices, renderer = random_voices(20, seed=6), Renderer()
    assert np.array_equal(render_features(renderer, voices, chunk=7), render_features(renderer, voices, chunk=100))
    assert render_features(renderer, voices[:0]).shape == (0, 27)


def test_features_measured_in_blocks_equal_those_measured_at_once():
    """audio_features measures BLOCK rows at a time (fast: their spectra stay in cache); the
    numbers are those of one block of every row, leftover rows joining the last block."""
    audio = Renderer().render_all(random_voices(2 * BLOCK + 5, seed=8))
    spectra = np.fft.rfft(audio.astype(np.float64), axis=1)  # what one block of every row transforms
    blocks = audio_features(audio, 44100)
    assert blocks.shape == (len(audio), 27)
    assert np.array_equal(blocks[:, 0], np.log10(np.sqrt(np.mean(np.square(audio.astype(np.float64)), 1)) + 1e-6))
    power = np.abs(spectra) ** 2 + 1e-20
    freqs = np.fft.rfftfreq(audio.shape[1], 1 / 44100)
    assert np.array_equal(
        blocks[:, 3], np.log10(freqs[np.argmax(np.cumsum(power, 1) >= 0.85 * power.sum(1)[:, None], 1)] + 1)
    )
    for n in (
        BLOCK,
        BLOCK + 3,
    ):  # one block; a block and leftovers (a render's chunk of fewer rows is one block, as before)
        assert np.array_equal(audio_features(audio[:n], 44100), blocks[:n])
    assert audio_features(audio[:0], 44100).shape == (0, 27)


def test_features_rendered_by_several_threads_equal_those_rendered_by_one():
    voices, renderer = random_voices(45, seed=7), Renderer()
    one = render_features(renderer, voices, chunk=4, threads=1)
    for threads in (2, 3):  # 12 chunks over 2 or 3 synths, put back in the voices' order
        assert np.array_equal(render_features(renderer, voices, chunk=4, threads=threads), one)
    for chunk, threads in ((64, 2), (20, 4), (44, 4)):  # fewer chunks than synths: each chunk in runs of blocks
        alone = render_features(renderer, voices, chunk=chunk, threads=1)
        assert np.array_equal(render_features(renderer, voices, chunk=chunk, threads=threads), alone)


def test_reports_of_several_draws_are_averaged_figure_by_figure():
    from deepdx.evaluate.validation import mean_report

    reports = [
        {"generator": {"balanced": b, "audio_frechet": f}, "other_draw": o}
        for b, f, o in ((0.7, 2.0, 0.5), (0.8, 4.0, 0.7))
    ]
    mean = mean_report(reports)
    assert mean["generator"]["balanced"] == pytest.approx(0.75) and mean["generator"]["audio_frechet"] == 3.0
    assert mean["other_draw"] == pytest.approx(0.6) and mean_report(reports[:1]) == reports[0]


def test_the_pooled_report_measures_every_groups_voices_together_against_a_training_ceiling():
    from deepdx.evaluate.validation import pooled_report
    from deepdx.generate.sample import Draws

    validations = [{"params": random_voices(60, seed=50 + g)} for g in range(2)]
    trains = [{"params": random_voices(200, seed=60 + g)} for g in range(2)]
    far = np.zeros((60, 155))  # every parameter at 0: one point, far from random voices
    copies = [Draws(voices=v["params"], first=far) for v in validations]  # kept: the validation voices themselves
    out = pooled_report(copies, validations, trains, seed=0)
    assert out["critic"]["precision"] == out["critic"]["coverage"] == 1.0  # each at the centre of its own ball
    assert out["generator"]["precision"] == 0 and out["generator"]["balanced"] == 0
    rng, reference = np.random.default_rng(0), normalise(np.concatenate([v["params"] for v in validations]))
    real = np.concatenate(
        [t["params"][rng.choice(200, 60, replace=False)] for t in trains]
    )  # 60 training voices a group
    ceiling = prdc(reference, normalise(real), 5)
    assert out["critic"]["balanced"] == pytest.approx(min(out["critic"][m] / ceiling[m] for m in ceiling))
    assert pooled_report(copies, validations, trains, seed=0) == out  # seeded
