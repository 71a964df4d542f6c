"""Stage generate: banks of new voices per category, a manifest, WAV previews."""

import hydra

from deepdx.config import Config
from deepdx.corpus.table import write_csv, write_json
from deepdx.generate.banks import MANIFEST_FIELDS, generate_run
from deepdx.generate.sample import load_models, training_keys
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    g = cfg.generate
    models = load_models(
        cfg.data.models, f"{cfg.data.split}/routing.json", cfg.data.critic, g.critic, g.repair, g.guidance
    )
    categories = list(g.categories) if g.categories else models.categories
    requests = [(c, 32 * g.banks_per_category) for c in categories]
    rows, report = generate_run(
        models,
        requests,
        cfg.seed,
        cfg.data.generated,
        training_keys(cfg.data.split),
        g.routing,
        g.repair,
        g.previews,
        temperature=g.temperature,
        truncation=g.truncation,
    )
    write_csv(f"{cfg.data.generated}/manifest.csv", rows, MANIFEST_FIELDS if g.previews else MANIFEST_FIELDS[:-1])
    write_json(f"{cfg.data.metrics}/generate.json", report)
    print(
        f"generate: {report['voices']} voices in {report['banks']} banks under {cfg.data.generated}/banks; "
        f"{report['resampled_duplicates']} duplicates drawn again; {report['critic_other_draw']} kept another of "
        f"{report['critic_candidates']} draws by the critic; {report['problems_found']} silent or shrill, "
        f"{report['repaired']} repaired, {report['unrepaired_problems']} left as they were"
    )


if __name__ == "__main__":
    main()
