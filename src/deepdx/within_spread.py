"""A fresh run's figures against the committed ones: ``python -m deepdx.within_spread [REPO] [--against REV]``.

Training gives other bits on another kind of machine (docs/reproducibility.md), so a fresh
clone's ``dvc repro`` there is another draw of the same method, not the committed run byte
for byte.  This checks that it is one:

* the held-out figures of the voices as the banks are made (``metrics/evaluate.json``, sets
  ``cgan`` and ``cgan_repaired``, all groups pooled) each
  within :data:`TOLERANCE` of the committed run's: twice the largest difference measured
  between two draws of the default method (two machine kinds, two code paths);
* every figure that training does not touch equal to the committed one (to 1e-6, relative):
  the data stages' reports, and the real voices' and the baselines' figures, every group;
* not compared: the figures of single groups and of the draws without the critic
  (``cgan_unchecked``), which spread wider, and the critic and generate reports.

Each figure out of bounds is one line; exit status 1 when any, 0 when none, 2 when a file is
missing.  ``--against`` names the committed revision (default ``HEAD``).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

# how far the banks' figures of two draws of the default method may lie apart (absolute): twice
# the largest difference of three measured pairs, rounded up (docs/reproducibility.md#across-machines)
TOLERANCE = {
    "precision": 0.015,
    "recall": 0.03,
    "density": 0.12,
    "coverage": 0.025,
    "ndb": 0.2,
    "frechet": 0.035,
    "category_fidelity": 0.025,
    "in_octaves": 0.025,
    "diversity": 0.035,
    "audio_frechet": 0.2,
    "audio_diversity": 0.13,
    "harsh_rate": 0.005,  # rates: at least half a point
    "silent_rate": 0.005,
    "memorisation": 0.005,
    "duplicate_rate": 0.005,
}
GENERATED = ("cgan", "cgan_unchecked", "cgan_repaired")  # the evaluate stage's sets of generated voices
BANKS = ("cgan", "cgan_repaired")  # those the banks are made as (the critic's draws), compared by TOLERANCE
EXACT = ("ingest", "dedupe", "categorize", "split")  # reports of the stages before training
RELATIVE = 1e-6


def numbers(tree, prefix: str = "") -> dict[str, float]:
    """Every number in a JSON tree, by its dotted path."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in numbers(sub, f"{prefix}{key}.").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree) for k, v in numbers(sub, f"{prefix}{i}.").items()}
    if isinstance(tree, (int, float)) and not isinstance(tree, bool):
        return {prefix.rstrip("."): float(tree)}
    return {}


def _equal(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))


def compare(fresh: dict[str, dict], committed: dict[str, dict]) -> tuple[list[str], int]:
    """The figures of ``fresh`` out of bounds of ``committed`` (each a dict of report name ->
    parsed JSON), and how many figures were compared."""
    found, checked = [], 0

    def against(name: str, a: dict, b: dict, tolerance: dict | None) -> None:
        nonlocal checked
        x, y = numbers(a), numbers(b)
        for key in sorted(set(x) | set(y)):
            if tolerance is not None and key.rsplit(".", 1)[-1] not in tolerance:
                continue
            if key not in x or key not in y:
                found.append(f"{name}: {key} only in the {'fresh' if key in x else 'committed'} run")
                continue
            checked += 1
            if tolerance is None:
                if not _equal(x[key], y[key]):
                    found.append(f"{name}: {key} is {x[key]:.6g}, committed {y[key]:.6g} (must be equal)")
            elif not abs(x[key] - y[key]) <= tolerance[key.rsplit(".", 1)[-1]]:
                bound = tolerance[key.rsplit(".", 1)[-1]]
                found.append(f"{name}: {key} is {x[key]:.4f}, committed {y[key]:.4f}: differs by more than {bound}")

    for name in EXACT:
        against(name, fresh[name], committed[name], None)
    new, old = fresh["evaluate"], committed["evaluate"]
    for where in ("overall", *sorted(set(old.get("groups", {})) | set(new.get("groups", {})))):
        a = new["overall"] if where == "overall" else new.get("groups", {}).get(where, {})
        b = old["overall"] if where == "overall" else old.get("groups", {}).get(where, {})
        for s in sorted(set(a) | set(b)):
            label = f"evaluate {where} {s}"
            if s in GENERATED:
                # one group's figures, and the draws without the critic, spread wider: not compared
                if where == "overall" and s in BANKS:
                    against(label, a.get(s, {}), b.get(s, {}), TOLERANCE)
            else:
                against(label, a.get(s, {}), b.get(s, {}), None)
    return found, checked


def committed_reports(repo: Path, rev: str) -> dict[str, dict]:
    out = {}
    for name in (*EXACT, "evaluate"):
        shown = subprocess.run(
            ["git", "-C", str(repo), "show", f"{rev}:metrics/{name}.json"], capture_output=True, text=True
        )
        if shown.returncode:
            raise FileNotFoundError(f"metrics/{name}.json at {rev}: {shown.stderr.strip()}")
        out[name] = json.loads(shown.stdout)
    return out


def fresh_reports(repo: Path) -> dict[str, dict]:
    return {name: json.loads((repo / "metrics" / f"{name}.json").read_text()) for name in (*EXACT, "evaluate")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m deepdx.within_spread", description=__doc__.split("\n\n")[0])
    p.add_argument("repo", nargs="?", default=".", help="the repository of the fresh run (default: here)")
    p.add_argument("--against", default="HEAD", help="the committed revision to compare with (default HEAD)")
    args = p.parse_args(argv)
    repo = Path(args.repo).resolve()
    try:
        found, checked = compare(fresh_reports(repo), committed_reports(repo, args.against))
    except (FileNotFoundError, json.JSONDecodeError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in found:
        print(f"within_spread: {line}", file=sys.stderr)
    verdict = f"{len(found)} of {checked} figures out of bounds" if found else f"all {checked} figures within bounds"
    print(f"within_spread: {repo} against {args.against}: {verdict}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
