"""Sampling: requested category -> routed model and algorithm -> valid, new, named voices.

For each voice the routing statistics recorded at split time choose the group (model) and
the algorithm inside it (``routing: sample`` draws from P(group | category) and
P(algorithm | group, category); ``argmax`` always takes the most likely).  Grids decode to
valid parameters (rounded, clamped).  A voice identical (145 sound parameters) to a real
voice or to one generated earlier in the run is drawn again.  With the groups' critics (the
critic stage's, :mod:`.critic`), each voice is drawn ``candidates`` times, same category and
algorithm, all of them rendered, and one kept with probability in proportion to
exp(strength * the critic's logit); with a screen, a draw the repair pass would call wrong
(silent, shrill, inaudible) is never kept while a right one is left (``sample_critiqued``;
the evaluate stage samples so too).  With a renderer, each voice then goes through the audio
check and repair pass (:mod:`deepdx.audio.repair`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..audio.features import render_features
from ..audio.render import Renderer
from ..audio.repair import clearly_right, repair, wrong
from ..config import ROUTINGS, CriticConfig, RepairConfig
from ..corpus.encoding import with_blank_names, with_names
from ..corpus.layout import known_path
from ..dx7.packing import encode_name, sound_keys
from ..dx7.params import INDEX, N_SOUND_PARAMS
from ..errors import DeepDXError
from ..models.flow import FlowGenerator
from ..models.nets import VoiceGenerator, load_generator
from .critic import Critic, Realism, choose, critic_path, draw_temperature


class PerGroup(Sequence):
    """One thing per group (a generator, a critic...), each loaded when first asked for: a bank
    drawn from two groups loads two."""

    def __init__(self, n: int, load: Callable[[int], object]):
        self._load, self._items = load, [None] * n

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, g):
        if isinstance(g, slice):
            return [self[i] for i in range(len(self))[g]]
        if self._items[g] is None:
            self._items[g] = self._load(g)
        return self._items[g]


@dataclass
class Models:
    generators: Sequence[VoiceGenerator]  # one per group
    routing: dict
    critics: Sequence[Critic] | None = None  # one per group: sampling keeps one of several draws by it
    candidates: int = 1  # draws per voice, with ``critics``
    strength: float = 1.0  # how far the critic's logit decides (see deepdx.generate.critic.choose)
    warmer: float = 0.0  # with ``critics``: the draws' temperature above the sampling one
    screen: RepairConfig | None = (
        None  # with ``critics``: draws wrong by these thresholds are not kept while a right one is left
    )
    realism: Sequence[Realism] | None = (
        None  # with ``critics``, one per group: its score, times ``realism_weight``, is added to the critic's logit
    )
    realism_weight: float = 0.0
    category_weight: float = 0.0  # with ``critics``: the critic's category log ratio, times this, is added to its logit

    keep: Kept | None = None  # flow models: parameters every voice takes from a given voice (see Kept)

    @property
    def categories(self) -> list[str]:
        return self.routing["categories"]

    def category_index(self, category: str) -> int:
        """``category``'s index; DeepDXError naming the known ones when it is not one."""
        if category not in self.categories:
            raise DeepDXError(f"unknown category {category!r}; choose one of {', '.join(self.categories)}")
        return self.categories.index(category)

    @property
    def family(self) -> str:
        """cgan | flow: the model family of the generators (one family per models folder)."""
        return "flow" if isinstance(self.generators[0], FlowGenerator) else "cgan"


@dataclass
class Kept:
    """Completion: every voice drawn keeps ``voice``'s parameters ``params`` (indices 0-144),
    bit for bit, and the flow generates the rest consistent with them."""

    voice: np.ndarray
    params: np.ndarray


def draw(generator, category, algorithm, rng, temperature=None, truncation=None, keep: Kept | None = None):
    """A generator's voices; with ``keep``, completions of its voice (flow generators only)."""
    if keep is None:
        return generator.sample(category, algorithm, rng, temperature, truncation)
    return generator.complete(keep.voice, keep.params, category, algorithm, rng, truncation)


def load_models(
    models_dir: str | Path,
    routing_path: str | Path,
    critic_dir: str | Path | None = None,
    critic: CriticConfig | None = None,
    thresholds: RepairConfig | None = None,
    guidance: float | None = None,
) -> Models:
    """``critic_dir``: the critic stage's critics, by which voices are sampled as ``critic``
    says (none, one candidate or no directory: the first draws); its screen calls wrong what
    the repair pass would by ``thresholds`` (generate.repair's; the defaults if None);
    ``guidance``: every flow generator's guidance weight (None: each its own, calibrated)."""
    routing_path, models_dir = Path(routing_path), Path(models_dir)
    if not routing_path.exists():
        raise DeepDXError(f"no routing statistics at {routing_path}: run `dvc repro split` first")
    try:
        routing = json.loads(routing_path.read_text())
        missing = {"categories", "groups", "p_group", "p_algorithm"} - set(routing)
        groups = [[int(a) for a in algs] for algs in routing["groups"]]
    except (ValueError, KeyError, TypeError) as exc:
        missing = {f"readable JSON ({exc})"}
    if missing:
        raise DeepDXError(
            f"{routing_path}: not routing statistics from the split stage (missing {', '.join(sorted(missing))})"
        )

    def files(kind: str, path_of: Callable[[int], Path], fix: str) -> list[Path]:
        """Every group's file of ``kind``, checked before any is loaded (each is loaded when asked for)."""
        paths = [path_of(g) for g in range(len(groups))]
        for g, path in enumerate(paths):
            if not path.exists():
                raise DeepDXError(f"no {kind} for group {g} at {path}: {fix}")
        return paths

    def generator(path: Path) -> VoiceGenerator:
        out = load_generator(path)
        if guidance is not None:
            out.guidance = float(guidance)
        return out

    paths = files(
        "trained model",
        lambda g: models_dir / f"group{g}" / "generator.pt",
        "run `dvc repro` (or pass --models DIR)",
    )
    generators = PerGroup(len(paths), lambda g: generator(paths[g]))
    if guidance is not None and not isinstance(generators[0], FlowGenerator):  # one folder, one family
        raise DeepDXError(f"guidance is a flow model's knob; the models under {models_dir} are CGANs")
    if critic_dir is None or critic is None or critic.candidates <= 1:
        return Models(generators, routing)
    critic_paths = files("critic", lambda g: critic_path(critic_dir, g), "run `dvc repro critic`")
    screen = (thresholds or RepairConfig()) if critic.screen else None
    realism = None
    if critic.realism:  # the training voices' radii, as the critic stage computed them
        realism_paths = files("realism radii", lambda g: Realism.path(critic_dir, g), "run `dvc repro critic`")
        realism = PerGroup(len(groups), lambda g: Realism.load(realism_paths[g]))
    return Models(
        generators,
        routing,
        PerGroup(len(groups), lambda g: Critic.load(critic_paths[g])),
        critic.candidates,
        critic.strength,
        critic.warmer,
        screen,
        realism,
        critic.realism,
        critic.category,
    )


def training_keys(split_dir: str | Path) -> set[bytes]:
    """The sounds of every voice the models may know (training and validation splits, as the
    split stage keeps them in ``known_sounds.npy``): none may come out of generation.
    Held-out voices stay unopened (the evaluate stage's alone)."""
    path = known_path(split_dir)
    if not path.is_file():
        raise DeepDXError(f"no known sounds at {path}: run `dvc repro split` (or pass the split stage's folder)")
    try:
        sounds = np.load(path, allow_pickle=False)  # parsed, never unpickled
    except Exception as exc:  # empty, truncated, not .npy at all
        raise DeepDXError(f"{path}: not the split stage's known sounds ({type(exc).__name__})") from None
    if not (
        isinstance(sounds, np.ndarray)  # an .npz is read as an archive of arrays
        and sounds.dtype == np.uint8
        and sounds.ndim == 2
        and sounds.shape[1] == N_SOUND_PARAMS
    ):
        raise DeepDXError(f"{path}: not the split stage's known sounds (not one uint8 array of 145 columns)")
    return set(sound_keys(sounds))


def sample_group(
    models: Models,
    g: int,
    category: np.ndarray,
    rng: np.random.Generator,
    torch_rng: torch.Generator,
    routing: str = "sample",
    temperature: float | None = None,
    truncation: float | None = None,
    algorithm: int | None = None,
) -> np.ndarray:
    """N x 145 voices from group g's generator for the given category indices, each asked
    for an algorithm of the group by P(algorithm | group, category) (uniform where a
    category never used the group), or for ``algorithm`` (panel number) when given;
    ``temperature`` and ``truncation`` None: the generator's own, calibrated on validation voices."""
    algorithms = np.array(models.routing["groups"][g])
    pick = np.full(len(category), algorithm or 0, dtype=np.int64)
    for c in sorted(set(category.tolist())) if algorithm is None else []:  # np.unique would import numpy.ma
        rows = np.flatnonzero(category == c)
        table = models.routing["p_algorithm"][str(g)][models.categories[c]]
        p = np.array([table[str(a)] for a in algorithms], float)
        p = p / p.sum() if p.sum() > 0 else np.full(len(algorithms), 1 / len(algorithms))
        pick[rows] = rng.choice(algorithms, len(rows), p=p) if routing == "sample" else algorithms[p.argmax()]
    category, algorithm = torch.as_tensor(category, dtype=torch.long), torch.from_numpy(pick - 1)
    return draw(models.generators[g], category, algorithm, torch_rng, temperature, truncation, models.keep)


@dataclass
class Draws:
    """What ``sample_critiqued`` made: the voices kept, and the voices the generator alone
    would have given (N x 145 each), with their audio features when they were rendered (None
    without a critic); ``kept``: which of the critic's draws each voice is."""

    voices: np.ndarray
    first: np.ndarray
    features: np.ndarray | None = None
    first_features: np.ndarray | None = None
    kept: np.ndarray | None = None


def sample_critiqued(
    models: Models,
    g: int,
    category: np.ndarray,
    rng: np.random.Generator,
    torch_rng: torch.Generator,
    renderer: Renderer | None,
    critic_rng: torch.Generator,
    routing: str = "sample",
    temperature: float | None = None,
    truncation: float | None = None,
    algorithm: int | None = None,
    measure_first: bool = True,
) -> Draws:
    """``sample_group``'s voices (``first``: what the generator alone gives; with
    ``measure_first``, rendered and measured on their own too); with critics,
    ``models.candidates`` draws of each request (same category and algorithm), ``models.warmer``
    above the sampling temperature, all rendered, and one kept per voice by
    :func:`deepdx.generate.critic.choose`.  The first draw takes the request's own noise (the
    streams then stand as without the critic), the others and the choice's uniform numbers
    come from ``critic_rng``."""
    before = torch_rng.get_state()
    first = sample_group(models, g, category, rng, torch_rng, routing, temperature, truncation, algorithm)
    if models.critics is None or models.candidates <= 1:
        return Draws(first, first)
    after, n, k = torch_rng.get_state(), len(first), models.candidates
    generator, category = models.generators[g], torch.as_tensor(category, dtype=torch.long)
    algorithms = torch.from_numpy(first[:, INDEX["algorithm"]].astype(np.int64))
    warm = draw_temperature(generator, temperature, models.warmer)
    torch_rng.set_state(before)  # the first draw: the request's noise, warmer
    draws = [draw(generator, category, algorithms, torch_rng, warm, truncation, models.keep)]
    torch_rng.set_state(after)
    draws += [draw(generator, category, algorithms, critic_rng, warm, truncation, models.keep) for _ in range(k - 1)]
    candidates = np.stack(draws, axis=1)  # N x K x 145
    flat = candidates.reshape(n * k, -1)
    features = render_features(renderer, with_blank_names(flat))
    wrong_ = wrong(features, models.screen) if models.screen is not None else np.zeros(n * k, bool)
    logits = models.critics[g].logit(flat, features)
    if models.realism is not None:
        logits = logits + models.realism_weight * models.realism[g].score(flat)
    if models.category_weight:  # the ratio for the requested category, not for the group's voices of any
        logits = logits + models.category_weight * models.critics[g].category_logratio(
            flat, features, np.repeat(category.numpy(), k)
        )
    uniform = np.random.default_rng(int(torch.randint(2**62, (1,), generator=critic_rng)))
    kept = choose(logits.reshape(n, k), wrong_.reshape(n, k), models.strength, uniform)
    features = features.reshape(n, k, -1)[np.arange(n), kept]
    # the generator's own voices rendered on their own, in the chunks a render of them alone makes
    # (the FFT's last bits depend on which rows go together): their features are as without the critic
    first_features = render_features(renderer, with_blank_names(first)) if measure_first else None
    return Draws(candidates[np.arange(n), kept], first, features, first_features, kept)


def critic_stream(seed: int) -> torch.Generator:
    """The noise of the critic's draws: a stream derived from ``seed``, apart from
    every request's own (a run seeds its requests seed * 1000 + r, so seed + 1 would be the next
    request's noise)."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 1]).generate_state(1)[0]))


def group_of_algorithm(models: Models, algorithm: int) -> int:
    for g, algorithms in enumerate(models.routing["groups"]):
        if algorithm in algorithms:
            return g
    raise DeepDXError(f"algorithm must be a panel number 1-32; got {algorithm}")


def voice_name(category: str, number: int) -> np.ndarray:
    """Ten name bytes: the category shortened to fit, then the number ("BRASS 001", "BRAS 1000")."""
    digits = f"{number:03d}"
    return encode_name(f"{category[: 10 - len(digits) - 1].upper()} {digits}")


@dataclass
class Generated:
    params: np.ndarray  # N x 155
    group: np.ndarray
    algorithm: np.ndarray
    problem: list[str] = field(default_factory=list)
    fix: list[str] = field(default_factory=list)
    resampled: int = 0  # drawn again: the sound of a real voice, or of one generated before
    other_draw: int = 0  # the critic kept another of its draws than the first


def generate(
    models: Models,
    category: str,
    count: int,
    seed: int,
    exclude: set[bytes],
    routing: str = "sample",
    renderer: Renderer | None = None,
    repair_cfg: RepairConfig | None = None,
    name_start: int = 1,
    max_rounds: int = 50,
    temperature: float | None = None,
    truncation: float | None = None,
    algorithm: int | None = None,
) -> Generated:
    """``count`` new voices of ``category`` (of ``algorithm``, a panel number, when given);
    their sound keys are added to ``exclude``."""
    c = models.category_index(category)
    if routing not in ROUTINGS:
        raise DeepDXError(f"routing must be one of {', '.join(ROUTINGS)}, got {routing!r}")
    rng = np.random.default_rng(seed)
    torch_rng = torch.Generator().manual_seed(seed)
    critic_rng = critic_stream(seed)
    if models.critics is not None and renderer is None:
        renderer = Renderer()
    p_group = np.asarray(models.routing["p_group"][category], dtype=float)
    if p_group.sum() <= 0:
        p_group = np.ones(len(p_group))
    p_group = p_group / p_group.sum()
    if algorithm is not None:  # its group's model, whatever the category usually uses
        p_group = np.eye(len(p_group))[group_of_algorithm(models, algorithm)]
    sound, measured, groups, algs, resampled, other_draw = [], [], [], [], 0, 0  # measured: the critic's features
    for _ in range(max_rounds):
        need = count - len(sound)
        if need <= 0:
            break
        chosen = rng.choice(len(p_group), need, p=p_group) if routing == "sample" else np.full(need, p_group.argmax())
        for g in sorted(set(chosen.tolist())):  # np.unique would import numpy.ma, 0.05 s of a command
            drawn = sample_critiqued(
                models,
                int(g),
                np.full(int((chosen == g).sum()), c),
                rng,
                torch_rng,
                renderer,
                critic_rng,
                routing,
                temperature,
                truncation,
                algorithm,
                measure_first=False,
            )
            batch = drawn.voices
            other_draw += 0 if drawn.kept is None else int((drawn.kept > 0).sum())
            pick = batch[:, INDEX["algorithm"]].astype(int) + 1
            for i, (row, a) in enumerate(zip(batch, pick)):
                key = row.tobytes()
                if key in exclude:
                    resampled += 1
                    continue
                exclude.add(key)
                sound.append(row)
                measured.append(None if drawn.features is None else drawn.features[i])
                groups.append(int(g))
                algs.append(int(a))
    if len(sound) < count:
        raise DeepDXError(f"could only make {len(sound)} new {category} voices of {count} requested")
    names = np.stack([voice_name(category, name_start + i) for i in range(count)])
    params = with_names(np.array(sound[:count]), names)
    result = Generated(
        params, np.array(groups[:count]), np.array(algs[:count]), resampled=resampled, other_draw=other_draw
    )
    if renderer is not None and repair_cfg is not None and repair_cfg.enabled:
        for i in range(count):
            if measured[i] is not None and clearly_right(measured[i][None], repair_cfg)[0]:
                result.problem.append("")  # the critic's render says nothing is near wrong: no render again
                result.fix.append("")
                continue
            fixed, problem, fix = repair(params[i], renderer, repair_cfg)
            key = fixed[:N_SOUND_PARAMS].tobytes()
            kept = models.keep is not None and (fixed[models.keep.params] != params[i, models.keep.params]).any()
            if fix and (key in exclude or kept):  # a known sound, or a kept parameter changed: leave the voice be
                fix = ""
            elif fix:
                exclude.discard(params[i, :N_SOUND_PARAMS].tobytes())
                exclude.add(key)
                params[i] = fixed
            result.problem.append(problem)
            result.fix.append(fix)
    else:
        result.problem = [""] * count
        result.fix = [""] * count
    return result
