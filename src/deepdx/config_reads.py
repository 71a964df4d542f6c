"""Which configuration keys a stage reads, so that dvc.yaml can be checked against them.

DVC reruns a stage when one of its listed params changes; a key the stage reads but does
not list is a stale result waiting to happen.  Every section of :class:`deepdx.config.Config`
is a :class:`Section`: once :func:`key` has named the sections of a loaded config, reading a
leaf value (``cfg.generate.critic.realism``, however deep in library code the section was
handed down) notes its dotted key.  :func:`deepdx.stage.stage` starts the record, runs the
stage and calls :func:`unlisted` against the stage's ``params`` in dvc.yaml: a key read and
not listed stops the stage with its name.

Keys that change how a stage runs but none of its outputs are never params (``NOT_PARAMS``):
paths (DVC sees them as deps and outs), MLflow's address, progress bars, parallel jobs,
checkpoint timing.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from pathlib import Path

NOT_PARAMS = ("data", "mlflow", "train.progress_bar", "train.jobs", "train.checkpoint_every")

_read: set[str] = set()
_KEY = "_config_key"  # the section's dotted key, in its __dict__ ("" for the root)


class Section:
    """A config dataclass whose leaf reads are noted once it is keyed."""

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if not name.startswith("_") and not is_dataclass(value):
            prefix = object.__getattribute__(self, "__dict__").get(_KEY)
            if prefix is not None and name in _field_names(type(self)):
                _read.add(f"{prefix}{name}")
        return value


_names: dict[type, frozenset[str]] = {}


def _field_names(cls: type) -> frozenset[str]:
    if cls not in _names:
        _names[cls] = frozenset(f.name for f in fields(cls))
    return _names[cls]


def key(section, prefix: str = ""):
    """Name ``section`` and every section under it by its dotted key (returns ``section``)."""
    object.__getattribute__(section, "__dict__")[_KEY] = prefix
    for f in fields(section):
        value = object.__getattribute__(section, f.name)
        if is_dataclass(value):
            key(value, f"{prefix}{f.name}.")
    return section


def start() -> None:
    _read.clear()


def read() -> set[str]:
    """The keys read since :func:`start` (in this process; see :func:`note` for others)."""
    return set(_read)


def note(keys) -> None:
    """Add keys read elsewhere (a worker process's :func:`read`)."""
    _read.update(keys)


def covered(read_key: str, listed: list[str]) -> bool:
    return any(read_key == p or read_key.startswith(p + ".") for p in listed)


def stage_params(stage: str, dvc_yaml: Path) -> list[str] | None:
    """The param keys dvc.yaml lists for ``stage`` (None: no such stage or file)."""
    import yaml

    if not dvc_yaml.is_file():
        return None
    body = (yaml.safe_load(dvc_yaml.read_text()).get("stages") or {}).get(stage)
    if body is None:
        return None
    listed: list[str] = []
    for p in body.get("params", []):
        listed.extend([p] if isinstance(p, str) else [k for keys in p.values() for k in keys])
    return listed


def unlisted(stage: str, keys: set[str], dvc_yaml: Path) -> list[str]:
    """The keys of ``keys`` that ``stage`` does not list as params in ``dvc_yaml`` (and that
    change outputs); [] when dvc.yaml has no such stage."""
    listed = stage_params(stage, dvc_yaml)
    if listed is None:
        return []
    return sorted(k for k in keys if not covered(k, listed) and not covered(k, list(NOT_PARAMS)))
