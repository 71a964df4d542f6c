"""Stage ingest: read every file under data.raw, validate, write accepted voices and the report."""

import hydra

from deepdx.corpus.ingest import FILE_COLUMNS, REJECTED_COLUMNS, ingest, summary
from deepdx.corpus.table import write_csv, write_json, write_table
from deepdx.config import Config
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    result = ingest([cfg.data.raw], cfg.ingest)
    write_table(cfg.data.voices, result.table)
    write_csv(cfg.data.rejected, result.rejected, REJECTED_COLUMNS)
    write_csv(cfg.data.files, result.files, FILE_COLUMNS)
    write_json(f"{cfg.data.metrics}/ingest.json", result.report)
    print(summary(result.report))


if __name__ == "__main__":
    main()
