"""MLflow, the one place that talks to it: the store and the evaluation's figures.

The default store is a local embedded SQLite file, ``mlflow.db`` at the project root:
``DVC_ROOT`` when DVC runs the stage (queued experiments run in a temporary copy that is
deleted afterwards, so a relative store would lose their runs), else the current directory.
``mlflow.tracking_uri`` in conf/, else ``MLFLOW_TRACKING_URI``, overrides it.  A SQLite store
keeps its artifacts (``mlartifacts/``) and its creation lock beside its database file, so a
store in a temporary folder leaves nothing in the project.  Creating a fresh store from
several processes at once corrupts it, so creation is serialised with that file lock.  A
server has no such lock: jobs launched at once may each find no experiment and try to create
it, and all but the first are told it exists, then read it.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager, nullcontext
from pathlib import Path

from .config import MLflowConfig


# MLflow's UI opens an experiment of this kind on its runs table (training runs, their params
# and metrics); an experiment without the tag may open on the GenAI overview instead.
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"


def runs_url(ui: str, experiment_id: str) -> str:
    """The address of an experiment's runs table in MLflow's web UI (``ui``: the server's
    address).  The UI otherwise opens where the browser last was, by default the GenAI
    overview; ``workflowType`` puts it in its model-training view."""
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def project_root() -> Path:
    return Path(os.environ.get("DVC_ROOT") or os.getcwd()).resolve()


def tracking_uri(configured: str | None = None) -> str:
    """The configured URI, else ``MLFLOW_TRACKING_URI``, else the project's SQLite store."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


@contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def store_folder(uri: str) -> Path | None:
    """The folder of a SQLite store's database file (None for a server or another backend)."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :]).resolve().parent
    return None


def ensure_experiment(name: str, uri: str) -> str:
    """Create the store and experiment once (as a model-training experiment, ``KIND``); return
    its id.  A SQLite store's artifacts go beside its database; a server's go where the
    server puts them."""
    import mlflow

    from mlflow.exceptions import MlflowException

    folder = store_folder(uri)
    with _lock(folder / ".mlflow.lock") if folder else nullcontext():
        client = mlflow.MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            artifacts = (folder / "mlartifacts" / name).as_uri() if folder else None
            try:
                return client.create_experiment(name, artifact_location=artifacts, tags={KIND_TAG: KIND})
            except MlflowException as error:  # a server has no lock: another job created it first
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                experiment = client.get_experiment_by_name(name)
        if experiment.tags.get(KIND_TAG) is None:  # made by an older DeepDX, or by hand
            client.set_experiment_tag(experiment.experiment_id, KIND_TAG, KIND)
        return experiment.experiment_id


def _flat(metrics: dict) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, float) and v == v}


def log_evaluation(results: dict, out_dir: str | Path, models_dir: str, n_groups: int, cfg: MLflowConfig) -> None:
    """One run "evaluate" (overall figures, the report and plots; tagged with the model family and
    the DVC experiment's name), and each group's generator figures
    as ``eval/*`` metrics into that group's training run, so sweeps compare on them."""
    import mlflow

    uri = tracking_uri(cfg.tracking_uri)
    experiment_id = ensure_experiment(cfg.experiment, uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    tags = {"stage": "evaluate", "family": results.get("family", "cgan"), "dvc_exp": os.environ.get("DVC_EXP_NAME", "")}
    run = client.create_run(experiment_id, run_name="evaluate", tags=tags)
    for reference, metrics in results["overall"].items():
        for key, value in _flat(metrics).items():
            client.log_metric(run.info.run_id, f"{reference}.{key}", value)
    for path in sorted(Path(out_dir).glob("*")):
        client.log_artifact(run.info.run_id, str(path))
    client.set_terminated(run.info.run_id)
    for g in range(n_groups):
        summary = Path(models_dir) / f"group{g}" / "summary.json"
        run_id = json.loads(summary.read_text()).get("mlflow_run_id") if summary.exists() else None
        if run_id:
            for key, value in _flat(results["groups"][str(g)]["cgan"]).items():
                client.log_metric(run_id, f"eval/{key}", value)
