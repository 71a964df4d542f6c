"""Stage evaluate: the trained generators (CGANs or flows: evaluate.json's ``family``; the generated sets
keep the names ``cgan``, ``cgan_unchecked``, ``cgan_repaired`` for both) against real held-out voices and
baselines, in parameters and audio."""

from pathlib import Path

import hydra

from deepdx.config import Config
from deepdx.corpus.categorize import load_classifier
from deepdx.corpus.table import write_json
from deepdx.evaluate.run import evaluate, load_groups, markdown, plots
from deepdx.generate.sample import load_models
from deepdx.stage import stage
from deepdx.tracking import log_evaluation


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    g = cfg.generate
    models = load_models(
        cfg.data.models, f"{cfg.data.split}/routing.json", cfg.data.critic, g.critic, g.repair, g.guidance
    )
    groups = load_groups(cfg.data.split, models.routing["groups"], cfg.evaluate.max_voices, cfg.seed)
    classifier = load_classifier(cfg.data.classifier)  # the categorize stage's: judges category fidelity
    results = {"family": models.family} | evaluate(
        groups,
        models,
        classifier,
        cfg.seed,
        cfg.evaluate.audio,
        repair_cfg=g.repair,
        temperature=g.temperature,
        truncation=g.truncation,
    )
    plots(results, models.categories, cfg.data.evaluation)
    results.pop("nearest_training_distance")
    write_json(f"{cfg.data.metrics}/evaluate.json", results)
    report = markdown(results)
    Path(cfg.data.evaluation, "report.md").write_text(report)
    log_evaluation(results, cfg.data.evaluation, cfg.data.models, len(groups), cfg.mlflow)
    print(report.split("## Group")[0])


if __name__ == "__main__":
    main()
