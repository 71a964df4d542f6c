"""A lever's validation figures beside `balanced`: audio FD and the harsh rate of a group's
generators, one first draw (as calibrated, no critic) per validation voice.

    python bench/validation_audio.py data/split --group 1 NAME=PATH/generator.pt [NAME=PATH ...] [--seed 43]

``--seed`` seeds the draws (the train stage's seed of the group: 42 + 1 for group 1 at seed 42,
3 at seed 2); the probe that picks the algorithms keeps ``--probe-seed`` (43) for every model.

Each generator is asked for its group's validation categories, with the algorithms the probe
chooses (the routing statistics of the training voices); its voices are rendered and measured
against the validation voices' own audio, as the evaluate stage measures held-out ones.
Prints one JSON line per generator.  Held-out voices are never opened.
"""

import argparse
import json

import numpy as np
import torch

from deepdx.audio.render import Renderer
from deepdx.corpus.encoding import with_blank_names
from deepdx.evaluate.audio_metrics import AudioReference
from deepdx.models.data import load_group
from deepdx.models.diagnostics import CollapseProbe
from deepdx.models.nets import load_generator


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("split", help="the split stage's folder (data/split)")
    ap.add_argument("models", nargs="+", metavar="NAME=PATH", help="generator.pt files, each with a name")
    ap.add_argument("--group", type=int, default=1)
    ap.add_argument("--seed", type=int, default=43, help="the draws' seed")
    ap.add_argument("--probe-seed", type=int, default=43, help="the probe's seed (the algorithms asked for)")
    args = ap.parse_args()
    validation, train = (load_group(args.split, s, args.group) for s in ("validation", "train"))
    reference = AudioReference(with_blank_names(validation["params"]), Renderer())
    probe = CollapseProbe(
        validation["params"], validation["category"], train["params"], train["category"], seed=args.probe_seed
    )
    category = torch.from_numpy(validation["category"].astype(np.int64))
    for name, path in (m.split("=", 1) for m in args.models):
        voices = load_generator(path).sample(
            category, torch.from_numpy(probe.algorithm), torch.Generator().manual_seed(args.seed)
        )
        audio = reference.evaluate(with_blank_names(voices))
        scores = probe(voices, validation["category"])
        print(
            json.dumps(
                {
                    "run": name,
                    "balanced": round(scores["balanced"], 3),
                    "audio_frechet": round(audio["audio_frechet"], 3),
                    "harsh_rate": round(audio["harsh_rate"], 4),
                }
            )
        )


if __name__ == "__main__":
    main()
