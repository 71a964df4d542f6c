"""The bank browser, built: banks in, ``index.html`` and its ``audio/`` folder out.

Each bank is read with :func:`deepdx.dx7.sysex.scan` (which never raises): a file that holds
no readable voice becomes an error on its section of the page, one that is readable but not
a clean bank a warning above its voices.  A generate run's manifest, when given, adds each
voice's category, group and repair notes, and its preview, which is linked (or copied) into
``audio/``; a preview the manifest names but the disk lacks is said on the voice's card.
Voices without a manifest row are rendered here, as are their nearest training voices, with
the settings and peak level generate's previews use (:func:`deepdx.audio.render.normalised`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.render import RenderSettings, normalised
from ..audio.wav import write_wav
from ..corpus.table import read_table
from ..distances import normalise, pairwise
from ..dx7.packing import names
from ..dx7.params import INDEX, N_SOUND_PARAMS
from ..dx7.sysex import check_bank, scan
from ..errors import DeepDXError
from ..files import replacing
from .page import Bank, GroupRun, Nearest, Sound, Voice, evaluation_section, page

TITLE = "DeepDX bank browser"


def read_bank(path: Path) -> tuple[np.ndarray | None, str, list[str]]:
    """(N x 155 voices or None, why none, problems that keep it from being a clean bank)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"cannot read the file ({exc.strerror or exc})", []
    result = scan(data)
    blocks = [b for b in result.blocks if b.decoded is not None]
    if result.error or not blocks:
        return None, result.error or "; ".join(b.problem for b in result.blocks), []
    return np.concatenate([b.decoded.params for b in blocks]), "", check_bank(data)


def read_manifest(path: Path) -> dict[tuple[str, int], dict]:
    """(bank file name, slot) -> the manifest row of a generate run."""
    try:
        with open(path, newline="") as f:
            return {(Path(row["bank"]).name, int(row["slot"])): row for row in csv.DictReader(f)}
    except (KeyError, ValueError, TypeError, UnicodeDecodeError, csv.Error) as exc:
        raise DeepDXError(f"{path}: not a generate manifest with bank and slot columns ({exc!r})") from None


@dataclass
class Training:
    params: np.ndarray  # N x 155
    points: np.ndarray  # N x 145, normalised
    names: list[str]
    categories: list[str]


def load_training(folder: Path) -> Training:
    """Every training voice under ``folder`` (the split stage's ``group*.parquet`` files, or one
    such file)."""
    files = [folder] if folder.is_file() else sorted(folder.glob("group*.parquet"))
    try:
        tables = [read_table(f) for f in files]
    except (OSError, ValueError) as exc:  # pyarrow's errors for a file that is not Parquet
        raise DeepDXError(f"{folder}: unreadable training voices ({exc})") from None
    tables = [t for t in tables if len(t.get("params", ()))]
    if not tables:
        raise DeepDXError(f"{folder}: no training voices (group*.parquet files of the split stage)")
    params = np.concatenate([t["params"] for t in tables])
    categories = [c for t in tables for c in (t["category_name"] if "category_name" in t else [""] * len(t["params"]))]
    return Training(params, normalise(params), names(params), [str(c) for c in categories])


class Audio:
    """WAV files under ``<out>/audio``: placed from elsewhere, or rendered (dexed-py, loaded on first use)."""

    def __init__(self, out: Path):
        self.out, self._renderer = out, None

    def render(self, voice: np.ndarray, rel: str) -> Sound:
        if self._renderer is None:
            from ..audio.render import Renderer

            self._renderer = Renderer()
        try:
            audio = self._renderer.render(voice)
        except Exception as exc:  # the engine's own failure, on any voice: said on the card
            return Sound(problem=f"could not render this voice ({exc})")
        write_wav(self.out / rel, normalised(audio), self._renderer.settings.sample_rate)
        return Sound(rel)

    def place(self, source: Path, rel: str) -> Sound:
        """A hard link to ``source`` (a copy across file systems)."""
        target = self.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            with replacing(target) as partial:
                shutil.copyfile(source, partial)
        return Sound(rel)


def _voices(
    bank: Path, params: np.ndarray, label: str, manifest: dict, manifest_dir: Path, audio: Audio
) -> list[Voice]:
    voices = []
    for i, (name, row) in enumerate(zip(names(params), params)):
        slot, wav = i + 1, f"audio/{label}/{i + 1:02d}.wav"
        entry = manifest.get((bank.name, slot))
        if entry and entry.get("name", "").strip() != name.strip():
            entry = None  # a stale manifest: its row is another voice
        entry = entry or {}
        preview = entry.get("preview")
        if preview:
            source = manifest_dir / preview
            sound = audio.place(source, wav) if source.is_file() else Sound(problem=f"preview missing: {source}")
        else:
            sound = audio.render(row, wav)
        note = "; ".join(f"{k}: {entry[k]}" for k in ("problem", "repair") if entry.get(k))
        voices.append(
            Voice(
                slot,
                name,
                int(row[INDEX["algorithm"]]) + 1,
                row,
                sound,
                entry.get("category", ""),
                entry.get("group", ""),
                note,
            )
        )
    return voices


def _nearest(voices: list[Voice], training: Training, audio: Audio) -> None:
    d = pairwise(normalise(np.stack([v.params for v in voices])), training.points)
    for i, (v, j) in enumerate(zip(voices, d.argmin(1))):
        key = hashlib.sha1(training.params[j, :N_SOUND_PARAMS].tobytes()).hexdigest()[:12]  # one file per sound
        rel = f"audio/training/{key}.wav"
        sound = Sound(rel) if (audio.out / rel).is_file() else audio.render(training.params[j], rel)
        v.nearest = Nearest(training.names[j], training.categories[j], float(d[i, j]), sound)


def _runs(models: Path, mlflow_ui: str) -> list[GroupRun]:
    """Each trained group's algorithms and MLflow run (from its summary.json; an unreadable one
    gives a group without a run)."""
    runs = []
    found = [p for p in models.glob("group*/summary.json") if p.parent.name[5:].isdigit()]
    for path in sorted(found, key=lambda p: int(p.parent.name[5:])):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            summary = None
        summary = summary if isinstance(summary, dict) else {}
        run_id, algorithms = summary.get("mlflow_run_id"), summary.get("algorithms")
        algorithms = [a for a in algorithms if isinstance(a, int)] if isinstance(algorithms, list) else []
        runs.append(
            GroupRun(path.parent.name[5:], algorithms, f"{mlflow_ui.rstrip('/')}/#/runs/{run_id}" if run_id else "")
        )
    return runs


def _metrics(path: Path | None) -> tuple[dict | None, str]:
    if path is None or not path.is_file():
        return None, f"No evaluation yet ({path or 'no metrics file given'}: the evaluate stage writes it)."
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"The evaluation at {path} cannot be read ({exc})."
    groups = data.get("groups", {}) if isinstance(data, dict) else None
    tables = [data.get("overall", {}), *groups.values()] if isinstance(groups, dict) else [None]
    if not all(isinstance(t, dict) and all(isinstance(r, dict) for r in t.values()) for t in tables) or not all(
        str(g).isdigit() for g in groups
    ):
        return None, f"{path} does not hold the evaluate stage's figures (overall and groups, per reference)."
    return data, ""


def build(
    out: str | Path,
    banks: list[str | Path],
    manifest: str | Path | None = None,
    training: str | Path | None = None,
    metrics: str | Path | None = None,
    models: str | Path | None = None,
    mlflow_ui: str = "http://127.0.0.1:5000",
) -> dict:
    """Write ``<out>/index.html`` and ``<out>/audio/``; returns counts (banks, voices, unreadable
    banks by path, missing previews)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    audio = Audio(out)
    rows = read_manifest(Path(manifest)) if manifest and Path(manifest).is_file() else {}
    known = load_training(Path(training)) if training else None
    shown: list[Bank] = []
    for i, path in enumerate(map(Path, banks)):
        label = f"{i + 1:02d}_{''.join(c if c.isalnum() or c in '-_' else '_' for c in path.stem)}"
        params, error, problems = read_bank(path)
        bank = Bank(path.stem, str(path), error=error, problems=problems)
        if params is not None:
            bank.voices = _voices(path, params, label, rows, Path(manifest or ".").parent, audio)
            if known is not None:
                _nearest(bank.voices, known, audio)
        shown.append(bank)
    evaluation = ""
    if metrics or models:
        data, missing = _metrics(Path(metrics) if metrics else None)
        evaluation = evaluation_section(data, _runs(Path(models), mlflow_ui) if models else [], mlflow_ui, missing)
    s = RenderSettings()
    intro = (
        f"{len(shown)} banks, {sum(len(b.voices) for b in shown)} voices. Each player: MIDI note {s.note}, "
        f"velocity {s.velocity}, held {s.hold:g} s of {s.length:g} s, rendered with dexed-py and normalised."
    )
    with replacing(out / "index.html") as partial:
        partial.write_text(page(TITLE, shown, evaluation, intro))
    return {
        "banks": len(shown),
        "voices": sum(len(b.voices) for b in shown),
        "unreadable": {b.path: b.error for b in shown if b.error},
        "missing_previews": sum(1 for b in shown for v in b.voices if v.sound.problem),
    }
