"""Sweeps past one process: jobs launched by the Hydra submitit launcher log to a real `mlflow
server` on a loopback port; a failed job is marked failed and the sweep goes on; a sweep
launched again skips what it finished; the Optuna sweeper searches; and MLflow's web UI,
in headless Chromium, opens the experiment on its runs and compares sweep runs."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
import pytest

from deepdx.browse import headless
from deepdx.tracking import KIND, KIND_TAG, ensure_experiment, runs_url
from tests.mlflow_server import mlflow_server
from tests.test_stages import ROOT, tiny_split

TINY = ["train.groups=[0]", "train.epochs=2", "train.steps=null", "train.batch_size=32", "train.progress_bar=false"]


def sweep(tmp_path, name: str, *overrides: str, uri: str, check: bool = True) -> subprocess.CompletedProcess:
    """``pipeline/train.py -m`` on a tiny split in ``tmp_path`` (unless ``data.split`` is swept)."""
    if not (tmp_path / "split").exists():
        tiny_split(tmp_path)
    split = [] if any(o.startswith("data.split=") for o in overrides) else [f"data.split={tmp_path / 'split'}"]
    proc = subprocess.run(
        [
            sys.executable,
            "pipeline/train.py",
            "-m",
            f"hydra.sweep.dir={tmp_path / name}",
            *split,
            *TINY,
            f"mlflow.tracking_uri={uri}",
            f"mlflow.experiment={name}",
            *overrides,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def runs_of(uri: str, experiment: str):
    client = mlflow.MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client, found, client.search_runs([found.experiment_id]) if found else []


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as uri:
        yield uri


@pytest.fixture(scope="module")
def launched(server, tmp_path_factory):
    """Two jobs launched by submitit (local processes, as on a Slurm node) into the server."""
    tmp = tmp_path_factory.mktemp("launch")
    proc = sweep(tmp, "launch", "hydra/launcher=submitit_local", "model.hidden=16,32", uri=server)
    return tmp, proc


def test_every_launched_job_arrives_at_the_server_once_with_its_metrics(server, launched):
    client, experiment, runs = runs_of(server, "launch")
    assert experiment.tags.get(KIND_TAG) == KIND
    assert sorted(r.data.params["model.hidden"] for r in runs) == ["16", "32"]  # none lost, none twice
    assert sorted(r.info.run_name for r in runs) == ["g0 model.hidden=16", "g0 model.hidden=32"]
    for r in runs:
        assert r.info.status == "FINISHED" and r.data.tags["sweep"] == str(launched[0] / "launch")
        history = client.get_metric_history(r.info.run_id, "probe/balanced")
        assert len(history) == 2  # one per epoch
        assert {a.path for a in client.list_artifacts(r.info.run_id)} >= {"group0_probe.png", "group0_sample.syx"}


def test_jobs_that_create_the_experiment_at_once_share_it(server, monkeypatch):
    # Two jobs of a sweep both find no experiment; the other one creates it first.  This one's
    # create is refused by the server (CI saw it: RESOURCE_ALREADY_EXISTS) and must read it.
    looked_up = mlflow.MlflowClient.get_experiment_by_name
    rival = {}

    def too_late(self, name):
        if not rival:
            rival["id"] = mlflow.MlflowClient(server).create_experiment(name, tags={KIND_TAG: KIND})
            return None
        return looked_up(self, name)

    monkeypatch.setattr(mlflow.MlflowClient, "get_experiment_by_name", too_late)
    assert ensure_experiment("at-once", server) == rival["id"]
    assert ensure_experiment("at-once", server) == rival["id"]  # and later ones find it

    def refused(self, name, **kw):  # any other refusal is not a rival's doing: it is raised
        raise MlflowException("no experiments today", error_code=INVALID_PARAMETER_VALUE)

    monkeypatch.setattr(mlflow.MlflowClient, "create_experiment", refused)
    with pytest.raises(MlflowException, match="no experiments today"):
        ensure_experiment("refused", server)


def test_a_failed_job_is_marked_failed_and_the_sweep_goes_on(server, tmp_path):
    # four jobs, in this order: no data (bad input: the stage's one-line error, before any run),
    # a good one, no data again, and one whose optimiser refuses its learning rate (an error
    # inside training, after its run began)
    proc = sweep(
        tmp_path,
        "failing",
        "train.lr_g=0.0003,-1",
        f"data.split={tmp_path}/nowhere,{tmp_path}/split",
        uri=server,
        check=False,
    )
    assert proc.returncode != 0  # the sweep reports its failures at the end
    _, _, runs = runs_of(server, "failing")
    status = sorted((r.data.params["train.lr_g"], r.info.status) for r in runs)
    assert status == [("-1.0", "FAILED"), ("0.0003", "FINISHED")]  # the jobs after a failure ran
    assert proc.stderr.count("nowhere/routing.json") >= 2  # each job without data said why


def test_a_sweep_launched_again_skips_what_it_finished(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep(tmp_path, "again", "model.hidden=16,32", uri=uri)
    proc = sweep(tmp_path, "again", "model.hidden=16,32", uri=uri)
    assert proc.stdout.count("already trained in this sweep folder") == 2
    assert len(runs_of(uri, "again")[2]) == 2


def test_the_optuna_sweeper_searches_and_every_trial_is_a_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep(tmp_path, "search", "+search=optuna", "hydra.sweeper.n_trials=2", uri=uri)
    _, _, runs = runs_of(uri, "search")
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert len({r.data.params["model.mode_seeking"] for r in runs}) == 2  # two points of the search space
    assert all("model.mode_seeking=" in r.info.run_name for r in runs)
    assert (tmp_path / "search" / "optimization_results.yaml").exists()


def test_the_mlflow_ui_opens_on_the_runs_and_compares_sweep_runs(server, launched, tmp_path):
    why = headless.missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the browser test: {why}")
        pytest.skip(why)
    from selenium.webdriver.support.ui import WebDriverWait

    _, experiment, runs = runs_of(server, "launch")
    names = sorted(r.info.run_name for r in runs)
    with headless.chromium(1600, 1000) as driver:
        wait = WebDriverWait(driver, 60)
        driver.get(runs_url(server, experiment.experiment_id))
        wait.until(lambda d: all(n in d.find_element("tag name", "body").text for n in names))
        assert "/runs" in driver.current_url and "workflowType=machine_learning" in driver.current_url
        boxes = wait.until(lambda d: d.find_elements("css selector", ".ag-row .ag-checkbox-input") or None)
        for box in {b.id: b for b in boxes}.values():
            driver.execute_script("arguments[0].click()", box)
        compare = wait.until(
            lambda d: [b for b in d.find_elements("css selector", "button") if b.text == "Compare"] or None
        )
        compare[0].click()
        wait.until(
            lambda d: "compare-runs" in d.current_url and "model.hidden" in d.find_element("tag name", "body").text
        )
        text = driver.find_element("tag name", "body").text
        assert "Comparing 2 Runs" in text
        assert all(n in text for n in names)
        assert "probe/balanced" in text and "probe/coverage" in text  # validation metrics, side by side
        assert all(r.info.run_id in driver.current_url for r in runs)
        shot = os.environ.get("DEEPDX_MLFLOW_SCREENSHOT") or str(tmp_path / "mlflow_compare.png")
        assert driver.save_screenshot(shot)
