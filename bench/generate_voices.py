"""Benchmark: generating 10,000 voices (sample, decode, novelty check, write banks).

    python bench/generate_voices.py [MODELS_DIR] [ROUTING_JSON]    (default: data/models, data/split/routing.json)

Target (issue 5): under 10 s on this machine, without the audio repair pass (timed apart).
"""

import sys
import tempfile
import time
from pathlib import Path

from deepdx.audio.render import Renderer
from deepdx.config import RepairConfig
from deepdx.dx7.sysex import write_bank
from deepdx.generate.sample import generate, load_models, training_keys


def main() -> None:
    models_dir = sys.argv[1] if len(sys.argv) > 1 else "data/models"
    routing = sys.argv[2] if len(sys.argv) > 2 else "data/split/routing.json"
    models = load_models(models_dir, routing)
    exclude = training_keys(Path(routing).parent)
    n = 10_000
    per = -(-n // len(models.categories) // 32) * 32  # whole banks per category, at least n in all
    t = time.perf_counter()
    written = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, category in enumerate(models.categories):
            made = generate(models, category, per, seed=i, exclude=exclude)
            for b in range(per // 32):
                write_bank(Path(tmp) / f"{category}_{b}.syx", made.params[b * 32 : (b + 1) * 32])
            written += per
    elapsed = time.perf_counter() - t
    print(
        f"{written} voices ({written // 32} banks) generated, decoded, checked and written in {elapsed:.2f} s "
        f"({written / elapsed:.0f} voices/s); target < 10 s: {'met' if elapsed < 10 else 'MISSED'}"
    )
    renderer = Renderer()
    made = generate(models, models.categories[0], 256, seed=99, exclude=set())
    t = time.perf_counter()
    generate(models, models.categories[0], 256, seed=99, exclude=set(), renderer=renderer, repair_cfg=RepairConfig())
    repair_s = time.perf_counter() - t
    print(f"with the audio repair pass: 256 voices in {repair_s:.2f} s ({256 / repair_s:.0f} voices/s)")


if __name__ == "__main__":
    main()
