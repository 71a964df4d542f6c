"""The critic: how much likelier a voice is among a group's training voices than among what
its generator makes, read from the voice's parameters and its sound.

A logistic regression tells training voices from as many generated ones (same categories,
same algorithms), on the normalised parameters, the 27 audio features (:mod:`deepdx.audio.features`)
and their pairwise products.  Its logit estimates log p_train(x) / p_generator(x) (Grover et
al. 2019, likelihood-free importance weighting).  Sampling then draws several candidates for
each requested voice, at a temperature ``warmer`` than the generator alone would sample at
(more varied voices), and keeps one with probability in proportion to exp(strength * logit):
sampling-importance-resampling, which moves the generated voices towards the training
voices' distribution where the generator's draws overshoot or fall short, in the
parameters and in the sound alike.  A linear tilt of these features matches means and
(audio) covariances; it cannot single out one training voice, so it does not copy.

The critic reads no category: its ratio is pooled over the categories the generator is asked
for.  Fitted with the voices' categories, it also holds two multinomial logistic regressions of
the category on the parameters and audio features, one among the training voices and one among
the generated ones; their log ratio for the category asked for (``category_logratio``, weighted
by ``generate.critic.category``) turns the pooled ratio into that category's (Bayes' rule).

Only training voices and generated ones are read to fit it, the generated ones asked for the
categories and algorithms of the training voices it is fitted against, so that it learns how
the generator's voices differ from real ones of the same request, not how often each request
comes; the critic stage reports on validation voices what it changes
(:mod:`deepdx.evaluate.validation`).  The file holds arrays only (read with allow_pickle=False).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import torch

from ..audio.features import N_FEATURES as N_AUDIO
from ..audio.features import render_features
from ..audio.render import Renderer
from ..audio.rendered import RenderedVoices
from ..corpus.encoding import with_blank_names
from ..distances import log_realism, nearest_other, normalise
from ..dx7.params import INDEX, N_SOUND_PARAMS
from ..errors import DeepDXError
from ..models.nets import VoiceGenerator

N_BASE = N_SOUND_PARAMS + N_AUDIO  # parameters and audio features: what the category models read
_PAIRS = np.triu_indices(N_AUDIO)  # each pair of audio features once, squares included
N_FEATURES = N_SOUND_PARAMS + N_AUDIO + len(_PAIRS[0])  # 145 + 27 + 378 = 550
MIN_VOICES = 2 * N_AUDIO  # training voices (and as many generated) a critic is fitted on, at least


def base_features(sound: np.ndarray, audio: np.ndarray, audio_mean: np.ndarray, audio_sd: np.ndarray) -> np.ndarray:
    """N x 172: normalised parameters and standardised audio features (the category models' inputs)."""
    return np.concatenate([normalise(sound), (np.asarray(audio, np.float64) - audio_mean) / audio_sd], axis=1)


def critic_features(sound: np.ndarray, audio: np.ndarray, audio_mean: np.ndarray, audio_sd: np.ndarray) -> np.ndarray:
    """N x 550: ``base_features``, then the audio features' pairwise products."""
    base = base_features(sound, audio, audio_mean, audio_sd)
    z = base[:, N_SOUND_PARAMS:]
    return np.concatenate([base, z[:, _PAIRS[0]] * z[:, _PAIRS[1]]], axis=1)


def category_model(x: np.ndarray, category: np.ndarray, categories: int, regularisation: float) -> np.ndarray:
    """``categories`` x (columns of x + 1): each category's weights and intercept in a multinomial
    logistic regression of ``category`` on ``x``; nan rows for the categories absent from it
    (every row nan with fewer than two categories: nothing to tell apart)."""
    from sklearn.linear_model import LogisticRegression

    out = np.full((categories, x.shape[1] + 1), np.nan)
    present = np.unique(category)
    if len(present) < 2:
        return out
    model = LogisticRegression(C=regularisation, max_iter=2000).fit(x, category)
    rows = np.column_stack([model.coef_, model.intercept_])
    out[model.classes_] = rows if len(present) > 2 else np.stack([np.zeros_like(rows[0]), rows[0]])  # two: one logit
    return out


def log_probability(model: np.ndarray, x: np.ndarray) -> np.ndarray:
    """N x categories: log p(category | x) by a ``category_model`` (-inf for its absent categories)."""
    present = np.isfinite(model[:, -1])
    logits = np.full((len(x), len(model)), -np.inf)
    logits[:, present] = x @ model[present, :-1].T + model[present, -1]
    top = logits[:, present].max(1, keepdims=True)
    return logits - top - np.log(np.exp(logits[:, present] - top).sum(1, keepdims=True))


@dataclass
class Critic:
    audio_mean: np.ndarray  # of the training voices' audio features
    audio_sd: np.ndarray
    mean: np.ndarray  # of the critic's features over both fitting sets
    sd: np.ndarray
    coef: np.ndarray
    intercept: float
    voices: int  # training voices (and as many generated ones) it was fitted on
    accuracy: float  # on those voices: 0.5 when it cannot tell them apart
    # p(category | voice) among the training voices and among the generated ones: category_model's
    # on the critic's standardised parameters and audio features (categories x (N_BASE + 1));
    # None: fitted without categories
    category_real: np.ndarray | None = None
    category_fake: np.ndarray | None = None

    @classmethod
    def fit(
        cls,
        real_sound: np.ndarray,
        real_audio: np.ndarray,
        fake_sound: np.ndarray,
        fake_audio: np.ndarray,
        regularisation: float,
        category: np.ndarray | None = None,
        categories: int | None = None,
    ) -> "Critic":
        """Training voices (N x 145 and N x 27) against generated ones; ``regularisation``:
        the inverse L2 weight (scikit-learn's C).  With ``category`` (N indices below
        ``categories``, by default the highest one's + 1), the categories both sets were drawn
        for (the generated voices asked for the training voices'), also how each set's category
        follows from the voice."""
        from sklearn.linear_model import LogisticRegression

        if min(len(real_sound), len(fake_sound)) < MIN_VOICES:
            raise DeepDXError(
                f"a critic needs at least {MIN_VOICES} voices a side; got {len(real_sound)} and {len(fake_sound)}"
            )
        audio_mean, audio_sd = real_audio.mean(0), real_audio.std(0) + 1e-9
        x = np.concatenate(
            [
                critic_features(s, a, audio_mean, audio_sd)
                for s, a in ((real_sound, real_audio), (fake_sound, fake_audio))
            ]
        )
        y = np.r_[np.ones(len(real_sound)), np.zeros(len(fake_sound))]
        mean, sd = x.mean(0), x.std(0) + 1e-9
        model = LogisticRegression(C=regularisation, max_iter=2000).fit((x - mean) / sd, y)
        out = cls(
            audio_mean,
            audio_sd,
            mean,
            sd,
            model.coef_[0].copy(),
            float(model.intercept_[0]),
            len(real_sound),
            float(model.score((x - mean) / sd, y)),
        )
        if category is not None:
            base, n = ((x - mean) / sd)[:, :N_BASE], len(real_sound)
            categories = int(np.max(category)) + 1 if categories is None else categories
            out.category_real, out.category_fake = (
                category_model(base[rows], category, categories, regularisation)
                for rows in (slice(0, n), slice(n, None))
            )
        return out

    def category_logratio(self, sound: np.ndarray, audio: np.ndarray, category: np.ndarray) -> np.ndarray:
        """Per voice: log p_train(category | voice) - log p_generator(category | voice), by Bayes
        the factor that turns the critic's ratio p_train(voice) / p_generator(voice) into the
        ratio for the voice's own category, p_train(voice | category) / p_generator(voice | category)
        (the generator was asked for the training voices' categories, so the priors cancel);
        0 where either set lacked the category, and for a critic fitted without categories."""
        if self.category_real is None:
            return np.zeros(len(sound))
        x = (base_features(sound, audio, self.audio_mean, self.audio_sd) - self.mean[:N_BASE]) / self.sd[:N_BASE]
        rows = np.arange(len(x))
        real, fake = (log_probability(m, x)[rows, category] for m in (self.category_real, self.category_fake))
        known = np.isfinite(real) & np.isfinite(fake)
        out = np.zeros(len(x))
        out[known] = real[known] - fake[known]
        return out

    @classmethod
    def neutral(cls, voices: int) -> "Critic":
        """No preference (every logit 0): for a group with too few voices to fit one; sampling
        through it keeps a uniformly drawn right draw."""
        return cls(
            np.zeros(N_AUDIO),
            np.ones(N_AUDIO),
            np.zeros(N_FEATURES),
            np.ones(N_FEATURES),
            np.zeros(N_FEATURES),
            0.0,
            voices,
            0.5,
        )

    def logit(self, sound: np.ndarray, audio: np.ndarray) -> np.ndarray:
        """Per voice: the estimated log ratio of the training voices' density to the generator's."""
        x = (critic_features(sound, audio, self.audio_mean, self.audio_sd) - self.mean) / self.sd
        return x @ self.coef + self.intercept

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:  # np.savez would add .npz to a name without it
            extra = (
                {}
                if self.category_real is None
                else {"category_real": self.category_real, "category_fake": self.category_fake}
            )
            np.savez(
                f,
                audio_mean=self.audio_mean,
                audio_sd=self.audio_sd,
                mean=self.mean,
                sd=self.sd,
                coef=self.coef,
                scalars=np.array([self.intercept, self.voices, self.accuracy]),
                **extra,
            )

    @classmethod
    def load(cls, path: str | Path) -> "Critic":
        try:
            with np.load(path, allow_pickle=False) as f:  # parsed, never unpickled
                intercept, voices, accuracy = (float(v) for v in f["scalars"])
                out = cls(
                    *(f[k].astype(float) for k in ("audio_mean", "audio_sd", "mean", "sd", "coef")),
                    intercept,
                    int(voices),
                    accuracy,
                    *((f[k].astype(float) if k in f else None) for k in ("category_real", "category_fake")),
                )
        except Exception as exc:  # not a zip, not .npz, an object array, keys or values that do not fit
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise DeepDXError(f"{path}: not a critic file from the critic stage ({reason})") from None
        shapes = out.audio_mean.shape == out.audio_sd.shape == (
            N_AUDIO,
        ) and out.mean.shape == out.sd.shape == out.coef.shape == (N_FEATURES,)
        arrays = (out.audio_mean, out.audio_sd, out.mean, out.sd, out.coef)
        models = [m for m in (out.category_real, out.category_fake) if m is not None]
        if models:  # both or neither; a row all numbers or all nan (a category absent)
            shapes = (
                shapes
                and len(models) == 2
                and models[0].ndim == 2
                and models[0].shape == models[1].shape
                and models[0].shape[1] == N_BASE + 1
            )
            shapes = shapes and all((np.isfinite(m).all(1) | np.isnan(m).all(1)).all() for m in models)
        if not shapes or not all(np.isfinite(a).all() for a in arrays) or not np.isfinite(out.intercept):
            raise DeepDXError(f"{path}: not a critic file from the critic stage (shapes or values do not fit)")
        return out


@dataclass
class Realism:
    """How far a voice lies outside the group's training voices' k-nearest-neighbour balls, the
    balls precision counts (Kynkaanniemi et al. 2019's realism score, read in log and capped at 0):
    0 inside some ball, -log(how many times a ball's radius it is from its centre) outside.  A
    local measure, where the critic's linear tilt is global; capped at 0, it never prefers the
    draw nearer a training voice among draws that are all inside, so it does not pull towards copies."""

    sound: np.ndarray  # the group's training voices' 145 sound parameters
    radius: np.ndarray  # each one's distance (normalised) to its k-th nearest other

    def __post_init__(self):
        self.train = normalise(self.sound)

    @classmethod
    def of(cls, train_sound: np.ndarray, k: int = 5) -> "Realism":
        sound = np.asarray(train_sound)[:, :N_SOUND_PARAMS].astype(np.uint8)
        return cls(sound, nearest_other(normalise(sound), k))

    @staticmethod
    def path(critic_dir: str | Path, group: int) -> Path:
        """Where the critic stage keeps group ``group``'s (beside its critic)."""
        return Path(critic_dir) / f"group{group}.realism.npz"

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez(f, sound=self.sound, radius=self.radius)

    @classmethod
    def load(cls, path: str | Path) -> "Realism":
        """What ``save`` wrote: the radii as computed, not computed again."""
        try:
            with np.load(path, allow_pickle=False) as f:  # parsed, never unpickled
                sound, radius = f["sound"], f["radius"]
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise DeepDXError(f"{path}: not a realism file from the critic stage ({reason})") from None
        if not (
            sound.dtype == np.uint8
            and sound.ndim == 2
            and sound.shape[1] == N_SOUND_PARAMS
            and radius.dtype == np.float64
            and radius.shape == (len(sound),)
            and np.isfinite(radius).all()
        ):
            raise DeepDXError(f"{path}: not a realism file from the critic stage (arrays of the wrong kind)")
        return cls(sound, radius)

    def score(self, sound: np.ndarray) -> np.ndarray:
        return np.minimum(log_realism(self.train, self.radius, normalise(sound)), 0.0)


def critic_path(critic_dir: str | Path, group: int) -> Path:
    return Path(critic_dir) / f"group{group}.npz"


def save_group(critic_dir: str | Path, group: int, critic: Critic, train_sound: np.ndarray) -> Realism:
    """The critic stage's files of group ``group``: its critic, and the realism radii of its
    training voices (``train_sound``), computed here once for every run that samples through them."""
    critic.save(critic_path(critic_dir, group))
    realism = Realism.of(train_sound)
    realism.save(Realism.path(critic_dir, group))
    return realism


def choose(logits: np.ndarray, wrong: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """For each request (a row of N x K candidates' logits), the index of the candidate kept:
    drawn with probability in proportion to exp(strength * logit), never a ``wrong`` one while a
    right one is left (every candidate wrong: the first).  Strength 0: uniform over the right ones."""
    logits, wrong = np.atleast_2d(logits), np.atleast_2d(wrong)
    scaled = np.where(wrong, -np.inf, strength * logits)
    top = scaled.max(1, keepdims=True)
    weight = np.where(np.isfinite(scaled), np.exp(scaled - np.where(np.isfinite(top), top, 0)), 0.0)
    weight[wrong.all(1), 0] = 1.0
    cumulative = np.cumsum(weight, axis=1)
    target = rng.random(len(logits)) * cumulative[:, -1]  # below the total: the first candidate past it has weight
    return (cumulative <= target[:, None]).sum(1)


def draw_temperature(generator: VoiceGenerator, temperature: float | None, warmer: float) -> float:
    """The temperature the critic's draws are made at: the sampling one (None: the generator's
    calibrated one) plus ``warmer``."""
    return generator.knobs(temperature)[0] + warmer


def fit_group(
    generator: VoiceGenerator,
    real: RenderedVoices,
    renderer: Renderer,
    regularisation: float,
    seed: int,
    temperature: float | None = None,
    truncation: float | None = None,
    warmer: float = 0.0,
) -> Critic:
    """The critic of ``real`` (the sound stage's training voices) against as many of
    ``generator``'s voices, drawn as sampling draws its candidates (``warmer`` than ``temperature``);
    a neutral one for a group with fewer than ``MIN_VOICES`` training voices."""
    if len(real.sound) < MIN_VOICES:
        return Critic.neutral(len(real.sound))
    category = torch.from_numpy(real.category)
    algorithm = torch.from_numpy(real.sound[:, INDEX["algorithm"]].astype(np.int64))
    fake = generator.sample(
        category,
        algorithm,
        torch.Generator().manual_seed(seed),
        draw_temperature(generator, temperature, warmer),
        truncation,
    )
    return Critic.fit(
        real.sound,
        real.features,
        fake,
        render_features(renderer, with_blank_names(fake)),
        regularisation,
        real.category,
        generator.cfg.n_classes,
    )
