"""Stage evaluate: the CGANs against real held-out voices and baselines, in parameters and audio."""
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from deepdx.corpus.categorize import NameRules, features, train_classifier
from deepdx.corpus.table import read_table, write_json
from deepdx.evaluate.run import GroupData, evaluate, markdown, plots
from deepdx.evaluate.tracking import log_evaluation
from deepdx.generate import RepairConfig, load_models
from deepdx.stage import clean_exit


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@clean_exit
def main(cfg: DictConfig) -> None:
    models = load_models(cfg.data.models, f"{cfg.data.split}/routing.json")
    groups = []
    for g, algorithms in enumerate(models.routing["groups"]):
        t = read_table(f"{cfg.data.split}/group{g}.parquet")
        train, held = t["split"] == "train", t["split"] == "held_out"
        if cfg.evaluate.max_voices is not None:  # a seeded subset of the held-out voices
            rows = np.flatnonzero(held)
            keep = np.random.default_rng(cfg.seed + g).choice(rows, min(len(rows), cfg.evaluate.max_voices), replace=False)
            held = np.isin(np.arange(len(held)), keep)
        groups.append(GroupData(algorithms, t["params"][train], t["category"][train].astype(np.int64),
                                t["params"][held], t["category"][held].astype(np.int64)))
    # the categorize stage's classifier, refitted on every name-labelled voice, judges category fidelity
    c = cfg.categorize
    rules = NameRules.from_config(list(c.categories), OmegaConf.to_container(c.strong), OmegaConf.to_container(c.weak))
    table = read_table(cfg.data.categorized)
    labels = rules.label_all(table["name"])
    classifier = train_classifier(features(table["params"][labels >= 0]), labels[labels >= 0], cfg.seed, c.max_iter)

    results = evaluate(groups, models, classifier, cfg.seed, cfg.evaluate.audio,
                       repair_cfg=RepairConfig(**cfg.generate.repair))
    out = Path(cfg.data.evaluation)
    plots(results, models.categories, out)
    results.pop("nearest_training_distance")
    write_json(f"{cfg.data.metrics}/evaluate.json", results)
    report = markdown(results)
    (out / "report.md").write_text(report)
    log_evaluation(results, out, cfg.data.models, len(groups), OmegaConf.to_container(cfg.mlflow))
    print(report.split("## Group")[0])


if __name__ == "__main__":
    main()
