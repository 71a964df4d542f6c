"""Hostile collections (issue 13): odd names, amplifying files, misplaced headers, blank voices,
special files.  Ingest never crashes, stays small, and accounts for every file and voice."""

import csv
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from deepdx.config import IngestConfig
from deepdx.corpus.ingest import FILE_COLUMNS, REJECTED_COLUMNS, ingest, label_bytes, path_label
from deepdx.corpus.table import write_csv, write_table
from deepdx.dx7 import bank_bytes, pack
from deepdx.dx7.sysex import scan
from tests.conftest import ROOT, random_voices

BANK_HEADER = bytes([0xF0, 0x43, 0x00, 0x09, 0x20, 0x00])


def accounted(result) -> int:
    v = result.report["voices"]
    assert v["in"] == v["accepted"] + v["rejected"] == sum(f["voices"] for f in result.files)
    assert sum(r["count"] for r in result.rejected) == v["rejected"]
    return v["in"]


def test_a_name_that_is_not_utf8_is_ingested_and_kept_losslessly(tmp_path):
    name = os.fsencode(tmp_path) + b"/bank\xff\xfe \\x41.syx"
    with open(name, "wb") as f:
        f.write(bank_bytes(random_voices(32, seed=1)))
    result = ingest([str(tmp_path)], progress=False)
    assert result.report["voices"]["accepted"] == 32
    label = result.files[0]["source"]
    assert label.endswith("bank\\xff\\xfe \\\\x41.syx") and label_bytes(label) == name
    write_table(tmp_path / "voices.parquet", result.table)  # raised UnicodeEncodeError before
    write_csv(tmp_path / "files.csv", result.files, FILE_COLUMNS)
    assert path_label("plain/ünïcode.syx") == "plain/ünïcode.syx"


@pytest.mark.parametrize("piece", [BANK_HEADER, b"\xf0"], ids=["repeated headers", "F0 bytes"])
def test_an_amplifying_file_gives_a_summary_not_millions_of_rows(tmp_path, piece):
    (tmp_path / "hostile.syx").write_bytes(piece * (2**20 // len(piece)))
    result = ingest([str(tmp_path)], IngestConfig(listed_rejections=100), progress=False)
    n = accounted(result)
    assert len(result.rejected) <= 101 and len(result.files[0]["detail"]) < 2000
    if piece == BANK_HEADER:  # every declared voice slot is still counted, and rejected with its reason
        assert n == 32 * (2**20 // 6) and {r["reason"] for r in result.rejected[100:]} == {
            "malformed bulk32 message: summarised"
        }
        assert "summarised by reason" in result.files[0]["detail"]
    else:
        assert (
            result.files[0]["status"] == "not DX7" and "more: one-byte sysex messages" not in result.files[0]["detail"]
        )


def test_scanning_time_is_linear_in_the_size_of_a_hostile_file():
    def seconds(mb):
        data = (BANK_HEADER + b"\xf0" * 7 + b"\x01" * 50) * (mb * 2**20 // 63)
        start = time.perf_counter()
        scan(data)
        return time.perf_counter() - start

    small, large = min(seconds(1) for _ in range(3)), min(seconds(4) for _ in range(3))
    assert large < 4 * small * 2.5  # quadratic would be 16x


def test_a_file_above_the_size_cap_is_listed_with_the_reason(tmp_path):
    (tmp_path / "huge.syx").write_bytes(bank_bytes(random_voices(32)) * 300)  # 1.2 MB
    result = ingest([str(tmp_path)], IngestConfig(max_file_mb=1), progress=False)
    assert (
        result.files[0]["status"] == "not read" and "larger than ingest.max_file_mb (1 MB)" in result.files[0]["detail"]
    )
    assert accounted(result) == 0


def test_a_header_after_stray_bytes_is_found_and_blank_voices_are_rejected(tmp_path):
    params = random_voices(32, seed=3)
    (tmp_path / "stray.syx").write_bytes(bytes(range(120)) + bank_bytes(params))  # 4,224 = 33 x 128 bytes
    (tmp_path / "zeros.bin").write_bytes(bytes(128 * 5))
    blanks = params.copy()
    blanks[7] = 0
    (tmp_path / "one_blank.syx").write_bytes(bank_bytes(blanks))
    result = ingest([str(tmp_path)], progress=False)
    files = {f["source"].rsplit("/", 1)[1]: f for f in result.files}
    assert files["stray.syx"]["accepted"] == 32 and "120 stray bytes before" in files["stray.syx"]["detail"]
    assert (files["zeros.bin"]["voices"], files["zeros.bin"]["accepted"]) == (5, 0)
    assert files["one_blank.syx"]["accepted"] == 31
    assert result.report["rejected_by_reason"] == {"blank": 6} and accounted(result) == 69
    stored = result.table["params"][result.table["source"] == str(tmp_path / "stray.syx")]
    np.testing.assert_array_equal(stored, params)


def test_a_raw_stream_without_headers_is_still_read_as_voices(tmp_path):
    params = random_voices(64, seed=4)
    (tmp_path / "compact.bin").write_bytes(pack(params).tobytes())
    result = ingest([str(tmp_path)], progress=False)
    assert result.report["voices"]["accepted"] == 64 and result.files[0]["form"] == "headerless"


def test_special_files_are_listed_with_their_reason_and_a_fifo_never_blocks(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    (raw / "locked").mkdir(parents=True)
    (raw / "good.syx").write_bytes(bank_bytes(random_voices(32)))
    os.symlink(raw / "gone.syx", raw / "dangling.syx")
    os.symlink(raw / "good.syx", raw / "alias.syx")
    os.symlink(tmp_path, raw / "loop")
    os.mkfifo(raw / "pipe.syx")
    real_scandir = os.scandir

    def scandir(path="."):  # root reads any folder, so the refusal is simulated
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = ingest([str(raw)], progress=False)
    files = {f["source"].rsplit("/", 1)[1]: (f["status"], f["detail"]) for f in result.files}
    assert files["good.syx"][0] == files["alias.syx"][0] == "read"
    assert files["dangling.syx"][0] == "unreadable" and "dangling symlink" in files["dangling.syx"][1]
    assert files["pipe.syx"] == ("skipped", "not a regular file (FIFO)")
    assert files["loop"] == ("skipped", "symlink to a folder (not followed)")
    assert files["locked"][0] == "unreadable" and "Permission denied" in files["locked"][1]
    assert accounted(result) == 64


def test_a_fifo_swapped_in_after_the_walk_does_not_block(tmp_path):
    code = (
        "import os, sys\nfrom deepdx.corpus import ingest as m\n"
        "found = m.find_files([sys.argv[1]], ['.syx'])\n"
        "os.remove(sys.argv[1] + '/late.syx'); os.mkfifo(sys.argv[1] + '/late.syx')\n"
        "m.find_files = lambda *a: found\n"
        "print(m.ingest([sys.argv[1]], progress=False).files[0]['detail'])\n"
    )
    (tmp_path / "late.syx").write_bytes(b"x")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert proc.returncode == 0, proc.stderr
    assert "not a regular file (FIFO)" in proc.stdout


def test_summarised_rejections_keep_the_report_csv_exact(tmp_path):
    packed = pack(random_voices(50, seed=5))
    packed[:, 0] = 120  # every voice out of range
    (tmp_path / "bad.bin").write_bytes(packed.tobytes())
    result = ingest([str(tmp_path)], IngestConfig(listed_rejections=10), progress=False)
    assert accounted(result) == 50
    write_csv(tmp_path / "rejected.csv", result.rejected, REJECTED_COLUMNS)
    with open(tmp_path / "rejected.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 11 and sum(int(r["count"]) for r in rows) == 50
    assert [int(r["index"]) for r in rows] == list(range(11)) and rows[-1]["reason"] == "out of range: summarised"
