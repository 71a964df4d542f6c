"""Evaluation figures into MLflow: one evaluate run, and each group's numbers into its training run."""
from __future__ import annotations

import json
from pathlib import Path

from ..tracking import ensure_experiment, tracking_uri


def _flat(metrics: dict) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, float) and v == v}


def log_evaluation(results: dict, out_dir: Path, models_dir: str, n_groups: int, mlflow_cfg: dict) -> None:
    import mlflow

    uri = tracking_uri(mlflow_cfg.get("tracking_uri"))
    experiment = mlflow_cfg.get("experiment", "deepdx")
    experiment_id = ensure_experiment(experiment, uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.create_run(experiment_id, run_name="evaluate", tags={"stage": "evaluate"})
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
