"""MLflow store: the local embedded SQLite file at the repository root by default.

The root is ``DVC_ROOT`` when DVC runs the stage (queued experiments run in a temporary
copy that is deleted afterwards, so a relative store would lose their runs), else the
current directory.  ``MLFLOW_TRACKING_URI`` or ``mlflow.tracking_uri`` in conf/ override it.
Creating a fresh store from several processes at once corrupts it, so creation is
serialised with a file lock.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


def project_root() -> Path:
    return Path(os.environ.get("DVC_ROOT") or os.getcwd()).resolve()


def tracking_uri(configured: str | None = None) -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return configured or f"sqlite:///{project_root() / 'mlflow.db'}"


@contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_experiment(name: str, uri: str) -> str:
    """Create the store and experiment once (artifacts under the project root); return its id."""
    import mlflow

    with _lock(project_root() / ".mlflow.lock"):
        client = mlflow.MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        return client.create_experiment(name, artifact_location=(project_root() / "mlartifacts" / name).as_uri())
