"""Stage sound: each algorithm group's typical sound, fitted on its training voices rendered
(deepdx.audio.typical); sampling draws again a generated voice that sounds unlike them.
Reports, per group, the share of its validation voices that lie within the limit."""
import json
from pathlib import Path

import hydra
from tqdm import tqdm

from deepdx.audio.features import render_features
from deepdx.audio.render import Renderer
from deepdx.audio.typical import fit_group
from deepdx.config import Config
from deepdx.corpus.split import group_path
from deepdx.corpus.table import read_table, write_json
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    check, renderer, report = cfg.generate.sound_check, Renderer(), {}
    n_groups = len(json.loads(Path(cfg.data.split, "routing.json").read_text())["groups"])
    for g in tqdm(range(n_groups), desc="sound", unit="group"):
        train, validation = (read_table(group_path(cfg.data.split, s, g))["params"] for s in ("train", "validation"))
        typical = fit_group(train, renderer, check.quantile, check.voices, cfg.seed + g)
        typical.save(f"{cfg.data.sound}/group{g}.npz")
        within = float(typical.typical(render_features(renderer, validation)).mean()) if len(validation) else None
        report[str(g)] = {"training_voices": typical.voices, "limit": typical.limit if typical.limit < float("inf") else None,
                          "validation_voices": len(validation), "validation_within": within}
    write_json(f"{cfg.data.metrics}/sound.json", {"quantile": check.quantile, "groups": report})
    for g, r in report.items():
        limit = "no limit (too few voices to fit)" if r["limit"] is None else f"limit {r['limit']:.1f}"
        within = "no" if r["validation_within"] is None else f"{100 * r['validation_within']:.1f} % of"
        print(f"sound: group {g}: {limit} from {r['training_voices']} training voices; "
              f"{within} {r['validation_voices']} validation voices within it")


if __name__ == "__main__":
    main()
