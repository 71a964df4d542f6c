"""Generation: requested category -> routed model and algorithm -> valid, new, named voices -> banks.

For each voice the routing statistics recorded at split time choose the group (model) and
the algorithm inside it (``routing: sample`` draws from P(group | category) and
P(algorithm | group, category); ``argmax`` always takes the most likely).  Grids decode to
valid parameters (rounded, clamped).  A voice identical (145 sound parameters) to a training
voice or to one generated earlier in the run is drawn again.  An optional repair pass
renders each voice with dexed-py and, when it is silent or shrieks, tries switching single
operators between fixed and ratio frequency (the seed author's manual fix).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .audio import Renderer, rms, spectral_centroid, subaudio_share
from .corpus.encoding import decode, with_names
from .corpus.table import read_table
from .dx7.algorithms import carriers
from .dx7.packing import encode_name, names as voice_names, sound_keys
from .dx7.params import BANK_VOICES, INDEX, N_SOUND_PARAMS, op_index
from .dx7.sysex import check_bank, write_bank
from .models.train import load_generator
from .errors import DeepDXError


@dataclass
class Models:
    generators: list  # (Generator, state) per group
    routing: dict

    @property
    def categories(self) -> list[str]:
        return self.routing["categories"]


def load_models(models_dir: str | Path, routing_path: str | Path) -> Models:
    routing_path, models_dir = Path(routing_path), Path(models_dir)
    if not routing_path.exists():
        raise DeepDXError(f"no routing statistics at {routing_path}: run `dvc repro split` first")
    routing = json.loads(routing_path.read_text())
    generators = []
    for g in range(len(routing["groups"])):
        path = models_dir / f"group{g}" / "generator.pt"
        if not path.exists():
            raise DeepDXError(f"no trained model for group {g} at {path}: run `dvc repro` (or pass --models DIR)")
        generators.append(load_generator(path))
    return Models(generators, routing)


def training_keys(split_dir: str | Path) -> set[bytes]:
    """Every real voice's sound (training and held-out alike): none may come out of generation."""
    keys: set[bytes] = set()
    for path in sorted(Path(split_dir).glob("group*.parquet")):
        keys.update(sound_keys(read_table(path)["params"]))
    return keys


@dataclass
class RepairConfig:
    enabled: bool = True
    # defaults from 2,000 real corpus voices rendered at C4: 0.35 % of them have an RMS below
    # 0.001, 1 % a spectral centroid above 11 kHz, about 0.2 % more than 95 % of their
    # energy below 20 Hz
    silence_rms: float = 0.001  # below: silent
    max_centroid_hz: float = 11000.0  # above: shrieking
    max_subaudio_share: float = 0.95  # above: the energy is below hearing (operators at a few Hz)


def audio_problem(audio: np.ndarray, sample_rate: int, cfg: RepairConfig) -> str:
    level = float(rms(audio)[0])
    if level < cfg.silence_rms:
        return "silent"
    centroid = float(spectral_centroid(audio, sample_rate)[0])
    if centroid > cfg.max_centroid_hz:
        return f"shrill (spectral centroid {centroid:.0f} Hz)"
    low = float(subaudio_share(audio, sample_rate)[0])
    if low > cfg.max_subaudio_share:
        return f"inaudible ({100 * low:.0f} % of the energy below 20 Hz)"
    return ""


def repair(voice: np.ndarray, renderer: Renderer, cfg: RepairConfig) -> tuple[np.ndarray, str, str]:
    """(voice, problem found or "", fix applied or ""): flips one operator's fixed/ratio mode."""
    sr = renderer.settings.sample_rate
    problem = audio_problem(renderer.render(voice), sr, cfg)
    if not problem:
        return voice, "", ""
    alg = int(voice[INDEX["algorithm"]]) + 1
    ops = sorted(range(1, 7), key=lambda op: (voice[op_index(op, "osc_mode")] == 0, op not in carriers(alg), op))
    for op in ops:  # fixed-frequency operators first, carriers before modulators
        col = op_index(op, "osc_mode")
        trial = voice.copy()
        trial[col] = 1 - trial[col]
        if not audio_problem(renderer.render(trial), sr, cfg):
            return trial, problem, f"OP{op} {'fixed->ratio' if voice[col] else 'ratio->fixed'}"
    return voice, problem, ""


def sample_group(models: Models, g: int, category: np.ndarray, rng: np.random.Generator,
                 torch_rng: torch.Generator, routing: str = "sample") -> np.ndarray:
    """N x 145 voices from group g's generator for the given category indices, each given an
    algorithm of the group by P(algorithm | group, category) (uniform where a category never
    used the group)."""
    generator, state = models.generators[g]
    z = torch.randn(len(category), generator.cfg.latent, generator=torch_rng)
    with torch.no_grad():
        grid = generator(z, torch.as_tensor(category, dtype=torch.long)) * state["mask"]
    sound = decode(grid.numpy(), state["layout"])
    algorithms = np.array(models.routing["groups"][g])
    for c in np.unique(category):
        rows = np.flatnonzero(category == c)
        table = models.routing["p_algorithm"][str(g)][models.categories[c]]
        p = np.array([table[str(a)] for a in algorithms], float)
        p = p / p.sum() if p.sum() > 0 else np.full(len(algorithms), 1 / len(algorithms))
        pick = rng.choice(algorithms, len(rows), p=p) if routing == "sample" else np.full(len(rows), algorithms[p.argmax()])
        sound[rows, INDEX["algorithm"]] = pick - 1
    return sound


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
    resampled: int = 0


def generate(models: Models, category: str, count: int, seed: int, exclude: set[bytes],
             routing: str = "sample", renderer: Renderer | None = None, repair_cfg: RepairConfig | None = None,
             name_start: int = 1, max_rounds: int = 50) -> Generated:
    """``count`` new voices of ``category``; their sound keys are added to ``exclude``."""
    if category not in models.categories:
        raise DeepDXError(f"unknown category {category!r}; choose one of {', '.join(models.categories)}")
    if routing not in ("sample", "argmax"):
        raise DeepDXError(f"routing must be sample or argmax, got {routing!r}")
    c = models.categories.index(category)
    rng = np.random.default_rng(seed)
    torch_rng = torch.Generator().manual_seed(seed)
    p_group = np.asarray(models.routing["p_group"][category], dtype=float)
    if p_group.sum() <= 0:
        p_group = np.ones(len(p_group))
    p_group = p_group / p_group.sum()
    sound, groups, algs, resampled = [], [], [], 0
    for _ in range(max_rounds):
        need = count - len(sound)
        if need <= 0:
            break
        chosen = rng.choice(len(p_group), need, p=p_group) if routing == "sample" else np.full(need, p_group.argmax())
        for g in np.unique(chosen):
            batch = sample_group(models, int(g), np.full(int((chosen == g).sum()), c), rng, torch_rng, routing)
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
    result = Generated(params, np.array(groups[:count]), np.array(algs[:count]), resampled=resampled)
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


def write_banks(paths: list[Path], params: np.ndarray) -> None:
    """Write ``len(paths)`` banks of 32 and read each back through the project's validator."""
    for b, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bank(path, params[b * BANK_VOICES:(b + 1) * BANK_VOICES])
        problems = check_bank(path.read_bytes())
        if problems:  # the writer validates first, so this would be a bug: stop loudly
            raise AssertionError(f"{path} fails validation: {problems}")


def generate_run(models: Models, requests: list[tuple[str, int]], seed: int, out_dir: str | Path,
                 exclude: set[bytes], routing: str = "sample", repair_cfg: RepairConfig | None = None,
                 previews: bool = True, renderer: Renderer | None = None, progress: bool = True) -> tuple[list[dict], dict]:
    """Write one or more banks per (category, voices) request; returns (manifest rows, report).

    Banks are named ``<category>_<n>.syx``; voices are rounded up to whole banks of 32 and
    repeated categories are merged into one request.
    """
    from tqdm import tqdm

    from .audio import write_wav

    merged: dict[str, int] = {}
    for category, voices in requests:
        merged[category] = merged.get(category, 0) + voices
    requests = list(merged.items())
    out = Path(out_dir)
    renderer = renderer or (Renderer() if previews or (repair_cfg and repair_cfg.enabled) else None)
    rows, counts = [], {"voices": 0, "banks": 0, "resampled_duplicates": 0, "repaired": 0, "unrepaired_problems": 0}
    for r, (category, voices) in enumerate(tqdm(requests, desc="generate", unit="category", disable=not progress)):
        n_banks = max(1, -(-voices // BANK_VOICES))
        made = generate(models, category, n_banks * BANK_VOICES, seed * 1000 + r, exclude, routing, renderer,
                        repair_cfg)
        counts["resampled_duplicates"] += made.resampled
        write_banks([out / "banks" / f"{category}_{b + 1}.syx" for b in range(n_banks)], made.params)
        names = voice_names(made.params)
        for b in range(n_banks):
            bank = f"{category}_{b + 1}"
            sl = slice(b * BANK_VOICES, (b + 1) * BANK_VOICES)
            if previews:  # each voice normalised to the same peak, so quiet voices can be heard too
                audio = renderer.render_all(made.params[sl])
                audio = audio / np.maximum(np.abs(audio).max(axis=1, keepdims=True), 1e-6) * 0.9
            for i in range(BANK_VOICES):
                k = b * BANK_VOICES + i
                name = names[k]
                row = dict(bank=f"banks/{bank}.syx", slot=i + 1, name=name.strip(), category=category,
                           group=int(made.group[k]), algorithm=int(made.algorithm[k]),
                           model=f"group{made.group[k]}/generator.pt", seed=seed * 1000 + r,
                           problem=made.problem[k], repair=made.fix[k])
                if previews:
                    wav = f"previews/{bank}/{i + 1:02d}_{name.strip().replace(' ', '_')}.wav"
                    write_wav(out / wav, audio[i], renderer.settings.sample_rate)
                    row["preview"] = wav
                rows.append(row)
            if previews:
                write_wav(out / "previews" / f"{bank}.wav", audio.ravel(), renderer.settings.sample_rate)
            counts["banks"] += 1
        counts["voices"] += n_banks * BANK_VOICES
        counts["repaired"] += sum(1 for f in made.fix if f)
        counts["unrepaired_problems"] += sum(1 for p, f in zip(made.problem, made.fix) if p and not f)
    report = {**counts, "routing": routing, "repair": bool(repair_cfg and repair_cfg.enabled),
              "problems_found": sum(1 for row in rows if row["problem"])}
    return rows, report
