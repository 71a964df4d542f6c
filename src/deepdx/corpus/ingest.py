"""Ingest: every file under the configured sources becomes accepted voices or reported rejections.

The accounting invariant, checked before anything is written:
``voices in == accepted + rejected``, where "voices in" counts every voice slot that a
file declares (32 for a bulk dump, even a truncated one).  Files that hold no voice
slot at all (not DX7 data, wrong extension) are listed in the file report with the
reason.

Hostile collections are expected: a file larger than ``ingest.max_file_mb`` is listed, not
read; a file's first ``ingest.listed_rejections`` rejections are listed one per voice and
the rest one row per reason with their ``count``; symlinks that lead nowhere, FIFOs and
folders that cannot be listed are listed with the reason (a FIFO is never opened in a way
that blocks); a path that is not valid UTF-8 is kept losslessly with ``\\xNN`` escapes
(:func:`path_label`, :func:`label_bytes`).
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import IngestConfig
from ..dx7.packing import names
from ..dx7.params import VOICE_SIZE
from ..dx7.sysex import Block, scan
from ..dx7.validate import POLICIES, apply_policy
from .table import Table


@dataclass
class IngestResult:
    table: Table  # accepted voices
    rejected: list[dict]  # one row per rejected voice: source, index, offset, name, reason
    files: list[dict]  # one row per file found under the sources
    report: dict  # summary counts (the stage's metrics)


def path_label(path: str | Path) -> str:
    """A path as text, losslessly: bytes that are not UTF-8 become ``\\xNN`` and a backslash
    ``\\\\`` (so a label can be written to parquet and CSV, and read back by :func:`label_bytes`)."""
    return os.fsencode(path).replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def label_bytes(label: str) -> bytes:
    """The path bytes a :func:`path_label` stands for."""
    return re.sub(rb"\\(\\|x([0-9a-f]{2}))", lambda m: bytes([int(m[2], 16)]) if m[2] else b"\\", label.encode("utf-8"))


@dataclass
class Found:
    """A path found under the sources, and what ingest makes of it."""

    path: Path
    status: str = "read"  # read | skipped | unreadable (files.csv also says "not read": too large)
    detail: str = ""


def _kind(mode: int) -> str:
    return next(
        (
            name
            for test, name in [
                (stat.S_ISFIFO, "FIFO"),
                (stat.S_ISSOCK, "socket"),
                (stat.S_ISCHR, "device"),
                (stat.S_ISBLK, "device"),
            ]
            if test(mode)
        ),
        "special file",
    )


def _classify(path: Path, extensions: list[str]) -> Found:
    try:
        st = path.stat()  # follows symlinks
    except OSError as exc:
        what = f"dangling symlink to {os.readlink(path)!r}" if path.is_symlink() else "cannot be examined"
        return Found(path, "unreadable", f"{what} ({exc.strerror or exc})")
    if stat.S_ISDIR(st.st_mode):
        return Found(path, "skipped", "symlink to a folder (not followed)")
    if not stat.S_ISREG(st.st_mode):
        return Found(path, "skipped", f"not a regular file ({_kind(st.st_mode)})")
    if path.suffix.lower() not in {e.lower() for e in extensions}:
        return Found(path, "skipped", f"extension not in {extensions}")
    return Found(path)


def find_files(sources: list[str], extensions: list[str]) -> list[Found]:
    """Every path under the sources (folders or files), sorted, each with what ingest makes of it:
    folders that cannot be listed, dangling symlinks, FIFOs and files of other extensions are
    listed with the reason.  A missing source raises."""
    found: list[Found] = []
    for source in map(Path, sources):
        if not source.exists():
            raise FileNotFoundError(f"ingest source {path_label(source)!r} does not exist")
        if not source.is_dir():
            found.append(_classify(source, extensions))
            continue
        here: list[Found] = []

        def unlisted(exc: OSError, here: list[Found] = here) -> None:
            here.append(Found(Path(exc.filename), "unreadable", f"folder cannot be listed ({exc.strerror or exc})"))

        for folder, dirs, files in os.walk(source, onerror=unlisted):
            here += [_classify(Path(folder) / name, extensions) for name in files]
            # a symlink to a folder is listed among dirs; os.walk does not descend into it
            here += [_classify(Path(folder) / name, extensions) for name in dirs if (Path(folder) / name).is_symlink()]
        found += sorted(here, key=lambda f: f.path)
    return found


def _read(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file, opened without blocking (a FIFO swapped in after the walk
    must not hang ingest); OSError or ValueError with the reason otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"not a regular file ({_kind(st.st_mode)})")
        if st.st_size > max_bytes:
            raise ValueError(f"{st.st_size / 2**20:.1f} MB, larger than ingest.max_file_mb ({max_bytes / 2**20:g} MB)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


REJECTED_COLUMNS = ["source", "index", "offset", "name", "reason", "count"]
FILE_COLUMNS = ["source", "status", "form", "voices", "accepted", "rejected", "detail"]


class _Collector:
    """Accumulates accepted voices and rejections file by file."""

    def __init__(self, cfg: IngestConfig):
        self.cfg = cfg
        self.params: list[np.ndarray] = []
        self.columns: dict[str, list] = {k: [] for k in ("source", "index", "offset", "form", "masked", "clamped")}
        self.rejected: list[dict] = []  # REJECTED_COLUMNS; ``count`` voices a row stands for
        self.files: list[dict] = []
        self.policy_counts = Counter()

    def add_file(self, path: Path, label: str) -> None:
        try:
            data = _read(path, int(self.cfg.max_file_mb * 2**20))
        except OSError as exc:
            self.files.append(
                dict(
                    source=label, voices=0, accepted=0, rejected=0, status="unreadable", detail=exc.strerror or str(exc)
                )
            )
            return
        except ValueError as exc:  # too large, or no longer a regular file
            self.files.append(dict(source=label, voices=0, accepted=0, rejected=0, status="not read", detail=str(exc)))
            return
        result = scan(data)
        del data
        index, accepted_before = 0, len(self.columns["source"])
        self._listed, self._summarised = 0, {}  # this file's rejections: rows listed, {reason: summary row}
        for block in result.blocks:
            self._add_block(block, label, index)
            index += block.count
        self.rejected += self._summarised.values()
        accepted = len(self.columns["source"]) - accepted_before
        rejected = index - accepted
        status = "not DX7" if result.error else ("read" if not rejected else "read, with rejections")
        notes = result.notes + (
            [
                f"{sum(r['count'] for r in self._summarised.values())} rejections beyond the first "
                f"{self.cfg.listed_rejections} summarised by reason"
            ]
            if self._summarised
            else []
        )
        forms = ",".join(sorted({b.form for b in result.blocks}))
        self.files.append(
            dict(
                source=label,
                voices=index,
                accepted=accepted,
                rejected=rejected,
                status=status,
                form=forms,
                detail="; ".join(filter(None, [result.error, *notes])),
            )
        )

    def _add_block(self, block: Block, label: str, first_index: int) -> None:
        if block.decoded is None:
            self._reject(label, first_index, block.offset, block.problem, count=block.count)
            return
        positions = np.arange(first_index, first_index + block.count)
        voice_names = names(block.decoded.params)
        if block.checksum_ok is False and self.cfg.checksum == "reject":
            for i, name in zip(positions, voice_names):
                self._reject(label, i, block.offset, f"checksum mismatch in {block.form} message", name)
            return
        for policy in POLICIES:  # what each policy would have done, for the report
            self.policy_counts[policy] += int(apply_policy(block.decoded, policy, self.cfg.eight_bit).accepted.sum())
        verdict = apply_policy(block.decoded, self.cfg.policy, self.cfg.eight_bit)
        for i, ok, reason, name in zip(positions, verdict.accepted, verdict.reasons, voice_names):
            if not ok:
                self._reject(label, i, block.offset, reason, name)
        keep = verdict.accepted
        self.params.append(verdict.params[keep])
        n = int(keep.sum())
        self.columns["source"] += [label] * n
        self.columns["index"] += positions[keep].tolist()
        self.columns["offset"] += [block.offset] * n
        self.columns["form"] += [block.form] * n
        self.columns["masked"] += verdict.masked[keep].tolist()
        self.columns["clamped"] += verdict.clamped[keep].tolist()

    def _reject(self, label: str, index: int, offset: int, reason: str, name: str = "", count: int = 1) -> None:
        """Voices ``index .. index + count - 1`` of a file, rejected for ``reason``: listed one by
        one up to ``ingest.listed_rejections`` per file, then added to one row per reason."""
        listed = max(0, min(count, self.cfg.listed_rejections - self._listed))
        for i in range(index, index + listed):
            self.rejected.append(
                dict(source=label, index=int(i), offset=int(offset), name=name, reason=reason, count=1)
            )
        self._listed += listed
        if count > listed:
            key = reason.split(":")[0]
            row = self._summarised.setdefault(
                key,
                dict(
                    source=label,
                    index=int(index + listed),
                    offset=int(offset),
                    name="",
                    reason=f"{key}: summarised",
                    count=0,
                ),
            )
            row["count"] += count - listed

    def table(self) -> Table:
        params = np.concatenate(self.params) if self.params else np.zeros((0, VOICE_SIZE), np.uint8)
        table: Table = {"voice_id": np.arange(len(params), dtype=np.int64)}
        table["name"] = np.array(names(params), dtype=str)
        for key, values in self.columns.items():
            table[key] = np.array(values, dtype=str if key in ("source", "form") else None)
        table["index"] = table["index"].astype(np.int64)
        table["offset"] = table["offset"].astype(np.int64)
        table["params"] = params
        return table


def ingest(sources: list[str], cfg: IngestConfig = IngestConfig(), progress: bool = True) -> IngestResult:
    """Read every file under ``sources`` (folders or files) under the policies of ``cfg``."""
    found = find_files(sources, cfg.extensions)
    collector = _Collector(cfg)
    for f in tqdm([f for f in found if f.status == "read"], desc="ingest", unit="file", disable=not progress):
        collector.add_file(f.path, path_label(f.path))
    for f in found:
        if f.status != "read":
            collector.files.append(
                dict(
                    source=path_label(f.path),
                    voices=0,
                    accepted=0,
                    rejected=0,
                    status=f.status,
                    form="",
                    detail=f.detail,
                )
            )
    table = collector.table()
    voices_in = sum(f["voices"] for f in collector.files)
    n_acc, n_rej = len(table["params"]), sum(r["count"] for r in collector.rejected)
    if voices_in != n_acc + n_rej:  # the invariant the whole report rests on
        raise AssertionError(f"ingest lost voices: {voices_in} in, {n_acc} accepted, {n_rej} rejected")
    reasons = Counter()
    for r in collector.rejected:
        reasons[r["reason"].split(":")[0]] += r["count"]
    status = Counter(f["status"] for f in collector.files)
    report = {
        "policy": {"policy": cfg.policy, "eight_bit": cfg.eight_bit, "checksum": cfg.checksum},
        "files": {
            "found": len(collector.files),
            **{k.replace(" ", "_").replace(",", ""): v for k, v in sorted(status.items())},
        },
        "voices": {
            "in": voices_in,
            "accepted": n_acc,
            "rejected": n_rej,
            "accepted_with_bits_masked": int(table["masked"].sum()),
            "accepted_with_values_clamped": int(table["clamped"].sum()),
        },
        "rejected_by_reason": dict(sorted(reasons.items())),
        "accepted_under_each_policy": dict(collector.policy_counts),
    }
    return IngestResult(table, collector.rejected, collector.files, report)


def summary(report: dict) -> str:
    v, f = report["voices"], report["files"]
    lines = [
        f"ingest: {f['found']} files ({', '.join(f'{k} {n}' for k, n in f.items() if k != 'found')})",
        f"  voices in {v['in']} = accepted {v['accepted']} + rejected {v['rejected']}"
        f"  [policy {report['policy']['policy']}: {v['accepted_with_bits_masked']} masked, "
        f"{v['accepted_with_values_clamped']} clamped]",
    ]
    lines += [f"  rejected, {reason}: {n}" for reason, n in report["rejected_by_reason"].items()]
    lines.append(
        "  accepted under each policy (checked blocks): "
        + ", ".join(f"{k} {n}" for k, n in report["accepted_under_each_policy"].items())
    )
    return "\n".join(lines)
