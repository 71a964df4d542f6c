"""A lever's verdict as tags on its MLflow run, and the report generated from the tagged runs."""

import subprocess
import sys

import mlflow
import pytest

from deepdx import decisions
from tests.conftest import ROOT


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("levers", artifact_location=str(tmp_path / "artifacts"))
    runs = {}
    for name, balanced in (("g1 model.hidden=768", 0.83), ("g1 model.r1=0.5", 0.79), ("g1 seed=2", 0.81)):
        run = client.create_run(experiment, run_name=name, tags={"overrides": name.split()[1]})
        client.log_metric(run.info.run_id, "sampled/balanced", balanced)
        client.log_metric(run.info.run_id, "probe/recall", balanced - 0.1)
        client.set_terminated(run.info.run_id)
        runs[name] = run.info.run_id
    return uri, client, runs


def cli(uri, *args):
    return subprocess.run(
        [sys.executable, "-m", "deepdx.decisions", "--tracking-uri", uri, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_recorded_verdicts_make_the_report_and_undecided_runs_stay_out(store):
    uri, client, runs = store
    assert (
        cli(
            uri, "record", runs["g1 model.hidden=768"], "--verdict", "not kept", "--why", "audio FD 6.2 against 4.3"
        ).returncode
        == 0
    )
    assert (
        cli(
            uri, "record", runs["g1 model.r1=0.5"], "--verdict", "kept", "--why", "recall +0.02 at both seeds"
        ).returncode
        == 0
    )
    tags = client.get_run(runs["g1 model.hidden=768"]).data.tags
    assert tags["decision"] == "not kept" and tags["why"] == "audio FD 6.2 against 4.3"
    report = cli(uri, "report")
    assert report.returncode == 0
    rows = [line for line in report.stdout.splitlines()[2:] if line]
    assert len(rows) == 2 and not any("seed=2" in r for r in rows)
    hidden = next(r for r in rows if "hidden" in r)
    assert "| levers | model.hidden=768 | 0.830 | | 0.730 |" in hidden.replace("|  |", "| |")
    assert hidden.endswith("| not kept | audio FD 6.2 against 4.3 |")
    assert cli(uri, "report", "--experiment", "other").stdout.count("\n") == 2  # header only


def test_bad_verdicts_and_unknown_runs_are_refused_in_one_line(store):
    uri, client, runs = store
    bad = cli(uri, "record", runs["g1 seed=2"], "--verdict", "maybe", "--why", "x")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    with pytest.raises(ValueError, match="say why"):
        decisions.record(client, runs["g1 seed=2"], "kept", "  ")
    unknown = cli(uri, "record", "0" * 32, "--verdict", "kept", "--why", "x")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error:") and len(unknown.stderr.splitlines()) == 1
    assert "decision" not in client.get_run(runs["g1 seed=2"]).data.tags
