"""What every stage script in pipeline/ shares: a typed, validated config and clean failures.

    @hydra.main(version_base="1.3", config_path="../conf", config_name="config")
    @stage
    def main(cfg: Config) -> None: ...

Hydra composes ``conf/`` (by hand) or reads ``params.yaml`` (under DVC); :func:`stage` turns
that into a :class:`deepdx.config.Config`, so an unknown key, a wrong type or an invalid
choice stops the stage with one line.  Bad input (:class:`DeepDXError`, a missing file)
gives one line on stderr and exit status 2 (in a multirun, the job fails and the sweep goes
on); anything else is a bug and keeps its traceback.

The config records every key the stage reads (:mod:`deepdx.config_reads`); a stage that
read a key its dvc.yaml entry does not list as a param fails after its run, naming the key,
for DVC would not rerun it when that key changes.  With ``DEEPDX_PARAMS_READ`` set to a
folder, each stage also writes the keys it read there, as ``<stage>.json`` (the tests).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from pathlib import Path

from . import config, config_reads
from .errors import DeepDXError

__all__ = ["DeepDXError", "stage"]
config.register()  # before @hydra.main composes conf/config.yaml, which starts from the schema


def stage(fn):
    @functools.wraps(fn)
    def wrapper(cfg, *args, **kwargs):
        name = Path(inspect.getfile(fn)).stem
        try:
            config_reads.start()
            result = fn(config.load(cfg), *args, **kwargs)
            check_params_read(name)
            return result
        except (DeepDXError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            if in_sweep():  # Hydra marks this job failed and runs the others; an exit would end them all
                raise
            raise SystemExit(2) from None

    return wrapper


def check_params_read(name: str) -> None:
    """Fail when stage ``name`` read a key that dvc.yaml does not list among its params."""
    read = config_reads.read()
    if folder := os.environ.get("DEEPDX_PARAMS_READ"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        Path(folder, f"{name}.json").write_text(json.dumps(sorted(read), indent=1))
    missing = config_reads.unlisted(name, read, config.ROOT / "dvc.yaml")
    if missing:
        raise DeepDXError(
            f"stage {name} read config keys that dvc.yaml does not list as its params, so DVC "
            f"would not rerun it when they change: {', '.join(missing)} (add them to stages.{name}.params)"
        )


def in_sweep() -> bool:
    """Whether this is one job of a Hydra multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
