"""Stage split: six algorithm groups, per-group train/held-out splits, routing statistics, data plots."""
import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from deepdx.corpus import split as S
from deepdx.corpus.groups import check_groups, structural_groups
from deepdx.corpus.table import read_table, take, write_json, write_table
from deepdx.plots import data_plots
from deepdx.stage import DeepDXError, clean_exit


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@clean_exit
def main(cfg: DictConfig) -> None:
    table = read_table(cfg.data.categorized)
    categories = list(cfg.categorize.categories)
    algorithm = S.algorithms_of(table["params"])
    if cfg.split.grouping == "structural":
        groups = structural_groups(np.bincount(algorithm - 1, minlength=32), cfg.split.n_groups)
    elif cfg.split.grouping == "explicit":
        groups = OmegaConf.to_container(cfg.split.groups) if cfg.split.groups else []
        check_groups(groups)
    else:
        raise DeepDXError(f"split.grouping must be structural or explicit, got {cfg.split.grouping!r}")
    category = table["category"].astype(np.int64)
    group, held_out = S.split_groups(table["params"], category, groups, cfg.split.holdout, cfg.seed)
    table.update(group=group, algorithm=algorithm, split=np.where(held_out, "held_out", "train"))
    for g in range(len(groups)):
        write_table(f"{cfg.data.split}/group{g}.parquet", take(table, np.flatnonzero(group == g)))
    train = ~held_out
    write_json(f"{cfg.data.split}/routing.json",
               S.routing(category[train], group[train], algorithm[train], categories, groups))
    report = S.report(category, group, held_out, categories, groups)
    write_json(f"{cfg.data.metrics}/split.json", report)
    data_plots(cfg.data.plots, table["params"], category, algorithm, categories, table["name"],
               cfg.encoding.layout, seed=cfg.seed)
    print(f"split: {report['voices']} voices -> {report['train']} train + {report['held_out']} held out")
    for g, v in report["groups"].items():
        print(f"  group {g}: algorithms {v['algorithms']}: {v['voices']} voices ({v['held_out']} held out)")


if __name__ == "__main__":
    main()
