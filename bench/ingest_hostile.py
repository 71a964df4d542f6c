"""Benchmark: ingest of hostile input (issue 13): 10,000+ mutated files, then one big hostile file.

    python bench/ingest_hostile.py [--files 10000] [--big-mb 50] [--seed 0] [--corpus DIR] [--per-file]
    python bench/ingest_hostile.py --files 300 --big-mb 5        (smoke check, seconds)

Seeds: the factory banks (../shared/corpus/dx7/factory/*.syx, or --corpus DIR), else banks of
random in-range voices (deepdx.dx7.sysex.bank_bytes).  The mutated files (bit flips, truncations,
splices, stray bytes, repeated headers, F0 runs, junk, zero and empty files, single-voice dumps,
headerless data, concatenations, a few multi-MB files, non-UTF-8 names) go to a temporary folder.
Each ingest runs in a fresh child process: its peak RSS is the ingest's own, the time the ingest
call's.  Prints crashes (goal 0; a crashing folder run is redone file by file to name culprits),
the accounting (voices in == accepted + rejected, every file listed once), s/MB and peak RSS, and
the same for the big file (goals: under 30 s, under 500 MB).  Exits 1 on a crash, an accounting
failure or a run that did not finish.
"""

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from deepdx.dx7.params import uniform_voices
from deepdx.dx7.sysex import bank_bytes, checksum, scan

FACTORY = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dx7" / "factory"
HEADER = bytes([0xF0, 0x43, 0x00, 0x09, 0x20, 0x00])  # 32-voice bulk dump
SINGLE = bytes([0xF0, 0x43, 0x00, 0x00, 0x01, 0x1B])  # single-voice dump
MB = 2**20
SUBFOLDERS = ["a", "b", "b/deeper", "c", "c/x/y"]
EXTENSIONS = [".syx", ".syx", ".syx", ".SYX", ".bin"]


def seed_banks(corpus: Path) -> tuple[str, list[bytes], np.ndarray]:
    """(what they are, the seed banks, their decoded voices for single-voice dumps)."""
    banks = [p.read_bytes() for p in sorted(corpus.glob("*.syx"))]
    what = f"{len(banks)} banks from {corpus}"
    if not banks:
        banks = [bank_bytes(uniform_voices(32, seed=b), channel=b % 16) for b in range(32)]
        what = f"32 banks of random in-range voices ({corpus} not found)"
    voices = [b.decoded.params for bank in banks for b in scan(bank).blocks if b.decoded is not None]
    return what, banks, np.concatenate(voices)


def flip(rng, data: bytes, bits: int) -> bytes:
    if not data:
        return data
    a = np.frombuffer(data, np.uint8).copy()
    pos = rng.integers(0, len(a) * 8, bits)
    a[pos // 8] ^= (1 << (pos % 8)).astype(np.uint8)
    return a.tobytes()


def insert(rng, data: bytes, piece: bytes) -> bytes:
    i = int(rng.integers(0, len(data) + 1))
    return data[:i] + piece + data[i:]


def single(rng, voices: np.ndarray) -> bytes:
    v = voices[rng.integers(len(voices))].tobytes()
    return SINGLE + v + bytes([checksum(v), 0xF7])


# (rng, a seed bank, a function picking another, the seed voices) -> the file's bytes
MUTATIONS = {
    "bitflip": lambda rng, b, pick, v: flip(rng, b, int(rng.integers(1, 65))),
    "truncate": lambda rng, b, pick, v: b[: rng.integers(0, len(b))],
    "splice": lambda rng, b, pick, v: b[: rng.integers(0, len(b))] + (o := pick())[rng.integers(0, len(o)) :],
    "stray": lambda rng, b, pick, v: rng.bytes(int(rng.integers(1, 300))) + b,
    "headers": lambda rng, b, pick, v: insert(rng, b, HEADER * int(rng.integers(1, 50))),
    "f0run": lambda rng, b, pick, v: insert(rng, b, b"\xf0" * int(rng.integers(1, 5000))),
    "junk": lambda rng, b, pick, v: insert(rng, b, rng.bytes(int(rng.integers(1, 2000)))),
    "zeros": lambda rng, b, pick, v: bytes(128 * int(rng.integers(1, 65))),
    "empty": lambda rng, b, pick, v: b"",
    "single": lambda rng, b, pick, v: single(rng, v),
    "headerless": lambda rng, b, pick, v: b[6 : 6 + 128 * int(rng.integers(1, 33))],
    "concat": lambda rng, b, pick, v: b"".join([b, *(pick() for _ in range(rng.integers(1, 8))), single(rng, v)]),
}


def make_files(folder: Path, n: int, huge: int, rng, banks: list[bytes], voices: np.ndarray):
    """(the paths made, how many of each kind)."""
    pick = lambda: banks[rng.integers(len(banks))]
    kinds, made, mix = list(MUTATIONS), [], Counter()
    for i in range(n + huge):
        if i < n:
            kind = kinds[i % len(kinds)]
            data = MUTATIONS[kind](rng, pick(), pick, voices)
            if rng.random() < 0.2:  # a second injury on top
                data = flip(rng, data, int(rng.integers(1, 9)))
        else:  # a few multi-MB files of every kind of damage
            kind, parts, target = "huge", [], int(rng.integers(2, 6)) * MB
            while sum(map(len, parts)) < target:
                parts.append(MUTATIONS[kinds[rng.integers(len(kinds))]](rng, pick(), pick, voices))
            data = b"".join(parts)
        stem, ext = f"{i:05d}_{kind}", EXTENSIONS[i % len(EXTENSIONS)]
        if rng.random() < 0.02:
            kind, stem = "non-UTF-8 name", os.fsdecode(b"bank\xff" + stem.encode() + b"\xe9")
        path = folder / SUBFOLDERS[i % len(SUBFOLDERS)] / (stem + ext)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        made.append(str(path))
        mix[kind] += 1
    return made, mix


def big_file(path: Path, mb: float, rng, banks: list[bytes]) -> None:
    """Repeated headers (both forms), F0 runs and bank pieces, cut at ``mb`` MB."""
    parts, size = [], 0
    while size < mb * MB:
        r, bank = rng.random(), banks[rng.integers(len(banks))]
        if r < 0.3:
            part = (HEADER if r < 0.2 else SINGLE) * int(rng.integers(1, 2000))
        elif r < 0.5:
            part = b"\xf0" * int(rng.integers(1, 20000))
        else:
            i, j = sorted(rng.integers(0, len(bank), 2)) if r < 0.9 else (0, len(bank))
            part = bank[i:j]
        parts.append(part)
        size += len(part)
    path.write_bytes(b"".join(parts)[: int(mb * MB)])


def worker(target: str, per_file: bool, out: str) -> None:
    """In the child: ingest ``target`` (a folder or a file), write the figures as JSON to ``out``."""
    from deepdx.config import IngestConfig
    from deepdx.corpus.ingest import ingest

    groups = [[str(p)] for p in sorted(Path(target).rglob("*")) if p.is_file()] if per_file else [[target]]
    res = dict(
        crashes=[], sources=[], status=Counter(), voices_in=0, accepted=0, rejected=0, rejection_rows=0, detail_chars=0
    )
    t = time.perf_counter()
    for group in groups:
        try:
            r = ingest(group, IngestConfig(), progress=False)
        except Exception as exc:  # noqa: BLE001  a crash is what this benchmark counts
            res["crashes"].append([group[0], f"{type(exc).__name__}: {exc}"[:300]])
            continue
        res["voices_in"] += r.report["voices"]["in"]
        res["accepted"] += len(r.table["params"])
        res["rejected"] += sum(row.get("count", 1) for row in r.rejected)
        res["rejection_rows"] += len(r.rejected)
        res["sources"] += [f["source"] for f in r.files]
        res["status"].update(f["status"] for f in r.files)
        res["detail_chars"] += sum(len(str(f.get("detail", ""))) for f in r.files)
    res["seconds"] = time.perf_counter() - t
    res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    Path(out).write_text(json.dumps(res))


def run(target: str, per_file: bool, timeout: float) -> dict:
    """One measured ingest in a fresh child process (this script with --worker)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--worker", target, "--out", f"{tmp}/r.json"] + ["--per-file"] * per_file
        try:
            proc = subprocess.run(cmd, timeout=timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return dict(failed=f"did not finish in {timeout:.0f} s (killed)")
        if proc.returncode:
            return dict(failed=f"child exited with {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return json.loads(Path(f"{tmp}/r.json").read_text())


def judge(res: dict, made: list[str]) -> tuple[str, bool]:
    """("crashes n, accounting ok|FAILED", whether it failed); each problem printed."""
    if "failed" in res:
        print(f"  FAILED: {res['failed']}")
        return "no result", True
    module = importlib.import_module("deepdx.corpus.ingest")
    label = getattr(module, "path_label", str)  # how ingest spells a path (non-UTF-8 bytes escaped)
    problems = []
    if res["voices_in"] != res["accepted"] + res["rejected"]:
        problems.append(f"voices in {res['voices_in']} != accepted {res['accepted']} + rejected {res['rejected']}")
    expected = [label(p) for p in made if p not in {c[0] for c in res["crashes"]}]
    counts = Counter(res["sources"])
    if len(res["sources"]) != len(expected):
        problems.append(f"{len(expected)} files made (crashed ones aside), {len(res['sources'])} file rows")
    problems += [f"listed {n} times: {s!r}" for s, n in counts.items() if n > 1]
    unmatched = sorted(set(expected) ^ set(counts)) if not res["crashes"] else []  # shown, not failed
    lines = [f"CRASH {s!r}: {e}" for s, e in res["crashes"]] + [f"ACCOUNTING: {p}" for p in problems]
    lines += [f"note: not matched by name: {s!r}" for s in unmatched[:5]]
    for line in lines[:20] + ([f"... and {len(lines) - 20} more"] if len(lines) > 20 else []):
        print(f"  {line}")
    verdict = f"crashes {len(res['crashes'])}, accounting {'FAILED' if problems else 'ok'}"
    return verdict, bool(res["crashes"] or problems)


def voices(res: dict) -> str:
    return (
        f"voices in {res['voices_in']:,} = accepted {res['accepted']:,} + rejected {res['rejected']:,}, "
        f"rejection rows {res['rejection_rows']:,}, file detail {res['detail_chars']:,} chars"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10_000, help="mutated files (default 10,000)")
    ap.add_argument("--huge", type=int, default=3, help="and this many files of 2-5 MB (default 3)")
    ap.add_argument("--big-mb", type=float, default=50, help="size of the big hostile file (default 50)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", type=Path, default=FACTORY, help=f"folder of seed banks (default {FACTORY})")
    ap.add_argument("--per-file", action="store_true", help="one ingest call per file (names crashes directly)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds before a child run is killed (default 600)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.per_file, args.out)
    rng = np.random.default_rng(args.seed)
    what, banks, seed_voices = seed_banks(args.corpus)
    print(f"seeds: {what}")
    with tempfile.TemporaryDirectory(prefix="deepdx-hostile-") as tmp:
        folder, big = Path(tmp) / "files", Path(tmp) / "big" / "hostile.syx"
        made, mix = make_files(folder, args.files, args.huge, rng, banks, seed_voices)
        size = sum(os.path.getsize(p) for p in made) / MB
        print(f"made {len(made):,} files, {size:.1f} MB: " + ", ".join(f"{k} {n}" for k, n in sorted(mix.items())))
        res = run(str(folder), args.per_file, args.timeout)
        if res.get("crashes") and not args.per_file:
            print(f"  whole-folder run crashed ({res['crashes'][0][1]}); redoing it file by file to name the culprits")
            res = run(str(folder), True, args.timeout)
        verdict, failed = judge(res, made)
        lines = [f"files {len(made):,} ({size:.1f} MB): {verdict}"]
        if "seconds" in res:
            lines[0] += f", {res['seconds']:.1f} s ({res['seconds'] / size:.2f} s/MB), peak RSS {res['peak_mb']:.0f} MB"
            status = ", ".join(f"{k} {n}" for k, n in sorted(res["status"].items()))
            lines.append(f"  {voices(res)}; file status {status}")
        big.parent.mkdir()
        big_file(big, args.big_mb, rng, banks)
        res = run(str(big), False, args.timeout)
        verdict, big_failed = judge(res, [str(big)])
        line = f"{args.big_mb:g} MB hostile file: {verdict}"
        goals = "30 s, 500 MB"
        if "seconds" in res:
            line += (
                f", {res['seconds']:.1f} s, peak RSS {res['peak_mb']:.0f} MB, {voices(res)}, "
                f"status {', '.join(res['status'])}"
            )
            met = lambda ok: "met" if ok else "MISSED"
            goals = f"30 s {met(res['seconds'] < 30)}, 500 MB {met(res['peak_mb'] < 500)}"
        lines.append(f"{line}  [goals: {goals}]")
    print("\n".join(lines))
    sys.exit(1 if failed or big_failed else 0)


if __name__ == "__main__":
    main()
