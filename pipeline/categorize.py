"""Stage categorize: name rules, then a parameter classifier for the voices names do not place."""

import hydra

from deepdx.corpus.categorize import NameRules, categorize, save_classifier
from deepdx.corpus.table import read_table, write_json, write_table
from deepdx.config import Config
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    c = cfg.categorize
    rules = NameRules.from_config(c)
    table = read_table(cfg.data.families)
    result = categorize(table["params"], table["name"], rules, table["split"], cfg.seed, c.max_iter)
    names = list(c.categories)
    table.update(
        category=result.category,
        category_name=[names[i] for i in result.category],
        confidence=result.confidence,
        how=result.how,
    )
    write_table(cfg.data.categorized, table)
    save_classifier(cfg.data.classifier, result.model)
    write_json(f"{cfg.data.metrics}/categorize.json", result.report)
    r, clf = result.report, result.report["classifier"]
    print(f"categorize: {r['voices']} voices, {r['by_rule']} by name rule, {r['by_model']} by classifier")
    print(
        f"  classifier ({clf['rounds']} rounds) on {clf['validation']} name-labelled validation voices, "
        f"families it never saw: accuracy {clf['accuracy']:.3f} (balanced {clf['balanced_accuracy']:.3f}) "
        f"vs majority baseline {clf['majority_baseline_accuracy']:.3f}"
    )
    print("  classes: " + ", ".join(f"{k} {v}" for k, v in r["classes"].items()))


if __name__ == "__main__":
    main()
