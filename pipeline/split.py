"""Stage split: six algorithm groups, each group's train / validation / held-out files (the
families stage chose each voice's side), routing statistics, data plots."""

import hydra
import numpy as np

from deepdx.corpus import split as S
from deepdx.corpus.groups import choose_groups, group_of
from deepdx.corpus.table import read_table, write_json
from deepdx.config import Config
from deepdx.plots import data_plots, distance_plot
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    table = read_table(cfg.data.categorized)
    categories = list(cfg.categorize.categories)
    algorithm = S.algorithms_of(table["params"])
    groups = choose_groups(cfg.split, algorithm, table["split"])  # from training voices' algorithms only
    category = table["category"].astype(np.int64)
    table.update(group=group_of(groups)[algorithm - 1], algorithm=algorithm)
    S.write_groups(table, cfg.data.split, len(groups))
    train = table["split"] == "train"
    write_json(
        f"{cfg.data.split}/routing.json",
        S.routing(category[train], table["group"][train], algorithm[train], categories, groups),
    )
    distances = S.held_out_distances(table["params"], table["split"], cfg.seed)
    report = S.report(table, categories, groups, distances)
    write_json(f"{cfg.data.metrics}/split.json", report)
    data_plots(
        cfg.data.plots,
        table["params"],
        category,
        algorithm,
        categories,
        table["name"],
        cfg.encoding.layout,
        seed=cfg.seed,
    )
    distance_plot(cfg.data.plots, distances)
    print(
        f"split: {report['voices']} voices -> {report['train']} train, {report['validation']} validation, "
        f"{report['held_out']} held out ({report['families']['families']} families, none across splits)"
    )
    for name, near in report["held_out_to_nearest_training"].items():
        print(f"  held-out voices within 0.1 of a training voice, split {name}: {near['within_0.1']:.1%}")
    for g, v in report["groups"].items():
        print(
            f"  group {g}: algorithms {v['algorithms']}: {v['voices']} voices "
            f"({v['validation']} validation, {v['held_out']} held out)"
        )


if __name__ == "__main__":
    main()
