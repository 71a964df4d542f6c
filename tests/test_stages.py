"""The stage scripts as DVC runs them: Hydra apps reading the composed params.yaml."""
import json
import subprocess
import sys

from deepdx.config import main as config_main
from deepdx.corpus.table import read_table
from tests.conftest import ROOT
from tests.test_ingest import make_collection


def test_params_yaml_is_in_step_with_conf():
    assert config_main(["check"]) == 0


def run_stage(name, tmp_path, *overrides):
    out = tmp_path / "out"
    paths = [f"data.{k}={out}/{v}" for k, v in dict(voices="voices.parquet", rejected="rejected.csv",
                                                     files="files.csv", unique="unique.parquet",
                                                     merged="merged.csv", metrics="metrics").items()]
    cmd = [sys.executable, f"pipeline/{name}.py", "--config-path", "..", "--config-name", "params",
           f"hydra.run.dir={tmp_path}", "hydra.output_subdir=null", *paths, *overrides]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True), out


def test_ingest_then_dedupe_write_their_outputs(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_collection(raw)
    (raw / "copy.syx").write_bytes((raw / "good.syx").read_bytes())
    proc, out = run_stage("ingest", tmp_path, f"data.raw={raw}")
    assert "voices in 128 = accepted 94 + rejected 34" in proc.stdout
    proc, out = run_stage("dedupe", tmp_path)
    report = json.loads((out / "metrics" / "dedupe.json").read_text())
    assert report["voices"]["in"] == 94 and report["voices"]["exact_duplicates"] == 32
    assert len(read_table(out / "unique.parquet")["params"]) == report["voices"]["unique"] == 62
    assert (out / "merged.csv").read_text().count("\n") == 1 + 32
