import subprocess
import sys

import dexed
import numpy as np
import pytest

from deepdx.config import IngestConfig
from deepdx.corpus.ingest import ingest
from deepdx.dx7 import bank_bytes, pack
from deepdx.dx7.params import INDEX
from tests.conftest import ROOT, random_voices


def make_collection(tmp_path):
    """A small dirty collection: good bank, bad checksum, out-of-range voices, junk files."""
    params = random_voices(96, seed=7)
    (tmp_path / "good.syx").write_bytes(bank_bytes(params[:32]))
    bad = bytearray(bank_bytes(params[32:64]))
    bad[4102] ^= 0x01
    (tmp_path / "badsum.SYX").write_bytes(bytes(bad))
    packed = pack(params[64:96])
    packed[0, 0] = 120  # op6 EG rate 1 out of range
    packed[1, 110] |= 0x40  # algorithm byte: an ignored bit
    packed[2, 5] = 0xFF  # corrupt byte
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "raw.bin").write_bytes(packed.tobytes())
    (tmp_path / "notes.syx").write_bytes(b"this is not sysex at all")
    (tmp_path / "readme.txt").write_text("ignored by extension")
    return params


def test_every_voice_and_file_is_accounted_for(tmp_path):
    make_collection(tmp_path)
    r = ingest([str(tmp_path)], progress=False)
    v = r.report["voices"]
    assert v["in"] == 96 == v["accepted"] + v["rejected"]
    assert v["accepted"] == 32 + 30 and v["accepted_with_bits_masked"] == 1
    reasons = {(row["source"].split("/")[-1], row["index"]): row["reason"] for row in r.rejected}
    assert len(reasons) == 34 and all(reasons.values())
    assert reasons[("badsum.SYX", 0)].startswith("checksum mismatch")
    assert reasons[("raw.bin", 0)].startswith("out of range: op6_eg_rate1=120")
    assert reasons[("raw.bin", 2)].startswith("corrupt")
    status = {f["source"].split("/")[-1]: f["status"] for f in r.files}
    assert status == {
        "good.syx": "read",
        "badsum.SYX": "read, with rejections",
        "raw.bin": "read, with rejections",
        "notes.syx": "not DX7",
        "readme.txt": "skipped",
    }
    assert r.table["params"].shape == (62, 155) and r.table["name"].shape == (62,)


def test_policies_differ_as_documented(tmp_path):
    make_collection(tmp_path)
    accepted = {
        p: ingest([str(tmp_path)], IngestConfig(policy=p), progress=False).report["voices"]["accepted"]
        for p in ("strict", "mask", "clamp")
    }
    assert accepted == {"strict": 61, "mask": 62, "clamp": 63}
    clamp = ingest([str(tmp_path)], IngestConfig(policy="clamp", checksum="accept"), progress=False)
    assert clamp.report["voices"]["accepted"] == 95
    row = np.flatnonzero(clamp.table["clamped"])
    assert len(row) == 1 and clamp.table["params"][row[0], INDEX["op6_eg_rate1"]] == 99


def test_bad_configuration_and_missing_source_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="policy"):
        IngestConfig(policy="lenient")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ingest([str(tmp_path / "nope")], progress=False)


def test_stage_script_exits_non_zero_with_one_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "pipeline/ingest.py", f"data.raw={tmp_path / 'missing'}", f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: ingest source") and "Traceback" not in out.stderr


def test_real_corpus_accounting(corpus):
    r = ingest([str(corpus)], progress=False)
    v = r.report["voices"]
    assert v["in"] == 31380 + 1024 == v["accepted"] + v["rejected"]
    assert r.report["rejected_by_reason"]["corrupt"] == 31  # the corpus README: voices with bytes > 127
    per_policy = r.report["accepted_under_each_policy"]
    assert per_policy["strict"] < per_policy["mask"] < per_policy["clamp"] == v["in"] - 31


def test_decoder_agrees_with_dexed_on_the_real_corpus(corpus):
    r = ingest([str(corpus / "dx7" / "compact.bin")], progress=False)
    data = (corpus / "dx7" / "compact.bin").read_bytes()
    rows = np.random.default_rng(0).choice(len(r.table["params"]), 3000, replace=False)
    for row in rows:
        i = r.table["index"][row]
        patch = dexed.Patch.from_packed(data[i * 128 : (i + 1) * 128])
        assert np.array_equal(patch.to_raw(), r.table["params"][row]), (i, r.table["name"][row])
