"""What only a flow model gives a musician: variations of a voice, and completions of chosen
parameters (deepdx.models.flow's ``vary`` and ``complete``), for the ``deepdx vary`` and
``deepdx generate --keep`` commands.

A voice is named ``BANK.syx:N`` (its slot, 1-32, in any file ingest reads).  Parameters to keep
are named as in deepdx.dx7.params, each item a name or the start of names up to an underscore
(``algorithm``, ``op1_eg``: OP1's eight envelope values, ``op3``: all of OP3, ``pitch_eg``), or
``carrier_levels``: the output levels of the voice's algorithm's carriers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..dx7.algorithms import carriers
from ..dx7.packing import names
from ..dx7.params import INDEX, N_SOUND_PARAMS, NAMES, op_index
from ..errors import DeepDXError
from ..models.flow import FlowGenerator
from .sample import Models, group_of_algorithm, voice_name

CARRIER_LEVELS = "carrier_levels"


def voice_ref(ref: str) -> tuple[str, int]:
    """``BANK.syx:N`` as (path, slot index from 0)."""
    path, _, slot = ref.rpartition(":")
    if not path or not slot.isdigit() or int(slot) < 1:
        raise DeepDXError(f"{ref}: name a voice as FILE:N, N its slot from 1 (bank.syx:5)")
    return path, int(slot) - 1


def read_voice(ref: str, bank_voices) -> np.ndarray:
    """The voice ``ref`` names; ``bank_voices(path)``: the file's voices (N x 155)."""
    path, slot = voice_ref(ref)
    voices = bank_voices(path)
    if slot >= len(voices):
        raise DeepDXError(f"{ref}: {Path(path).name} holds {len(voices)} voices")
    return voices[slot]


def kept_params(spec: str, voice: np.ndarray) -> np.ndarray:
    """The sound parameter indices ``spec`` names (comma-separated items, see above)."""
    out: set[int] = set()
    for item in (s.strip() for s in spec.split(",")):
        if item == CARRIER_LEVELS:
            out.update(op_index(op, "output_level") for op in carriers(int(voice[INDEX["algorithm"]]) + 1))
            continue
        named = [i for i, n in enumerate(NAMES[:N_SOUND_PARAMS]) if n == item or n.startswith(item + "_")]
        if not item or not named:
            raise DeepDXError(
                f"--keep: no DX7 sound parameter is called {item!r} or starts with {item + '_'!r} "
                f"(names as algorithm, op1_eg_rate1, op1_eg, op3, pitch_eg, or {CARRIER_LEVELS})"
            )
        out.update(named)
    return np.array(sorted(out), dtype=np.int64)


def flow_only(models: Models, what: str) -> None:
    if models.family != "flow":
        raise DeepDXError(f"{what} needs flow models (train them with model=flow); these are CGANs")


def variations(
    models: Models, voice: np.ndarray, category: int, strength: float, count: int, seed: int
) -> tuple[np.ndarray, int]:
    """(``count`` variations of ``voice`` as N x 155, named after it; the group whose model made
    them): from its algorithm's group's flow, as ``category``, at ``strength`` (0: the voice, 1: a
    fresh draw of the category)."""
    flow_only(models, "deepdx vary")
    g = group_of_algorithm(models, int(voice[INDEX["algorithm"]]) + 1)
    generator: FlowGenerator = models.generators[g]
    sound = generator.vary(voice, category, strength, count, torch.Generator().manual_seed(seed))
    stem = names(voice[None])[0].strip() or "VOICE"
    title = np.stack([voice_name(stem, i + 1) for i in range(count)])
    return np.concatenate([sound, title], axis=1), g
