"""Where the split stage's files live: the one place that knows the layout (light to import:
the command line's generate path reads it)."""

from __future__ import annotations

from pathlib import Path


def group_path(split_dir: str | Path, split: str, group: int) -> Path:
    """Where one split of one group lives."""
    return Path(split_dir) / split / f"group{group}.parquet"


def known_path(split_dir: str | Path) -> Path:
    """The sounds (145 parameters) of every training and validation voice, which no generated
    voice may repeat: written once by the split stage, read by every novelty check."""
    return Path(split_dir) / "known_sounds.npy"
