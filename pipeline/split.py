"""Stage split: six algorithm groups, per-group train/held-out splits, routing statistics, data plots."""
import hydra

from deepdx.corpus import split as S
from deepdx.corpus.groups import choose_groups
from deepdx.corpus.table import read_table, take, write_json, write_table
from deepdx.config import Config
from deepdx.plots import data_plots
from deepdx.stage import stage
import numpy as np  # after deepdx, which pins OpenBLAS's code path (deepdx.reproducible)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    table = read_table(cfg.data.categorized)
    categories = list(cfg.categorize.categories)
    algorithm = S.algorithms_of(table["params"])
    groups = choose_groups(cfg.split, np.bincount(algorithm - 1, minlength=32))
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
