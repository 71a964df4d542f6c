"""Stage sound: a seeded sample of each algorithm group's training voices (at most
generate.critic.voices), rendered once (deepdx.audio.rendered), for the critic stage to fit
each group's critic against."""

import json
from pathlib import Path

import hydra
from tqdm import tqdm

from deepdx.audio.render import Renderer
from deepdx.audio.rendered import render_group
from deepdx.config import Config
from deepdx.corpus.split import group_path
from deepdx.corpus.table import read_table
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    renderer = Renderer()
    n_groups = len(json.loads(Path(cfg.data.split, "routing.json").read_text())["groups"])
    for g in tqdm(range(n_groups), desc="sound", unit="group"):
        train = read_table(group_path(cfg.data.split, "train", g))
        rendered = render_group(train["params"], train["category"], renderer, cfg.generate.critic.voices, cfg.seed + g)
        rendered.save(f"{cfg.data.sound}/group{g}.npz")
        print(f"sound: group {g}: {len(rendered.sound)} of {len(train['params'])} training voices rendered")


if __name__ == "__main__":
    main()
