"""What a finished `dvc repro` must have left, checked: `python -m deepdx.check_run [REPO]`.

A pipeline that exits 0 can still have written nothing useful.  This reads the run's
outputs as their users would: every trained group's generator loads, every bank decodes as
a valid 32-voice bulk dump and the generate stage's report counts them, the evaluation
measured every reference in every group with finite figures, and the browse page shows
every generated voice.  Each failure is one line; exit status 1 when any, 0 when none.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def problems(repo: Path) -> list[str]:
    """Every way ``repo``'s outputs fall short ([] when none), by params.yaml's paths."""
    import yaml

    from .dx7.params import BANK_VOICES
    from .dx7.sysex import check_bank
    from .evaluate.run import REFERENCES
    from .models.nets import load_generator

    params = yaml.safe_load((repo / "params.yaml").read_text())
    data, groups = params["data"], params["train"]["groups"]
    path = lambda key, *more: repo.joinpath(data[key], *more)
    found = []
    for g in groups:
        try:
            load_generator(path("models", f"group{g}", "generator.pt"))
        except Exception as exc:  # noqa: BLE001  a missing or unreadable file: reported, not raised
            found.append(f"group {g}: no usable generator ({exc})")
    banks = sorted(path("generated", "banks").glob("*.syx"))
    for bank in banks:
        if errors := check_bank(bank.read_bytes()):
            found.append(f"{bank.name}: not a valid bank ({errors[0]})")
    report = (
        json.loads(path("metrics", "generate.json").read_text()) if path("metrics", "generate.json").is_file() else {}
    )
    if not banks or report.get("banks") != len(banks):
        found.append(f"{len(banks)} banks written, the generate stage's report says {report.get('banks')}")
    evaluation = path("metrics", "evaluate.json")
    results = json.loads(evaluation.read_text()) if evaluation.is_file() else {"groups": {}}
    if set(results["groups"]) != {str(g) for g in groups}:
        found.append(f"evaluate.json covers groups {sorted(results['groups'])}, trained {groups}")
    for where, rows in [("overall", results.get("overall", {})), *results["groups"].items()]:
        if missing := [r for r in REFERENCES if r not in rows]:
            found.append(f"evaluate.json, {where}: no figures for {', '.join(missing)}")
        bad = [
            f"{r}.{k}"
            for r, row in rows.items()
            for k, v in row.items()
            if isinstance(v, float) and not math.isfinite(v)
        ]
        if bad:
            found.append(f"evaluate.json, {where}: not finite: {', '.join(bad[:5])}")
    page = path("browse", "index.html")
    shown = page.read_text().count('<article class="card voice">') if page.is_file() else 0
    if shown != len(banks) * BANK_VOICES:
        found.append(f"the browse page shows {shown} voices of {len(banks) * BANK_VOICES} generated")
    return found


def main(argv: list[str]) -> int:
    repo = Path(argv[0] if argv else ".").resolve()
    if not (repo / "params.yaml").is_file():
        print(f"error: {repo} has no params.yaml: give the repository of a run", file=sys.stderr)
        return 2
    found = problems(repo)
    for line in found:
        print(f"check_run: {line}", file=sys.stderr)
    if not found:
        print(
            f"check_run: {repo}: every generator loads, every bank is valid, every reference evaluated, "
            "every voice on the browse page"
        )
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
