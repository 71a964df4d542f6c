"""What a sweep job needs to name itself: the keys its sweep varies and its values of them.
(Imported by pipeline/train.py; the report, :mod:`.report`, reads the same overrides back.)"""

from __future__ import annotations

import json
from pathlib import Path


def _parse(items: list[str]) -> list:
    """Hydra's own reading of overrides (quotes, sweeps, ``+``/``~`` prefixes)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(list(items))


def _key(override) -> str:
    return override.get_key_element().lstrip("+~")


def overrides(items: list[str]) -> dict[str, str]:
    """A job's overrides as {key: value text}:
    ['model=seed', "+note='a b'", 'seed=1'] -> {'model': 'seed', 'note': "'a b'", 'seed': '1'}."""
    return {_key(o): o.input_line.partition("=")[2] for o in _parse(items)}


def tag(items: list[str]) -> str:
    """A job's overrides as its MLflow run's ``overrides`` tag (a JSON list: values may hold spaces)."""
    return json.dumps(list(items))


def untag(text: str) -> list[str]:
    """The list back from an ``overrides`` tag (runs of earlier versions joined it with spaces)."""
    return json.loads(text) if text.startswith("[") else text.split()


def swept_keys(sweep_dir: str | Path, sweeper_params: dict | None = None) -> set[str]:
    """The keys a sweep varies: those of its sweeper's ``params`` (Optuna's search space) and
    the sweep overrides (``a=1,2``, ``range(...)``...) it was launched with (``multirun.yaml``,
    which the basic sweeper writes into its folder before the jobs start)."""
    from omegaconf import OmegaConf

    keys = set(sweeper_params or {})
    launched = Path(sweep_dir) / "multirun.yaml"
    if launched.exists():
        keys |= {_key(o) for o in _parse(OmegaConf.load(launched).hydra.overrides.task) if o.is_sweep_override()}
    return keys


def run_name(job_overrides: list[str], swept: set[str]) -> str:
    """A sweep job's MLflow run name: its values of the swept keys (numbers to 4 digits), e.g.
    ``model.kernel_size=3 model.layers=2 seed=1``; all its overrides when none is known."""
    parts = []
    for key, value in overrides(job_overrides).items():
        if swept and key not in swept and key != "model":  # the model config always: it names the design
            continue
        parts.append(f"{key}={short(value)}")
    return " ".join(parts)


def short(value: str) -> str:
    """A number with a fraction to 4 significant digits (a search's 0.0003332213575546234:
    0.0003332); anything else as it is."""
    try:
        return f"{float(value):.4g}" if "." in value or "e" in value.lower() else value
    except ValueError:
        return value
