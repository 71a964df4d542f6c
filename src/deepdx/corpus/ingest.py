"""Ingest: every file under the configured sources becomes accepted voices or reported rejections.

The accounting invariant, checked before anything is written:
``voices in == accepted + rejected``, where "voices in" counts every voice slot that a
file declares (32 for a bulk dump, even a truncated one).  Files that hold no voice
slot at all (not DX7 data, wrong extension) are listed in the file report with the
reason.
"""
from __future__ import annotations

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


def find_files(sources: list[str], extensions: list[str]) -> tuple[list[Path], list[Path]]:
    """(files to read, files skipped for their extension), sorted; a missing source raises."""
    wanted = {e.lower() for e in extensions}
    found: list[Path] = []
    for source in map(Path, sources):
        if source.is_file():
            found.append(source)
        elif source.is_dir():
            found += sorted(p for p in source.rglob("*") if p.is_file())
        else:
            raise FileNotFoundError(f"ingest source {str(source)!r} does not exist")
    read = [p for p in found if p.suffix.lower() in wanted]
    skipped = [p for p in found if p.suffix.lower() not in wanted]
    return read, skipped


class _Collector:
    """Accumulates accepted voices and rejections file by file."""

    def __init__(self, cfg: IngestConfig):
        self.cfg = cfg
        self.params: list[np.ndarray] = []
        self.columns: dict[str, list] = {k: [] for k in ("source", "index", "offset", "form", "masked", "clamped")}
        self.rejected: list[dict] = []
        self.files: list[dict] = []
        self.policy_counts = Counter()

    def add_file(self, path: Path, label: str) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.files.append(dict(source=label, voices=0, accepted=0, rejected=0, status="unreadable", detail=str(exc)))
            return
        result = scan(data)
        index, accepted_before, rejected_before = 0, len(self.columns["source"]), len(self.rejected)
        for block in result.blocks:
            self._add_block(block, label, index)
            index += block.count
        accepted = len(self.columns["source"]) - accepted_before
        rejected = len(self.rejected) - rejected_before
        status = "not DX7" if result.error else ("read" if not rejected else "read, with rejections")
        detail = "; ".join(filter(None, [result.error, *result.notes]))
        forms = ",".join(sorted({b.form for b in result.blocks}))
        self.files.append(dict(source=label, voices=index, accepted=accepted, rejected=rejected,
                               status=status, form=forms, detail=detail))

    def _add_block(self, block: Block, label: str, first_index: int) -> None:
        positions = np.arange(first_index, first_index + block.count)
        if block.decoded is None:
            for i in positions:
                self._reject(label, i, block.offset, "", block.problem)
            return
        voice_names = names(block.decoded.params)
        if block.checksum_ok is False and self.cfg.checksum == "reject":
            for i, name in zip(positions, voice_names):
                self._reject(label, i, block.offset, name, f"checksum mismatch in {block.form} message")
            return
        for policy in POLICIES:  # what each policy would have done, for the report
            self.policy_counts[policy] += int(apply_policy(block.decoded, policy, self.cfg.eight_bit).accepted.sum())
        verdict = apply_policy(block.decoded, self.cfg.policy, self.cfg.eight_bit)
        for i, ok, reason, name in zip(positions, verdict.accepted, verdict.reasons, voice_names):
            if not ok:
                self._reject(label, i, block.offset, name, reason)
        keep = verdict.accepted
        self.params.append(verdict.params[keep])
        n = int(keep.sum())
        self.columns["source"] += [label] * n
        self.columns["index"] += positions[keep].tolist()
        self.columns["offset"] += [block.offset] * n
        self.columns["form"] += [block.form] * n
        self.columns["masked"] += verdict.masked[keep].tolist()
        self.columns["clamped"] += verdict.clamped[keep].tolist()

    def _reject(self, label, index, offset, name, reason):
        self.rejected.append(dict(source=label, index=int(index), offset=int(offset), name=name, reason=reason))

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
    read, skipped = find_files(sources, cfg.extensions)
    collector = _Collector(cfg)
    for path in tqdm(read, desc="ingest", unit="file", disable=not progress):
        collector.add_file(path, str(path))
    for path in skipped:
        collector.files.append(dict(source=str(path), voices=0, accepted=0, rejected=0,
                                    status="skipped", form="", detail=f"extension not in {cfg.extensions}"))
    table = collector.table()
    voices_in = sum(f["voices"] for f in collector.files)
    n_acc, n_rej = len(table["params"]), len(collector.rejected)
    if voices_in != n_acc + n_rej:  # the invariant the whole report rests on
        raise AssertionError(f"ingest lost voices: {voices_in} in, {n_acc} accepted, {n_rej} rejected")
    reasons = Counter(r["reason"].split(":")[0] for r in collector.rejected)
    status = Counter(f["status"] for f in collector.files)
    report = {
        "policy": {"policy": cfg.policy, "eight_bit": cfg.eight_bit, "checksum": cfg.checksum},
        "files": {"found": len(collector.files), **{k.replace(" ", "_").replace(",", ""): v for k, v in sorted(status.items())}},
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
    lines.append("  accepted under each policy (checked blocks): "
                 + ", ".join(f"{k} {n}" for k, n in report["accepted_under_each_policy"].items()))
    return "\n".join(lines)
