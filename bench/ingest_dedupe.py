"""Benchmark: ingest + dedupe of a whole collection, as the stages do it (outputs written).

    python bench/ingest_dedupe.py [CORPUS]    (default: data/raw)

Target (issue 2): under 10 s in total for ../shared/corpus on a 2-core machine.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from deepdx.corpus.dedupe import MERGED_FIELDS, dedupe_table
from deepdx.corpus.ingest import ingest
from deepdx.corpus.table import read_table, write_csv, write_table


def run_once(source: str, out: Path) -> tuple[float, float, int, int]:
    t0 = time.perf_counter()
    result = ingest([source], progress=False)
    write_table(out / "voices.parquet", result.table)
    write_csv(out / "rejected.csv", result.rejected, ["source", "index", "offset", "name", "reason"])
    t1 = time.perf_counter()
    unique, merged, report = dedupe_table(read_table(out / "voices.parquet"))
    write_table(out / "unique.parquet", unique)
    write_csv(out / "merged.csv", merged, MERGED_FIELDS)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, result.report["voices"]["in"], report["voices"]["unique"]


def main() -> None:
    source = sys.argv[1] if len(sys.argv) > 1 else "data/raw"
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_once(source, Path(tmp)) for _ in range(5)]
    ingest_s = statistics.median(r[0] for r in runs)
    dedupe_s = statistics.median(r[1] for r in runs)
    voices, unique = runs[0][2], runs[0][3]
    total = ingest_s + dedupe_s
    print(f"corpus: {source}: {voices} voices in, {unique} unique out (median of {len(runs)} runs)")
    print(f"ingest  {ingest_s:6.3f} s  {voices / ingest_s:10.0f} voices/s")
    print(f"dedupe  {dedupe_s:6.3f} s  {voices / dedupe_s:10.0f} voices/s")
    print(
        f"total   {total:6.3f} s  {voices / total:10.0f} voices/s   target < 10 s: {'met' if total < 10 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
