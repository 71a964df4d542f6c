"""Glue shared by the stage scripts in pipeline/: config loading and clean failures."""
from __future__ import annotations

import functools
import logging
import sys

log = logging.getLogger("deepdx")


class DeepDXError(Exception):
    """Bad input or configuration: reported in one line, exit status 2."""


def clean_exit(fn):
    """Turn expected failures (bad input, bad config) into one line and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (DeepDXError, FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
