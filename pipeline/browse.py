"""Stage browse: one static page of every generated bank, beside the nearest training voices
and the evaluation's figures (data/browse/index.html, opened from disk)."""

from pathlib import Path

import hydra

from deepdx.browse.build import build
from deepdx.config import Config
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    d = cfg.data
    banks = sorted(Path(d.generated, "banks").glob("*.syx"))
    made = build(
        d.browse,
        banks,
        manifest=f"{d.generated}/manifest.csv",
        training=f"{d.split}/train" if cfg.browse.nearest else None,
        metrics=f"{d.metrics}/evaluate.json",
        models=d.models,
        mlflow_ui=cfg.browse.mlflow_ui,
    )
    print(
        f"browse: {made['voices']} voices of {made['banks']} banks in {d.browse}/index.html; "
        f"{len(made['unreadable'])} unreadable banks, {made['missing_previews']} missing previews"
    )


if __name__ == "__main__":
    main()
