"""Stage families: near-variants of one patch linked into families; each family goes whole to
train, validation or held-out, before any stage learns from the voices."""

import hydra

from deepdx.config import Config
from deepdx.corpus.families import describe, partition, summary
from deepdx.corpus.table import read_table, write_table
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    table = read_table(cfg.data.unique)
    table.update(partition(table["params"], cfg.families, cfg.seed))
    write_table(cfg.data.families, table)
    print(describe(summary(table["family"], table["split"])))


if __name__ == "__main__":
    main()
