"""Stage critic: each group's critic (deepdx.generate.critic), its training voices (the sound
stage's) against as many of its generator's voices, and a report on validation voices of what
sampling through it changes (metrics/critic.json)."""
import json
from pathlib import Path

import hydra
from tqdm import tqdm

from deepdx.audio.render import Renderer
from deepdx.audio.rendered import RenderedVoices
from deepdx.config import Config
from deepdx.corpus.split import group_path
from deepdx.corpus.table import read_table, write_json
from deepdx.evaluate.validation import validation_report
from deepdx.generate.critic import fit_group
from deepdx.generate.sample import load_models
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    g_cfg, c = cfg.generate, cfg.generate.critic
    models = load_models(cfg.data.models, f"{cfg.data.split}/routing.json")
    renderer, critics = Renderer(), []
    for g, generator in enumerate(tqdm(models.generators, desc="critic: fit", unit="group")):
        path = Path(cfg.data.sound, f"group{g}.npz")
        if not path.exists():
            raise FileNotFoundError(f"no rendered training voices for group {g} at {path}: run `dvc repro sound`")
        critic = fit_group(generator, RenderedVoices.load(path), renderer, c.regularisation, cfg.seed + g,
                           g_cfg.temperature, g_cfg.truncation, c.warmer)
        critic.save(f"{cfg.data.critic}/group{g}.npz")
        critics.append(critic)
    models = load_models(cfg.data.models, f"{cfg.data.split}/routing.json", cfg.data.critic, c, g_cfg.repair)
    report = {"candidates": c.candidates, "strength": c.strength, "warmer": c.warmer, "groups": {}}
    for g in tqdm(range(len(critics)), desc="critic: validation", unit="group"):
        train, validation = (read_table(group_path(cfg.data.split, s, g)) for s in ("train", "validation"))
        report["groups"][str(g)] = {"voices": critics[g].voices, "accuracy": critics[g].accuracy,
                                    **validation_report(models, g, validation, train, renderer, cfg.seed + g,
                                                        g_cfg.repair, g_cfg.temperature, g_cfg.truncation)}
    write_json(f"{cfg.data.metrics}/critic.json", report)
    for g, r in report["groups"].items():
        first, kept = r["generator"], r["critic"]
        print(f"critic: group {g}: tells {r['voices']} training voices from as many generated {100 * r['accuracy']:.0f} % "
              f"of the time; validation, the generator alone -> through the critic: balanced {first['balanced']:.3f} -> {kept['balanced']:.3f}, audio FD "
              f"{first['audio_frechet']:.2f} -> {kept['audio_frechet']:.2f}, harsh {100 * first['harsh_rate']:.1f} -> "
              f"{100 * kept['harsh_rate']:.1f} % ({100 * r['other_draw']:.0f} % kept another than the first draw)")


if __name__ == "__main__":
    main()
