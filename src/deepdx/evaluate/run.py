"""The evaluation run: every reference measured the same way, per group and overall.

References: ``real`` (training voices against the held-out split: the ceiling), ``cgan``
(the trained generators, asked for the held-out voices' categories, sampled as the generate
stage samples, through the critic), ``cgan_unchecked`` (their first draws, before the critic
chose among them; only with the critic), ``cgan_repaired`` (the ``cgan`` voices after the generate
stage's fixed/ratio repair pass: what a user gets; only with audio), and the baselines
``uniform``, ``marginal``, ``jitter`` and ``interpolation`` (see :mod:`.baselines`).  Each set has as many
voices as the group's held-out split, so set-size effects on the metrics are equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..audio.features import render_features
from ..audio.render import Renderer
from ..audio.repair import repair, wrong
from ..config import RepairConfig
from ..corpus.split import group_path
from ..corpus.table import read_table, take
from ..dx7.params import INDEX, N_SOUND_PARAMS
from ..dx7.tuning import in_octaves
from ..generate.sample import critic_stream, sample_critiqued, with_blank_names
from . import baselines
from .audio_metrics import AudioReference
from .metrics import Reference, category_fidelity, diversity, duplicate_rate

REFERENCES = ("real", "cgan", "cgan_unchecked", "cgan_repaired", "uniform", "marginal", "jitter", "interpolation")


@dataclass
class EvalGroup:
    """One algorithm group's real voices, as the evaluation sees them."""

    algorithms: list[int]
    train: np.ndarray  # N x 155
    train_category: np.ndarray
    held_out: np.ndarray
    held_out_category: np.ndarray


def load_groups(
    split_dir: str, groups: list[list[int]], max_voices: int | None = None, seed: int = 0
) -> list[EvalGroup]:
    """Each group's training and held-out voices from the split stage; ``max_voices`` keeps a
    seeded subset of each group's held-out voices (smoke runs)."""
    out = []
    for g, algorithms in enumerate(groups):
        train, held = (read_table(group_path(split_dir, s, g)) for s in ("train", "held_out"))
        if max_voices is not None and max_voices < len(held["params"]):
            rows = np.random.default_rng(seed + g).choice(len(held["params"]), max_voices, replace=False)
            held = take(held, np.sort(rows))
        out.append(
            EvalGroup(
                algorithms,
                train["params"],
                train["category"].astype(np.int64),
                held["params"],
                held["category"].astype(np.int64),
            )
        )
    return out


def repaired(
    sound: np.ndarray, renderer, config: RepairConfig, features: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``sound`` after the generate stage's repair pass, and its audio features when ``features``
    (those of ``sound``, rendered already) are given: then only the voices they call wrong
    are tried, and only the voices the pass changed rendered again."""
    voices = with_blank_names(sound)
    tried = np.arange(len(sound)) if features is None else np.flatnonzero(wrong(features, config))
    fixed = voices.copy()
    for i in tried:
        fixed[i] = repair(voices[i], renderer, config)[0]
    if features is None:
        return fixed[:, :N_SOUND_PARAMS], None
    changed = np.flatnonzero((fixed != voices).any(1))
    out = features.copy()
    out[changed] = render_features(renderer, fixed[changed])
    return fixed[:, :N_SOUND_PARAMS], out


def measure(
    ref: Reference,
    sound: np.ndarray,
    category: np.ndarray | None,
    classifier,
    audio: AudioReference | None,
    unseen: tuple[np.ndarray, np.ndarray] | None = None,
    features: np.ndarray | None = None,
    distances: np.ndarray | None = None,
) -> dict:
    """``unseen``: voices and categories that memorisation and category fidelity are measured
    on, when not ``sound``: the real row's training voices are memorised by definition, and the
    classifier learnt them, so its levels are the held-out voices' (what a generator making
    voices like the held-out ones would reach).  ``features``: the audio features of ``sound``,
    when they were rendered already; ``distances``: the memorised voices' distances to their
    nearest training voice, when they were computed already."""
    unseen_voices, unseen_category = (sound, category) if unseen is None else unseen
    memo = ref.memorisation(unseen_voices, distances)
    out = {
        "duplicate_rate": duplicate_rate(sound),
        "memorisation": memo,
        **ref.prdc(sound),
        "ndb": ref.ndb(sound),
        "frechet": ref.frechet(sound),
        "in_octaves": float(in_octaves(sound[:, INDEX["transpose"]]).mean()),
    }
    div = diversity(sound, category)
    out["diversity"] = div.pop("all")
    if category is not None:
        out["diversity_by_category"] = div
        if classifier is not None:
            out["category_fidelity"] = category_fidelity(classifier, unseen_voices, unseen_category)
    if audio is not None:
        out.update(audio.evaluate(with_blank_names(sound)) if features is None else audio.evaluate_features(features))
    return out


def evaluate(
    groups: list[EvalGroup],
    models,
    classifier,
    seed: int = 0,
    audio: bool = True,
    renderer=None,
    progress: bool = True,
    repair_cfg: RepairConfig | None = None,
    temperature: float | None = None,
    truncation: float | None = None,
) -> dict:
    """{"groups": {g: {reference: metrics}}, "overall": {reference: metrics}}; the generators
    sample with ``temperature`` and ``truncation`` as the generate stage does."""
    repair_cfg = repair_cfg or RepairConfig()
    renderer = renderer or (Renderer() if audio or models.critics is not None else None)
    rng, torch_rng = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    critic_rng = critic_stream(seed)  # the critic's extra draws, as in generate
    results, pooled = {"groups": {}}, {name: [] for name in REFERENCES}
    pooled_cat, pooled_features = {name: [] for name in REFERENCES}, {name: [] for name in [*REFERENCES, "held_out"]}
    for g, data in enumerate(tqdm(groups, desc="evaluate", unit="group", disable=not progress)):
        n = len(data.held_out)
        pick = rng.choice(len(data.train), n, replace=len(data.train) < n)
        drawn = sample_critiqued(
            models,
            g,
            data.held_out_category,
            rng,
            torch_rng,
            renderer,
            critic_rng,
            temperature=temperature,
            truncation=truncation,
        )
        cgan, unchecked = drawn.voices, drawn.first
        sets = {
            "real": (data.train[pick, :N_SOUND_PARAMS], data.train_category[pick]),
            "cgan": (cgan, data.held_out_category),
            "cgan_unchecked": (unchecked, data.held_out_category) if models.critics is not None else None,
            "cgan_repaired": None,
            "uniform": (baselines.uniform(n, data.algorithms, rng), None),
            "marginal": (baselines.marginal(n, data.train, rng), None),
            "jitter": (baselines.jitter(n, data.train, rng), None),
            "interpolation": (
                baselines.interpolation(data.held_out_category, data.train, data.train_category, rng),
                data.held_out_category,
            ),
        }
        rendered = {"cgan": drawn.features, "cgan_unchecked": drawn.first_features}
        if audio and repair_cfg.enabled:
            fixed, rendered["cgan_repaired"] = repaired(cgan, renderer, repair_cfg, drawn.features)
            sets["cgan_repaired"] = (fixed, data.held_out_category)
        else:
            del sets["cgan_repaired"]
        if sets["cgan_unchecked"] is None:
            del sets["cgan_unchecked"]
        ref = Reference(data.train, data.held_out, seed=seed)
        aref = AudioReference(data.held_out, renderer, repair_cfg) if audio else None
        # each set rendered once (the critic's draws were, as it chose; the repair pass renders
        # the voices it changed): its features serve the group's row and the pooled one
        features = (
            {
                name: rendered[name] if rendered.get(name) is not None else aref.render_features(with_blank_names(s))
                for name, (s, c) in sets.items()
            }
            if audio
            else {}
        )
        unseen = (data.held_out, data.held_out_category)
        results["groups"][str(g)] = {
            name: measure(
                ref,
                s,
                c,
                classifier,
                aref,
                unseen if name == "real" else None,
                features.get(name),
                ref.held_nearest if name == "real" else None,
            )
            for name, (s, c) in sets.items()
        }
        for name, (s, c) in sets.items():
            pooled[name].append(s)
            pooled_cat[name].append(c if c is not None else np.full(len(s), -1))
        for name, f in [*features.items(), ("held_out", aref.real if audio else None)]:
            pooled_features[name].append(f)
    train = np.concatenate([d.train for d in groups])
    held, held_category = (np.concatenate([getattr(d, k) for d in groups]) for k in ("held_out", "held_out_category"))
    unseen = (held, held_category)
    ref = Reference(train, held, seed=seed)
    aref = AudioReference(None, renderer, repair_cfg, np.concatenate(pooled_features["held_out"])) if audio else None
    results["overall"] = {}
    names = [r for r in REFERENCES if pooled[r]]
    distances = {name: ref.nearest_training(np.concatenate(pooled[name])) for name in names}
    for name in names:
        cats = np.concatenate(pooled_cat[name])
        results["overall"][name] = measure(
            ref,
            np.concatenate(pooled[name]),
            cats if (cats >= 0).all() else None,
            classifier,
            aref,
            unseen if name == "real" else None,
            np.concatenate(pooled_features[name]) if audio else None,
            ref.held_nearest if name == "real" else distances[name],
        )
    results["nearest_training_distance"] = {name: d.tolist() for name, d in distances.items()}
    results["nearest_training_distance"]["held_out"] = ref.held_nearest.tolist()
    return results


COLUMNS = [
    ("precision", "precision"),
    ("recall", "recall"),
    ("density", "density"),
    ("coverage", "coverage"),
    ("ndb", "NDB/K"),
    ("frechet", "FD"),
    ("memorisation", "memorised"),
    ("duplicate_rate", "dup"),
    ("diversity", "diversity"),
    ("category_fidelity", "cat. fidelity"),
    ("in_octaves", "in octaves"),
    ("silent_rate", "silent"),
    ("harsh_rate", "harsh"),
    ("audio_diversity", "audio div."),
    ("audio_frechet", "audio FD"),
]


def markdown(results: dict) -> str:
    def table(rows: dict) -> list[str]:
        head = "| reference | " + " | ".join(label for _, label in COLUMNS) + " |"
        lines = [head, "|" + " --- |" * (len(COLUMNS) + 1)]
        for name, m in rows.items():
            cells = [f"{m[k]:.3f}" if isinstance(m.get(k), float) else "" for k, _ in COLUMNS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return lines

    out = [
        "# DeepDX evaluation",
        "",
        "Against the held-out real voices; features: normalised parameters "
        "(PRDC k=5, NDB over 20 k-means bins, FD) and rendered audio (dexed-py, C4).",
        "",
        "## Overall",
        "",
    ]
    out += table(results["overall"])
    for g, rows in results["groups"].items():
        out += ["", f"## Group {g}", ""] + table(rows)
    return "\n".join(out) + "\n"


def plots(results: dict, categories: list[str], out) -> None:
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    distances = results["nearest_training_distance"]
    top = max(np.quantile(v, 0.99) for v in distances.values())
    for name, values in distances.items():
        ax.hist(values, bins=60, range=(0, top), histtype="step", label=name, linewidth=1.5)
    ax.set_xlabel("distance to the nearest training voice (normalised parameters)")
    ax.set_ylabel("voices")
    ax.set_title("how far each set lies from the training voices")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "nearest_training_distance.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.4
    for i, name in enumerate(("real", "cgan")):
        by_cat = results["overall"][name].get("diversity_by_category", {})
        values = [by_cat.get(str(c), np.nan) for c in range(len(categories))]
        ax.bar(np.arange(len(categories)) + (i - 0.5) * width, values, width, label=name)
    ax.set_xticks(range(len(categories)), categories)
    ax.set_ylabel("mean pairwise distance")
    ax.set_title("diversity per category")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "diversity_by_category.png", dpi=110)
    plt.close(fig)
