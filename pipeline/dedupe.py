"""Stage dedupe: keep one representative per sound and record every merge."""

import hydra

from deepdx.corpus.dedupe import MERGED_FIELDS, dedupe_table, summary
from deepdx.corpus.table import read_table, write_csv, write_json, write_table
from deepdx.config import Config
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    unique, merged, report = dedupe_table(read_table(cfg.data.voices), cfg.dedupe)
    write_table(cfg.data.unique, unique)
    write_csv(cfg.data.merged, merged, MERGED_FIELDS)
    write_json(f"{cfg.data.metrics}/dedupe.json", report)
    print(summary(report))


if __name__ == "__main__":
    main()
