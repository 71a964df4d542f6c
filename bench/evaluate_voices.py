"""Benchmark: evaluating 1,024 generated voices, audio included (target: under 60 s).

    python bench/evaluate_voices.py [MODELS_DIR] [SPLIT_DIR]   (default: data/models, data/split)

Times what the evaluate stage does for one set: building the reference (held-out voices
rendered, k-means bins) and measuring the generated set (PRDC, NDB, FD, memorisation,
diversity, 1,024 renders and their audio metrics).
"""

import sys
import time

import numpy as np
import torch

from deepdx.audio.render import Renderer
from deepdx.evaluate.audio_metrics import AudioReference
from deepdx.evaluate.metrics import Reference
from deepdx.evaluate.run import load_groups, measure
from deepdx.generate.sample import load_models, sample_group


def main() -> None:
    models_dir = sys.argv[1] if len(sys.argv) > 1 else "data/models"
    split = sys.argv[2] if len(sys.argv) > 2 else "data/split"
    models = load_models(models_dir, f"{split}/routing.json")
    group = load_groups(split, models.routing["groups"])[0]
    train, held = group.train, group.held_out
    category = np.arange(1024) % len(models.categories)
    t0 = time.perf_counter()
    voices = sample_group(models, 0, category, np.random.default_rng(0), torch.Generator().manual_seed(0))
    ref = Reference(train, held)
    aref = AudioReference(held, Renderer())
    t1 = time.perf_counter()
    metrics = measure(ref, voices, category, None, aref)
    t2 = time.perf_counter()
    print(
        f"1024 voices: sampling + reference ({len(held)} held-out voices rendered) {t1 - t0:.2f} s, "
        f"metrics with audio {t2 - t1:.2f} s, total {t2 - t0:.2f} s; target < 60 s: "
        f"{'met' if t2 - t0 < 60 else 'MISSED'}"
    )
    print({k: round(v, 3) for k, v in metrics.items() if isinstance(v, float)})


if __name__ == "__main__":
    main()
