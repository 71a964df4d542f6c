"""Banks: generated voices written as 32-voice bulk dumps, validated, with a manifest and previews."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..audio.render import Renderer, normalised
from ..config import RepairConfig
from ..dx7.packing import names as voice_names
from ..dx7.params import BANK_VOICES
from ..dx7.sysex import check_bank, write_bank
from ..files import replacing
from .sample import Models, generate

MANIFEST_FIELDS = [
    "bank",
    "slot",
    "name",
    "category",
    "group",
    "algorithm",
    "model",
    "seed",
    "problem",
    "repair",
    "preview",
]


def write_banks(paths: list[Path], params: np.ndarray) -> None:
    """Write ``len(paths)`` banks of 32, each read back through the project's validator before
    it takes its name (a failed or interrupted write leaves no half bank)."""
    for b, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as partial:
            write_bank(partial, params[b * BANK_VOICES : (b + 1) * BANK_VOICES])
            problems = check_bank(partial.read_bytes())
            if problems:  # the writer validates first, so this would be a bug: stop loudly
                raise AssertionError(f"{path} fails validation: {problems}")


def generate_run(
    models: Models,
    requests: list[tuple[str, int]],
    seed: int,
    out_dir: str | Path,
    exclude: set[bytes],
    routing: str = "sample",
    repair_cfg: RepairConfig | None = None,
    previews: bool = True,
    renderer: Renderer | None = None,
    progress: bool = True,
    temperature: float | None = None,
    truncation: float | None = None,
) -> tuple[list[dict], dict]:
    """Write one or more banks per (category, voices) request; returns (manifest rows, report).

    Banks are named ``<category>_<n>.syx``; voices are rounded up to whole banks of 32 and
    repeated categories are merged into one request.
    """
    from ..audio.wav import write_wav  # scipy: for the previews alone, not the command line's one bank

    merged: dict[str, int] = {}
    for category, voices in requests:
        merged[category] = merged.get(category, 0) + voices
    requests = list(merged.items())
    out = Path(out_dir)
    renderer = renderer or (Renderer() if previews or (repair_cfg and repair_cfg.enabled) else None)
    rows, counts = (
        [],
        {
            "voices": 0,
            "banks": 0,
            "resampled_duplicates": 0,
            "critic_other_draw": 0,
            "repaired": 0,
            "unrepaired_problems": 0,
        },
    )
    for r, (category, voices) in enumerate(tqdm(requests, desc="generate", unit="category", disable=not progress)):
        n_banks = max(1, -(-voices // BANK_VOICES))
        made = generate(
            models,
            category,
            n_banks * BANK_VOICES,
            seed * 1000 + r,
            exclude,
            routing,
            renderer,
            repair_cfg,
            temperature=temperature,
            truncation=truncation,
        )
        counts["resampled_duplicates"] += made.resampled
        counts["critic_other_draw"] += made.other_draw
        write_banks([out / "banks" / f"{category}_{b + 1}.syx" for b in range(n_banks)], made.params)
        names = voice_names(made.params)
        for b in range(n_banks):
            bank = f"{category}_{b + 1}"
            sl = slice(b * BANK_VOICES, (b + 1) * BANK_VOICES)
            if previews:
                audio = normalised(renderer.render_all(made.params[sl]))
            for i in range(BANK_VOICES):
                k = b * BANK_VOICES + i
                name = names[k]
                row = dict(
                    bank=f"banks/{bank}.syx",
                    slot=i + 1,
                    name=name.strip(),
                    category=category,
                    group=int(made.group[k]),
                    algorithm=int(made.algorithm[k]),
                    model=f"group{made.group[k]}/generator.pt",
                    seed=seed * 1000 + r,
                    problem=made.problem[k],
                    repair=made.fix[k],
                )
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
    sampling = {
        str(g): m.sampling(temperature, truncation) for g, m in enumerate(models.generators)
    }  # None: calibrated
    report = {
        **counts,
        "routing": routing,
        "sampling": sampling,
        "critic_candidates": models.candidates if models.critics is not None else 1,
        "critic_strength": models.strength if models.critics is not None else None,
        "critic_warmer": models.warmer if models.critics is not None else None,
        "critic_screen": models.critics is not None and models.screen is not None,
        "repair": bool(repair_cfg and repair_cfg.enabled),
        "problems_found": sum(1 for row in rows if row["problem"]),
    }
    return rows, report
