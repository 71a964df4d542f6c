"""Glue shared by the stage scripts in pipeline/: config loading and clean failures."""
from __future__ import annotations

import functools
import logging
import sys

from .errors import DeepDXError

__all__ = ["DeepDXError", "clean_exit"]
log = logging.getLogger("deepdx")


def clean_exit(fn):
    """Turn expected failures (bad input, bad config, a missing file) into one line and exit 2;
    anything else is a bug and keeps its traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (DeepDXError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
