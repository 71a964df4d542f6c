"""Stage categorize: name rules, then a parameter classifier for the voices names do not place."""
import hydra
from omegaconf import DictConfig, OmegaConf

from deepdx.corpus.categorize import NameRules, categorize
from deepdx.corpus.table import read_table, write_json, write_table
from deepdx.stage import clean_exit


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@clean_exit
def main(cfg: DictConfig) -> None:
    c = cfg.categorize
    rules = NameRules.from_config(list(c.categories), OmegaConf.to_container(c.strong), OmegaConf.to_container(c.weak))
    table = read_table(cfg.data.unique)
    result = categorize(table["params"], table["name"], rules, c.holdout, cfg.seed, c.max_iter)
    names = list(c.categories)
    table.update(category=result.category, category_name=[names[i] for i in result.category],
                 confidence=result.confidence, how=result.how)
    write_table(cfg.data.categorized, table)
    write_json(f"{cfg.data.metrics}/categorize.json", result.report)
    r, clf = result.report, result.report["classifier"]
    print(f"categorize: {r['voices']} voices, {r['by_rule']} by name rule, {r['by_model']} by classifier")
    print(f"  classifier on {clf['held_out']} held-out name-labelled voices: accuracy {clf['accuracy']:.3f} "
          f"(balanced {clf['balanced_accuracy']:.3f}) vs majority baseline {clf['majority_baseline_accuracy']:.3f}")
    print("  classes: " + ", ".join(f"{k} {v}" for k, v in r["classes"].items()))


if __name__ == "__main__":
    main()
