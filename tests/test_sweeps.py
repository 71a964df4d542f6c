"""The sweep report reads runs through MLflow's search API: seeds averaged, the kept epoch as
training chose it, failed and unfinished runs counted apart, a plot per numeric knob."""

import subprocess
import sys

import mlflow
import numpy as np
import pytest

from deepdx.sweeps import jobs, report as sweeps
from deepdx.errors import DeepDXError
from tests.test_stages import ROOT, tiny_split


def log_run(
    client,
    experiment_id,
    overrides: str,
    params: dict,
    balanced: list[float],
    coverage: list[float],
    status="FINISHED",
    sweep="multirun/s",
):
    run = client.create_run(experiment_id, tags={"sweep": sweep, "overrides": overrides}, run_name="group1")
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    for epoch, (b, c) in enumerate(zip(balanced, coverage)):
        step = 20 * (epoch + 1)  # Lightning logs at global steps, not epochs
        for name, value in (("balanced", b), ("coverage", c), ("precision", 0.5), ("recall", 0.4), ("density", 1.0)):
            client.log_metric(run.info.run_id, f"probe/{name}", value, step=step)
    client.set_terminated(run.info.run_id, status)
    return run.info.run_id


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    eid = client.create_experiment("grid", artifact_location=(tmp_path / "art").as_uri())
    for seed in (1, 2):
        for k in (2, 4):
            # kernel 4 better; balanced peaks at epoch 1, coverage keeps rising
            top = 0.5 if k == 4 else 0.2
            job = ["model=seed", f"model.kernel_size={k}", f"seed={seed}", "train.steps=400", "mlflow.experiment=grid"]
            log_run(
                client,
                eid,
                jobs.tag(job),
                {"model.kernel_size": k, "train.select": "balanced", "seed": seed + 1},
                balanced=[0.1, top + 0.01 * seed, top - 0.1],
                coverage=[0.1, 0.2, 0.9],
            )
    # a tag as earlier versions wrote it (joined with spaces)
    log_run(
        client,
        eid,
        "model=seed model.kernel_size=2 seed=3",
        {"model.kernel_size": 2, "train.select": "balanced"},
        balanced=[0.3],
        coverage=[0.3],
        status="FAILED",
    )
    log_run(
        client,
        eid,
        "model=seed model.kernel_size=2 seed=4",
        {"model.kernel_size": 2, "train.select": "last"},
        balanced=[0.9, 0.1],
        coverage=[0.9, 0.1],
        status="RUNNING",
    )
    client.create_run(eid, run_name="not a sweep")  # no sweep tag: left out
    return uri, client


def test_overrides_are_read_by_hydras_parser_and_survive_the_tag():
    job = ["model=seed", "+note='two words'", "train.lr_g=0.0003332213575546234", "~train.limit", "seed=1"]
    parsed = jobs.overrides(jobs.untag(jobs.tag(job)))
    assert (
        parsed
        == jobs.overrides(job)
        == {
            "model": "seed",
            "note": "'two words'",
            "train.lr_g": "0.0003332213575546234",
            "train.limit": "",
            "seed": "1",
        }
    )
    assert jobs.run_name(job, {"note", "train.lr_g"}) == "model=seed note='two words' train.lr_g=0.0003332"


def test_runs_are_read_back_with_the_epoch_training_kept(store):
    uri, _ = store
    runs = sweeps.load_runs(uri, ["grid"])
    assert len(runs) == 6
    best = [r for r in runs if r.swept == {"model": "seed", "model.kernel_size": "4"} and r.params["seed"] == "2"][0]
    assert best.kept["balanced"] == pytest.approx(0.51) and best.kept["coverage"] == pytest.approx(0.2)  # epoch 1
    last = [r for r in runs if r.params["train.select"] == "last"][0]
    assert last.kept["balanced"] == pytest.approx(0.1)  # select=last: the last epoch
    assert "seed" not in best.swept and "train.steps" not in best.swept and "mlflow.experiment" not in best.swept


def test_a_calibrated_run_is_read_as_calibrated(store):
    """What a calibrated run returned to its sweeper (its sampled/* figures) is what its row shows."""
    uri, client = store
    eid = client.get_experiment_by_name("grid").experiment_id
    run_id = log_run(
        client,
        eid,
        jobs.tag(["model.kernel_size=8", "seed=1"]),
        {"train.select": "balanced"},
        balanced=[0.3, 0.6],
        coverage=[0.2, 0.5],
        sweep="multirun/c",
    )
    for name, value in (("balanced", 0.7), ("coverage", 0.55), ("precision", 0.45), ("recall", 0.5), ("density", 0.9)):
        client.log_metric(run_id, f"sampled/{name}", value)
    (run,) = sweeps.load_runs(uri, ["grid"], sweep="multirun/c")
    assert run.kept == {"balanced": 0.7, "coverage": 0.55, "precision": 0.45, "recall": 0.5, "density": 0.9}


def test_seeds_are_averaged_and_failed_runs_counted_apart(store):
    uri, _ = store
    rows = sweeps.summarise(sweeps.load_runs(uri, ["grid"]))
    assert [r["model.kernel_size"] for r in rows] == ["4", "2"]  # best balanced first
    four, two = rows
    assert (
        four["runs"] == 2 and four["balanced"] == pytest.approx(0.515) and four["balanced_sd"] == pytest.approx(0.005)
    )
    assert two["runs"] == 2 and two["failed"] == 1 and two["running"] == 1
    assert two["balanced"] == pytest.approx(0.215)  # the failed and the running run are not in the mean


def test_report_writes_tables_and_a_plot_per_numeric_knob(store, tmp_path):
    uri, _ = store
    written = sweeps.report(uri, ["grid"], tmp_path / "out")
    assert written["grid"]["runs"] == 6 and written["grid"]["settings"] == 2
    assert [p.split("/")[-1] for p in written["grid"]["plots"]] == ["grid-model.kernel_size.png"]
    md = (tmp_path / "out" / "grid.md").read_text()
    assert "0.515 ± 0.005" in md and "| seed | 4 | 2 | 0 | 0 |" in md


def test_unknown_experiment_is_a_clear_error(store, tmp_path, capsys):
    uri, _ = store
    with pytest.raises(DeepDXError, match="no MLflow experiment nope"):
        sweeps.load_runs(uri, ["nope"])
    assert sweeps.main(["--tracking-uri", uri, "--experiment", "nope", "--out", str(tmp_path)]) == 2
    assert "no MLflow experiment nope" in capsys.readouterr().err


def test_a_real_multirun_reports_one_row_per_kernel(tmp_path):
    """Two kernels x two seeds trained by pipeline/train.py -m, then the report over MLflow."""
    split = tiny_split(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    subprocess.run(
        [
            sys.executable,
            "pipeline/train.py",
            "-m",
            f"hydra.sweep.dir={tmp_path}/sweep",
            f"data.split={split}",
            "model=seed",
            "model.kernel_size=2,3",
            "seed=1,2",
            "train.groups=[0]",
            "train.epochs=2",
            "train.steps=null",
            "train.batch_size=32",
            "model.channels=8",
            "train.progress_bar=false",
            f"mlflow.tracking_uri={uri}",
            "mlflow.experiment=tiny",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    rows = sweeps.summarise(sweeps.load_runs(uri, ["tiny"]))
    assert sorted(r["model.kernel_size"] for r in rows) == ["2", "3"]
    assert all(r["runs"] == 2 and r["failed"] == 0 and np.isfinite(r["balanced"]) for r in rows)
