"""What every stage script in pipeline/ shares: a typed, validated config and clean failures.

    @hydra.main(version_base="1.3", config_path="../conf", config_name="config")
    @stage
    def main(cfg: Config) -> None: ...

Hydra composes ``conf/`` (by hand) or reads ``params.yaml`` (under DVC); :func:`stage` turns
that into a :class:`deepdx.config.Config`, so an unknown key, a wrong type or an invalid
choice stops the stage with one line.  Bad input (:class:`DeepDXError`, a missing file)
gives one line on stderr and exit status 2 (in a multirun, the job fails and the sweep goes
on); anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import functools
import sys

from . import config
from .errors import DeepDXError
from .reproducible import unpinned

__all__ = ["DeepDXError", "stage"]
config.register()  # before @hydra.main composes conf/config.yaml, which starts from the schema


def stage(fn):
    @functools.wraps(fn)
    def wrapper(cfg, *args, **kwargs):
        for library in unpinned():
            print(f"warning: {library} is not pinned to its AVX2 code path; results may differ by machine",
                  file=sys.stderr)
        try:
            return fn(config.load(cfg), *args, **kwargs)
        except (DeepDXError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            if in_sweep():  # Hydra marks this job failed and runs the others; an exit would end them all
                raise
            raise SystemExit(2) from None

    return wrapper


def in_sweep() -> bool:
    """Whether this is one job of a Hydra multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
