"""The stage scripts as DVC runs them: Hydra apps reading the composed params.yaml."""

import json
import subprocess
import sys

from deepdx.config import main as config_main
from deepdx.corpus.table import read_table
from tests.conftest import ROOT
from tests.test_ingest import make_collection


def test_params_yaml_is_in_step_with_conf(capsys):
    assert config_main(["check"], repo=ROOT) == 0, capsys.readouterr().err  # names the keys and what to run


def run_stage(name, tmp_path, *overrides):
    out = tmp_path / "out"
    paths = [
        f"data.{k}={out}/{v}"
        for k, v in dict(
            voices="voices.parquet",
            rejected="rejected.csv",
            files="files.csv",
            unique="unique.parquet",
            merged="merged.csv",
            metrics="metrics",
        ).items()
    ]
    cmd = [
        sys.executable,
        f"pipeline/{name}.py",
        "--config-path",
        "..",
        "--config-name",
        "params",
        f"hydra.run.dir={tmp_path}",
        "hydra.output_subdir=null",
        *paths,
        *overrides,
    ]
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


def tiny_split(tmp_path):
    from deepdx.corpus.table import write_json
    from tests.conftest import split_dir

    split = split_dir(tmp_path, 1, per_group=200)
    write_json(split / "routing.json", {"categories": [f"c{i}" for i in range(8)], "groups": [[1, 2]]})
    return split


def test_train_stage_and_a_hydra_sweep_land_in_mlflow(tmp_path):
    import os

    import mlflow

    split = tiny_split(tmp_path)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    common = [
        f"data.split={split}",
        "train.groups=[0]",
        "train.epochs=1",
        "train.steps=null",
        "train.batch_size=32",
        "model.channels=8",
        "train.progress_bar=false",
    ]
    subprocess.run(
        [
            sys.executable,
            "pipeline/train.py",
            f"hydra.run.dir={tmp_path}/run",
            f"data.models={tmp_path}/models",
            *common,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "models" / "group0" / "generator.pt").exists()
    subprocess.run(
        [
            sys.executable,
            "pipeline/train.py",
            "-m",
            f"hydra.sweep.dir={tmp_path}/sweep",
            "model.kernel_size=2,3",
            *common,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("deepdx").experiment_id])
    swept = [r for r in runs if r.data.tags.get("sweep") == f"{tmp_path}/sweep"]
    assert sorted(r.data.params["model.kernel_size"] for r in swept) == ["2", "3"]
    assert len(runs) == 3
