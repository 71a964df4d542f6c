"""Sampling: requested category -> routed model and algorithm -> valid, new, named voices.

For each voice the routing statistics recorded at split time choose the group (model) and
the algorithm inside it (``routing: sample`` draws from P(group | category) and
P(algorithm | group, category); ``argmax`` always takes the most likely).  Grids decode to
valid parameters (rounded, clamped).  A voice identical (145 sound parameters) to a real
voice or to one generated earlier in the run is drawn again.  With the groups' typical
sounds (the sound stage's), a voice whose audio lies beyond its group's limit is drawn again,
same category and algorithm, keeping the nearest of ``candidates`` draws; with a screen, a
voice the repair pass would call wrong (silent, shrill, inaudible) counts as beyond any limit
(``sample_checked``; the evaluate stage samples so too).  With a renderer, each voice then goes through the audio
check and repair pass (:mod:`deepdx.audio.repair`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..audio.features import render_features
from ..audio.render import Renderer
from ..audio.repair import repair, wrong
from ..audio.typical import TypicalSound
from ..config import ROUTINGS, RepairConfig, SoundCheckConfig
from ..corpus.encoding import with_names
from ..corpus.table import read_table
from ..dx7.packing import encode_name, sound_keys
from ..dx7.params import INDEX, N_SOUND_PARAMS, NAME_LENGTH
from ..errors import DeepDXError
from ..models.nets import VoiceGenerator, load_generator


@dataclass
class Models:
    generators: list[VoiceGenerator]  # one per group
    routing: dict
    typical: list[TypicalSound] | None = None  # one per group: sampling checks each voice's sound against it
    candidates: int = 1  # draws per voice at most, with ``typical``
    screen: RepairConfig | None = None  # with ``typical``: voices wrong by these thresholds count as infinitely far

    @property
    def categories(self) -> list[str]:
        return self.routing["categories"]


def load_models(models_dir: str | Path, routing_path: str | Path, sound_dir: str | Path | None = None,
                check: SoundCheckConfig | None = None, thresholds: RepairConfig | None = None) -> Models:
    """``sound_dir``: the sound stage's typical sounds, against which voices are checked as
    ``check`` says (none, one candidate or no directory: no check); its screen calls wrong
    what the repair pass would by ``thresholds`` (generate.repair's; the defaults if None)."""
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
        raise DeepDXError(f"{routing_path}: not routing statistics from the split stage "
                          f"(missing {', '.join(sorted(missing))})")
    generators = []
    for g in range(len(groups)):
        path = models_dir / f"group{g}" / "generator.pt"
        if not path.exists():
            raise DeepDXError(f"no trained model for group {g} at {path}: run `dvc repro` (or pass --models DIR)")
        generators.append(load_generator(path))
    if sound_dir is None or check is None or check.candidates <= 1:
        return Models(generators, routing)
    typical = []
    for g in range(len(groups)):
        path = Path(sound_dir) / f"group{g}.npz"
        if not path.exists():
            raise DeepDXError(f"no typical sound for group {g} at {path}: run `dvc repro sound`")
        typical.append(TypicalSound.load(path))
    screen = (thresholds or RepairConfig()) if check.screen else None
    return Models(generators, routing, typical, check.candidates, screen)


def training_keys(split_dir: str | Path) -> set[bytes]:
    """The sounds of every voice the models may know (training and validation splits): none
    may come out of generation.  Held-out voices stay unopened (the evaluate stage's alone)."""
    keys: set[bytes] = set()
    for split in ("train", "validation"):
        for path in sorted((Path(split_dir) / split).glob("group*.parquet")):
            keys.update(sound_keys(read_table(path)["params"]))
    return keys


def sample_group(models: Models, g: int, category: np.ndarray, rng: np.random.Generator,
                 torch_rng: torch.Generator, routing: str = "sample", temperature: float | None = None,
                 truncation: float | None = None, algorithm: int | None = None) -> np.ndarray:
    """N x 145 voices from group g's generator for the given category indices, each asked
    for an algorithm of the group by P(algorithm | group, category) (uniform where a
    category never used the group), or for ``algorithm`` (panel number) when given;
    ``temperature`` and ``truncation`` None: the generator's own, calibrated on validation voices."""
    algorithms = np.array(models.routing["groups"][g])
    pick = np.full(len(category), algorithm or 0, dtype=np.int64)
    for c in np.unique(category) if algorithm is None else []:
        rows = np.flatnonzero(category == c)
        table = models.routing["p_algorithm"][str(g)][models.categories[c]]
        p = np.array([table[str(a)] for a in algorithms], float)
        p = p / p.sum() if p.sum() > 0 else np.full(len(algorithms), 1 / len(algorithms))
        pick[rows] = rng.choice(algorithms, len(rows), p=p) if routing == "sample" else algorithms[p.argmax()]
    return models.generators[g].sample(torch.as_tensor(category, dtype=torch.long), torch.from_numpy(pick - 1),
                                       torch_rng, temperature, truncation)


def sample_checked(models: Models, g: int, category: np.ndarray, rng: np.random.Generator,
                   torch_rng: torch.Generator, renderer: Renderer | None, check_rng: torch.Generator,
                   routing: str = "sample", temperature: float | None = None, truncation: float | None = None,
                   algorithm: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(voices, first draws): ``sample_group``'s voices, each whose sound lies beyond the group's
    typical limit (or is wrong, with ``models.screen``) drawn again (same category and algorithm,
    noise from ``check_rng``, so the other streams stay as without the check) until it lies
    within or ``models.candidates`` draws are made; each keeps its nearest draw (of the right
    ones; the first when every draw was wrong).  Without typical sounds: the first draws."""
    first = sample_group(models, g, category, rng, torch_rng, routing, temperature, truncation, algorithm)
    if models.typical is None or models.candidates <= 1:
        return first, first
    typical, voices = models.typical[g], first.copy()

    def distance_of(sound: np.ndarray) -> np.ndarray:
        features = render_features(renderer, with_blank_names(sound))
        d = typical.distance(features)
        return d if models.screen is None else np.where(wrong(features, models.screen), np.inf, d)

    distance = distance_of(voices)
    for _ in range(models.candidates - 1):
        again = np.flatnonzero((distance > typical.limit) | np.isinf(distance))
        if not len(again):
            break
        drawn = models.generators[g].sample(torch.as_tensor(category[again], dtype=torch.long),
                                            torch.from_numpy(voices[again, INDEX["algorithm"]].astype(np.int64)),
                                            check_rng, temperature, truncation)
        d = distance_of(drawn)
        nearer = d < distance[again]
        voices[again[nearer]], distance[again[nearer]] = drawn[nearer], d[nearer]
    return voices, first


def check_stream(seed: int) -> torch.Generator:
    """The noise of the typical-sound check's redraws: a stream derived from ``seed``, apart from
    every request's own (a run seeds its requests seed * 1000 + r, so seed + 1 would be the next
    request's noise)."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 1]).generate_state(1)[0]))


def with_blank_names(sound: np.ndarray) -> np.ndarray:
    """N x 145 sound parameters as whole voices (N x 155) named with blanks, for rendering."""
    return with_names(sound[:, :N_SOUND_PARAMS], np.full((len(sound), NAME_LENGTH), ord(" "), np.uint8))


def group_of_algorithm(models: Models, algorithm: int) -> int:
    for g, algorithms in enumerate(models.routing["groups"]):
        if algorithm in algorithms:
            return g
    raise DeepDXError(f"algorithm must be a panel number 1-32; got {algorithm}")


def voice_name(category: str, number: int) -> np.ndarray:
    """Ten name bytes: the category shortened to fit, then the number ("BRASS 001", "BRAS 1000")."""
    digits = f"{number:03d}"
    return encode_name(f"{category[:10 - len(digits) - 1].upper()} {digits}")


@dataclass
class Generated:
    params: np.ndarray  # N x 155
    group: np.ndarray
    algorithm: np.ndarray
    problem: list[str] = field(default_factory=list)
    fix: list[str] = field(default_factory=list)
    resampled: int = 0  # drawn again: the sound of a real voice, or of one generated before
    redrawn: int = 0  # kept a later draw: the first sounded unlike the group's training voices, or wrong


def generate(models: Models, category: str, count: int, seed: int, exclude: set[bytes],
             routing: str = "sample", renderer: Renderer | None = None, repair_cfg: RepairConfig | None = None,
             name_start: int = 1, max_rounds: int = 50, temperature: float | None = None, truncation: float | None = None,
             algorithm: int | None = None) -> Generated:
    """``count`` new voices of ``category`` (of ``algorithm``, a panel number, when given);
    their sound keys are added to ``exclude``."""
    if category not in models.categories:
        raise DeepDXError(f"unknown category {category!r}; choose one of {', '.join(models.categories)}")
    if routing not in ROUTINGS:
        raise DeepDXError(f"routing must be one of {', '.join(ROUTINGS)}, got {routing!r}")
    c = models.categories.index(category)
    rng = np.random.default_rng(seed)
    torch_rng = torch.Generator().manual_seed(seed)
    check_rng = check_stream(seed)
    if models.typical is not None and renderer is None:
        renderer = Renderer()
    p_group = np.asarray(models.routing["p_group"][category], dtype=float)
    if p_group.sum() <= 0:
        p_group = np.ones(len(p_group))
    p_group = p_group / p_group.sum()
    if algorithm is not None:  # its group's model, whatever the category usually uses
        p_group = np.eye(len(p_group))[group_of_algorithm(models, algorithm)]
    sound, groups, algs, resampled, redrawn = [], [], [], 0, 0
    for _ in range(max_rounds):
        need = count - len(sound)
        if need <= 0:
            break
        chosen = rng.choice(len(p_group), need, p=p_group) if routing == "sample" else np.full(need, p_group.argmax())
        for g in np.unique(chosen):
            batch, first = sample_checked(models, int(g), np.full(int((chosen == g).sum()), c), rng, torch_rng,
                                          renderer, check_rng, routing, temperature, truncation, algorithm)
            redrawn += int((batch != first).any(1).sum())
            pick = batch[:, INDEX["algorithm"]].astype(int) + 1
            for row, a in zip(batch, pick):
                key = row.tobytes()
                if key in exclude:
                    resampled += 1
                    continue
                exclude.add(key)
                sound.append(row)
                groups.append(int(g))
                algs.append(int(a))
    if len(sound) < count:
        raise DeepDXError(f"could only make {len(sound)} new {category} voices of {count} requested")
    names = np.stack([voice_name(category, name_start + i) for i in range(count)])
    params = with_names(np.array(sound[:count]), names)
    result = Generated(params, np.array(groups[:count]), np.array(algs[:count]), resampled=resampled, redrawn=redrawn)
    if renderer is not None and repair_cfg is not None and repair_cfg.enabled:
        for i in range(count):
            fixed, problem, fix = repair(params[i], renderer, repair_cfg)
            key = fixed[:N_SOUND_PARAMS].tobytes()
            if fix and key in exclude:  # the fix would recreate a known sound: keep the voice as it was
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
