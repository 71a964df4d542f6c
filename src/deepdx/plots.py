"""Pictures of the data: written as PNG for people, and as CSV where `dvc plots` can draw them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .corpus.encoding import encode  # noqa: E402
from .corpus.table import write_csv  # noqa: E402


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def data_plots(
    out: str | Path,
    params,
    category,
    algorithm,
    categories: list[str],
    names,
    layout: str,
    per_category: int = 6,
    seed: int = 0,
) -> list[Path]:
    out = Path(out)
    n_cat = len(categories)
    heat = np.zeros((n_cat, 32), dtype=int)
    np.add.at(heat, (category, algorithm - 1), 1)

    fig, ax = plt.subplots(figsize=(13, 4))
    im = ax.imshow(heat, aspect="auto", cmap="viridis")
    ax.set_xticks(range(32), [str(a) for a in range(1, 33)])
    ax.set_yticks(range(n_cat), categories)
    ax.set_xlabel("algorithm")
    ax.set_title("voices per category and algorithm")
    fig.colorbar(im, ax=ax, label="voices")
    _save(fig, out / "category_algorithm.png")
    write_csv(
        out / "category_algorithm.csv",
        [
            dict(category=c, algorithm=a + 1, voices=int(heat[i, a]))
            for i, c in enumerate(categories)
            for a in range(32)
        ],
        ["category", "algorithm", "voices"],
    )

    alg_counts = heat.sum(0)
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.bar(range(1, 33), alg_counts, color=["tab:red" if c == alg_counts.max() else "tab:blue" for c in alg_counts])
    ax.set_xticks(range(1, 33))
    ax.set_xlabel("algorithm")
    ax.set_ylabel("voices")
    ax.set_title(f"algorithm use (most used: {int(alg_counts.argmax()) + 1})")
    _save(fig, out / "algorithms.png")
    write_csv(
        out / "algorithms.csv",
        [dict(algorithm=a + 1, voices=int(n)) for a, n in enumerate(alg_counts)],
        ["algorithm", "voices"],
    )

    cat_counts = heat.sum(1)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(categories, cat_counts)
    ax.set_ylabel("voices")
    ax.set_title("voices per category")
    _save(fig, out / "categories.png")
    write_csv(
        out / "categories.csv",
        [dict(category=c, voices=int(n)) for c, n in zip(categories, cat_counts)],
        ["category", "voices"],
    )

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(n_cat, per_category, figsize=(per_category * 1.4, n_cat * 1.55))
    for i, cat in enumerate(categories):
        members = np.flatnonzero(category == i)
        pick = rng.choice(members, min(per_category, len(members)), replace=False) if len(members) else []
        grids = encode(params[pick], layout) if len(pick) else []
        for j in range(per_category):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(pick):
                ax.imshow(grids[j], cmap="magma", vmin=-1, vmax=1)
                ax.set_title(names[pick[j]].strip(), fontsize=6)
        axes[i, 0].set_ylabel(cat, fontsize=8)
    fig.suptitle(f"real voices as 16x16 grids ({layout})", fontsize=9)
    _save(fig, out / "sample_voices.png")
    return sorted(out.glob("*.png"))


def distance_plot(out: str | Path, distances: dict[str, np.ndarray], top: float = 3.0, bins: int = 60) -> None:
    """How far held-out voices lie from the nearest training voice, one curve per way of
    splitting (``held_out_to_training.png``; the CSV, share of held-out voices per bin, for
    ``dvc plots``)."""
    out = Path(out)
    edges = np.linspace(0, top, bins + 1)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    shares = {}
    for name, d in distances.items():
        shares[name] = np.histogram(np.minimum(d, top), edges)[0] / max(len(d), 1)
        ax.stairs(
            shares[name],
            edges,
            label=f"{name} (median {np.median(d):.2f}; {np.mean(d <= 0.1):.0%} within 0.1)",
            linewidth=1.6,
        )
    ax.set_xlabel(f"distance to the nearest training voice (normalised parameters; > {top:g} drawn at {top:g})")
    ax.set_ylabel("share of held-out voices")
    ax.set_title("held-out voices against the training voices, by way of splitting")
    ax.legend()
    _save(fig, out / "held_out_to_training.png")
    write_csv(
        out / "held_out_to_training.csv",
        [
            dict(distance=round(float(lo), 3), split=name, share=round(float(v[i]), 5))
            for name, v in shares.items()
            for i, lo in enumerate(edges[:-1])
        ],
        ["distance", "split", "share"],
    )
