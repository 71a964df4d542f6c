"""Stage critic: each group's critic (deepdx.generate.critic), its training voices (the sound
stage's) against as many of its generator's voices; metrics/critic.json tells how well each
tells them apart and, with generate.critic.report_draws, what sampling through it changes on
validation voices (the mean of that many draws; category fidelity by the categorize stage's classifier)."""

from pathlib import Path

import hydra
from tqdm import tqdm

from deepdx.audio.render import Renderer
from deepdx.audio.rendered import RenderedVoices
from deepdx.config import Config
from deepdx.corpus.categorize import load_classifier
from deepdx.corpus.split import group_path
from deepdx.corpus.table import read_table, write_json
from deepdx.evaluate.validation import validation_reports
from deepdx.generate.critic import fit_group, save_group
from deepdx.generate.sample import load_models
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> None:
    g_cfg, c = cfg.generate, cfg.generate.critic
    models = load_models(cfg.data.models, f"{cfg.data.split}/routing.json", guidance=g_cfg.guidance)
    renderer, critics = Renderer(), []
    for g, generator in enumerate(tqdm(models.generators, desc="critic: fit", unit="group")):
        path = Path(cfg.data.sound, f"group{g}.npz")
        if not path.exists():
            raise FileNotFoundError(f"no rendered training voices for group {g} at {path}: run `dvc repro sound`")
        critic = fit_group(
            generator,
            RenderedVoices.load(path),
            renderer,
            c.regularisation,
            cfg.seed + g,
            g_cfg.temperature,
            g_cfg.truncation,
            c.warmer,
        )
        save_group(cfg.data.critic, g, critic, read_table(group_path(cfg.data.split, "train", g))["params"])
        critics.append(critic)
    report = {
        "candidates": c.candidates,
        "strength": c.strength,
        "warmer": c.warmer,
        "realism": c.realism,
        "category": c.category,
        "report_draws": c.report_draws,
        "groups": {str(g): {"voices": critic.voices, "accuracy": critic.accuracy} for g, critic in enumerate(critics)},
    }
    if c.report_draws:
        models = load_models(
            cfg.data.models, f"{cfg.data.split}/routing.json", cfg.data.critic, c, g_cfg.repair, g_cfg.guidance
        )
        splits = {
            s: [read_table(group_path(cfg.data.split, s, g)) for g in range(len(critics))]
            for s in ("train", "validation")
        }
        groups, report["pooled"] = validation_reports(
            models,
            splits["validation"],
            splits["train"],
            renderer,
            cfg.seed,
            c.report_draws,
            g_cfg.repair,
            g_cfg.temperature,
            g_cfg.truncation,
            load_classifier(cfg.data.classifier),
        )
        for g, r in enumerate(groups):
            report["groups"][str(g)].update(r)
    write_json(f"{cfg.data.metrics}/critic.json", report)
    for g, r in report["groups"].items():
        line = (
            f"critic: group {g}: tells {r['voices']} training voices from as many generated "
            f"{100 * r['accuracy']:.0f} % of the time"
        )
        if c.report_draws:
            first, kept = r["generator"], r["critic"]
            line += (
                f"; validation ({c.report_draws} draw{'s' if c.report_draws > 1 else ''}), "
                "the generator alone -> through the critic: balanced "
                f"{first['balanced']:.3f} -> {kept['balanced']:.3f}, audio FD {first['audio_frechet']:.2f} -> "
                f"{kept['audio_frechet']:.2f}, harsh {100 * first['harsh_rate']:.1f} -> "
                f"{100 * kept['harsh_rate']:.1f} %, "
                f"category fidelity {first['category_fidelity']:.3f} -> {kept['category_fidelity']:.3f} "
                f"(validation voices {r['validation_category_fidelity']:.3f}); "
                f"{100 * r['other_draw']:.0f} % kept another than the first draw"
            )
        print(line)
    if c.report_draws:
        first, kept = report["pooled"]["generator"], report["pooled"]["critic"]
        print(
            "critic: the six groups pooled, validation, the generator alone -> through the critic: "
            + ", ".join(
                f"{m} {first[m]:.3f} -> {kept[m]:.3f}"
                for m in ("balanced", "precision", "recall", "density", "coverage")
            )
        )


if __name__ == "__main__":
    main()
