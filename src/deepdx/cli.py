"""The `deepdx` command: generate, inspect, hear and send DX7 banks.

    deepdx generate --category brass [--count 32] [--out brass.syx] [--seed N] [--models DIR]
                    [--algorithm 1-32] [--temperature T] [--truncation PSI] [--guidance W]
                    [--candidates K [--realism W] [--category-ratio W] | --no-critic]
                    [--keep algorithm,op1_eg,carrier_levels --from bank.syx:N]     (flow models)
    deepdx vary bank.syx:N --strength S --count 32 --out variations.syx [--category C]  (flow models)
    deepdx show bank.syx
    deepdx render bank.syx --out DIR
    deepdx send bank.syx --port NAME        deepdx send --list-ports
    deepdx browse bank.syx [more.syx ...] --out DIR [--training data/split/train] [--no-nearest]

Bad input gives one line on stderr and exit status 2, never a traceback; `show` exits 1
for a file whose voices it can list but that is not a valid 32-voice bank, `browse` for a
bank it could not read (the page says why, on that bank's section).
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from .config import KNOB_MAX, ROUTINGS, BrowseConfig, GenerateConfig, knob_ok
from .dx7.params import BANK_VOICES, INDEX
from .errors import DeepDXError


def _read(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise DeepDXError(f"{path}: no such file")
    return p.read_bytes()


def _bank_voices(path: str, data: bytes | None = None):
    """The voices of a file that must be DX7 voice data (any form ingest reads)."""
    from .dx7.sysex import scan

    result = scan(_read(path) if data is None else data)
    if result.error:
        raise DeepDXError(f"{path}: {result.error}")
    blocks = [b for b in result.blocks if b.decoded is not None]
    if not blocks:
        raise DeepDXError(f"{path}: no readable voice ({'; '.join(b.problem for b in result.blocks)})")
    return result, np.concatenate([b.decoded.params for b in blocks])


MAX_COUNT = 1024 * BANK_VOICES  # voices one generate may ask for
GUIDANCE = (
    "flow models: classifier-free guidance, above 1 voices more surely of their category, below 1 more varied "
    "(0: the unconditional path); default: each model's own, calibrated on validation voices"
)


def _bank_paths(out: str, count: int) -> list[Path]:
    """The files ``count`` voices fill, in whole banks of 32: ``out``, or ``out_1``, ``out_2``... for more than one."""
    out, n_banks = Path(out), -(-count // BANK_VOICES)
    return [out] if n_banks == 1 else [out.with_name(f"{out.stem}_{b + 1}{out.suffix}") for b in range(n_banks)]


def _out_path(out: str | None, name: str, count: int) -> tuple[Path, str]:
    """Where ``count`` voices go, and a note for the user ("" when there is none): ``out`` with
    ``.syx`` added when it has no extension, ``<name>.syx`` inside it when it is a folder; with no
    ``out``, ``<name>.syx`` in the current folder for one bank, ``<name>/<name>_1.syx``... for several."""
    if out is None:
        return (Path(f"{name}.syx") if count <= BANK_VOICES else Path(name) / f"{name}.syx"), ""
    path = Path(out)
    if path.is_dir():
        return path / f"{name}.syx", ""
    if not path.suffix:
        return path.with_name(f"{path.name}.syx"), f"note: --out {out} has no extension: .syx added"
    return path, ""


OUT_HELP = (
    "the bank to write (.syx added to a name without an extension; a folder: {name}.syx in it); "
    "more than 32 voices: one bank each, {stem}_1.syx, {stem}_2.syx..."
)


def _check_guidance(guidance: float | None) -> None:
    if guidance is not None and not knob_ok(guidance):
        raise DeepDXError(f"--guidance must be between 0 and {KNOB_MAX:g}")


def cmd_generate(args) -> None:
    from .config import RepairConfig
    from .files import only_writer
    from .generate.banks import write_banks
    from .generate.sample import generate, load_models, training_keys

    if not 1 <= args.count <= MAX_COUNT:  # before anything is allocated
        raise DeepDXError(f"--count must be between 1 and {MAX_COUNT} ({MAX_COUNT // BANK_VOICES} banks)")
    if args.seed < 0:
        raise DeepDXError("--seed must be 0 or more")
    if args.algorithm is not None and not 1 <= args.algorithm <= 32:
        raise DeepDXError(f"--algorithm must be a panel number 1-32; got {args.algorithm}")
    if not all(k is None or knob_ok(k) for k in (args.temperature, args.truncation)):
        raise DeepDXError(f"--temperature and --truncation must be between 0 and {KNOB_MAX:g}")
    _check_guidance(args.guidance)
    if (args.keep is None) != (args.keep_from is None):
        raise DeepDXError("--keep and --from go together: the parameters to keep, and the voice to keep them from")
    if args.candidates < 1 or not args.realism >= 0 or not args.category_ratio >= 0:
        raise DeepDXError(
            f"--candidates must be 1 or more, --realism and --category-ratio 0 or more; "
            f"got {args.candidates}, {args.realism} and {args.category_ratio}"
        )
    critic_dir = None if args.no_critic or not Path(args.critic).is_dir() else args.critic
    models = load_models(
        args.models,
        args.routing,
        critic_dir,
        replace(
            GenerateConfig().critic, candidates=args.candidates, realism=args.realism, category=args.category_ratio
        ),
        guidance=args.guidance,
    )
    if args.keep is not None:
        from .generate.sample import Kept
        from .generate.variations import flow_only, kept_params, read_voice

        flow_only(models, "--keep")
        voice = read_voice(args.keep_from, lambda path: _bank_voices(path)[1])
        models.keep = Kept(voice, kept_params(args.keep, voice))
        if INDEX["algorithm"] in models.keep.params:
            own = int(voice[INDEX["algorithm"]]) + 1
            if args.algorithm not in (None, own):
                raise DeepDXError(f"--algorithm {args.algorithm} contradicts the kept algorithm {own}")
            args.algorithm = own
    exclude = training_keys(args.train) if Path(args.train).is_dir() else set()
    if not exclude:
        print(
            f"warning: no training voices under {args.train}; the novelty check covers this run only", file=sys.stderr
        )
    renderer = None
    if not args.no_repair or models.critics is not None:
        from .audio.render import Renderer

        renderer = Renderer()
    models.category_index(args.category)  # a known category before any file or folder is named after it
    out, note = _out_path(args.out, args.category, args.count)
    paths = _bank_paths(out, args.count)
    n_banks = len(paths)
    with only_writer(out):  # a second run to the same --out refuses rather than mixing its banks in
        made = generate(
            models,
            args.category,
            n_banks * BANK_VOICES,
            args.seed,
            exclude,
            args.routing_mode,
            renderer,
            RepairConfig(enabled=not args.no_repair),
            temperature=args.temperature,
            truncation=args.truncation,
            algorithm=args.algorithm,
        )
        write_banks(paths, made.params)
    if note:
        print(note)
    for path in paths:
        print(f"wrote {path}: {BANK_VOICES} {args.category} voices")
    if critic_dir is None and not args.no_critic:
        print(
            f"warning: no critics under {args.critic} (`dvc repro critic`): each voice is its model's first draw",
            file=sys.stderr,
        )
    if args.count % BANK_VOICES:
        print(f"note: {args.count} voices rounded up to {n_banks * BANK_VOICES} (whole banks of {BANK_VOICES})")
    repaired = sum(1 for f in made.fix if f)
    if repaired:
        print(f"repaired {repaired} voices (fixed/ratio switch): " + ", ".join(f for f in made.fix if f))


def cmd_vary(args) -> None:
    from .files import only_writer
    from .generate.banks import write_banks
    from .generate.sample import load_models
    from .generate.variations import read_voice, variations

    if not 0 <= args.strength <= 1:
        raise DeepDXError(f"--strength must be between 0 (the voice) and 1 (a fresh draw); got {args.strength}")
    if not 1 <= args.count <= MAX_COUNT or args.seed < 0:
        raise DeepDXError(f"--count must be between 1 and {MAX_COUNT}, --seed 0 or more")
    _check_guidance(args.guidance)
    voice = read_voice(args.voice, lambda path: _bank_voices(path)[1])
    models = load_models(args.models, args.routing, guidance=args.guidance)
    if args.category is None:
        from .corpus.categorize import classifier_features, load_classifier

        if not Path(args.classifier).is_file():
            raise DeepDXError(f"no classifier at {args.classifier} to tell the voice's category: pass --category")
        category = int(load_classifier(args.classifier).predict(classifier_features(voice[None]))[0])
    else:
        category = models.category_index(args.category)
    out, note = _out_path(args.out, "variations", args.count)
    paths = _bank_paths(out, args.count)
    made, group = variations(models, voice, category, args.strength, len(paths) * BANK_VOICES, args.seed)
    with only_writer(out):
        write_banks(paths, made)
    if note:
        print(note)
    for path in paths:
        print(
            f"wrote {path}: {BANK_VOICES} variations of {args.voice} at strength {args.strength:g} "
            f"({models.categories[category]}, group {group}'s flow)"
        )


def _manifest_categories(path: str) -> dict[str, str]:
    """Voice name -> category from a generate run's manifest.csv (a warning when it is missing)."""
    import csv

    if not Path(path).is_file():
        print(f"warning: no manifest at {path}; categories not shown", file=sys.stderr)
        return {}
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        return {row["name"].strip(): row["category"] for row in rows}
    except (KeyError, AttributeError, UnicodeDecodeError, csv.Error) as exc:
        raise DeepDXError(f"{path}: not a manifest with name and category columns ({exc!r})") from None


def cmd_show(args) -> int:
    from .dx7.packing import names
    from .dx7.params import INDEX
    from .dx7.sysex import check_bank

    data = _read(args.file)
    result, params = _bank_voices(args.file, data)
    categories = _manifest_categories(args.manifest) if args.manifest else {}
    forms = ", ".join(sorted({b.form for b in result.blocks}))
    print(f"{args.file}: {len(params)} voices ({forms})")
    for i, (name, row) in enumerate(zip(names(params), params)):
        cat = categories.get(name.strip(), "")
        print(f"{i + 1:3d}  {name}  algorithm {int(row[INDEX['algorithm']]) + 1:2d}  {cat}")
    problems = check_bank(data)
    if problems:
        print("not a valid 32-voice bank:\n  " + "\n  ".join(problems))
        return 1
    print("valid 32-voice bulk dump (header, checksum, 7-bit data, every parameter in range)")
    return 0


def cmd_render(args) -> None:
    from .audio.render import Renderer
    from .audio.wav import write_wav
    from .dx7.packing import names

    _, params = _bank_voices(args.file)
    renderer = Renderer()
    out = Path(args.out)
    for i, (name, voice) in enumerate(zip(names(params), params)):
        audio = renderer.render(voice)
        peak = max(float(np.abs(audio).max()), 1e-6)
        path = out / f"{i + 1:02d}_{name.strip().replace(' ', '_').replace('/', '_') or 'voice'}.wav"
        write_wav(path, audio / peak * 0.9, renderer.settings.sample_rate)
    print(f"wrote {len(params)} WAV files to {out}")


@contextmanager
def _quiet_stderr():
    """Silence what C libraries print on file descriptor 2 (ALSA's complaints) for a moment."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _midi_outputs() -> list[str]:
    import mido

    try:
        with _quiet_stderr():
            return mido.get_output_names()
    except ImportError as exc:
        raise DeepDXError(f"no MIDI backend ({exc}); install one with: pip install python-rtmidi") from None
    except Exception as exc:  # a backend, but no MIDI system behind it (no ALSA sequencer, say)
        raise DeepDXError(f"no MIDI system to send to ({exc})") from None


def cmd_send(args) -> None:
    import mido

    ports = _midi_outputs()
    if args.list_ports:
        print("\n".join(ports) if ports else "no MIDI output ports")
        return
    if not args.file:
        raise DeepDXError("send needs a bank file (or --list-ports)")
    from .dx7.sysex import check_bank

    data = _read(args.file)
    problems = check_bank(data)
    if problems:
        raise DeepDXError(f"{args.file} is not a valid bank: {problems[0]}")
    if args.port not in ports:
        raise DeepDXError(f"no MIDI output port {args.port!r}; available: {', '.join(ports) or 'none'}")
    with mido.open_output(args.port) as port:
        port.send(mido.Message.from_bytes(list(data)))
    print(f"sent {args.file} to {args.port}")


TRAINING = "data/split/train"


def cmd_browse(args) -> int:
    from .browse.build import build

    for bank in args.banks:
        if not Path(bank).is_file():
            raise DeepDXError(f"{bank}: no such file")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise DeepDXError(f"--out {args.out} is a file, not a folder")
    for flag, path in (("--manifest", args.manifest), ("--metrics", args.metrics), ("--models", args.models)):
        if path and not Path(path).exists():
            raise DeepDXError(f"{flag} {path}: no such file or folder")
    training = None if args.no_nearest else (args.training or TRAINING)
    if training and not Path(training).exists():
        if args.training:
            raise DeepDXError(f"--training {training}: no such folder")
        print(f"warning: no training voices at {TRAINING}; nearest voices not shown (--training DIR)", file=sys.stderr)
        training = None
    made = build(args.out, args.banks, args.manifest, training, args.metrics, args.models, args.mlflow_ui)
    print(
        f"wrote {Path(args.out) / 'index.html'}: {made['voices']} voices of {made['banks']} banks"
        + (f"; {made['missing_previews']} previews missing" if made["missing_previews"] else "")
    )
    for path, error in made["unreadable"].items():
        print(f"{path}: not shown: {error}", file=sys.stderr)
    return 1 if made["unreadable"] else 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="deepdx", description="Generate, inspect, hear and send DX7 voice banks.")
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate a bank of one category")
    g.add_argument("--category", required=True)
    g.add_argument("--count", type=int, default=32, help="voices (rounded up to whole banks of 32)")
    g.add_argument(
        "--out",
        default=None,
        help=OUT_HELP.format(name="CATEGORY", stem="OUT") + "; default: CATEGORY.syx here, or a folder CATEGORY/",
    )
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--models", default="data/models")
    g.add_argument("--routing", default="data/split/routing.json")
    g.add_argument("--train", default="data/split", help="training voices, for the novelty check")
    g.add_argument("--routing-mode", default="sample", choices=ROUTINGS)
    g.add_argument("--algorithm", type=int, default=None, help="every voice on this algorithm (1-32)")
    g.add_argument(
        "--temperature",
        type=float,
        default=GenerateConfig.temperature,
        help="choices (modes, curves, waveforms) drawn sharper (< 1, 0: the most likely) or looser (> 1); "
        "default: each model's own, calibrated on validation voices",
    )
    g.add_argument(
        "--truncation",
        type=float,
        default=GenerateConfig.truncation,
        help="noise scale: < 1 more typical voices, > 1 more varied; default: each model's own",
    )
    g.add_argument("--no-repair", action="store_true", help="skip the fixed/ratio repair pass")
    g.add_argument("--critic", default="data/critic", help="the critic stage's critics, by which draws are kept")
    g.add_argument(
        "--candidates",
        type=int,
        default=GenerateConfig().critic.candidates,
        help="draws per voice, one kept by the critic (1: the first draw)",
    )
    g.add_argument(
        "--realism",
        type=float,
        default=GenerateConfig().critic.realism,
        help="with the critic: how strongly draws outside the training voices' neighbourhoods are passed over "
        "(more typical voices; 0: not at all)",
    )
    g.add_argument(
        "--category-ratio",
        type=float,
        default=GenerateConfig().critic.category,
        help="with the critic: how strongly draws likelier of the category asked for among real voices than "
        "among the generator's are preferred (voices more surely of it, a little less varied; 0: not at all)",
    )
    g.add_argument("--no-critic", action="store_true", help="keep each voice's first draw")
    g.add_argument("--guidance", type=float, default=GenerateConfig.guidance, help=GUIDANCE)
    g.add_argument(
        "--keep",
        default=None,
        help="flow models: parameters every voice takes, bit for bit, from the --from voice (comma-separated: "
        "algorithm, op1_eg_rate1, op1_eg, op3, pitch_eg, carrier_levels...); the rest is generated to fit them",
    )
    g.add_argument("--from", dest="keep_from", default=None, metavar="BANK:N", help="the voice --keep reads")
    g.set_defaults(func=cmd_generate)
    v = sub.add_parser("vary", help="variations of one voice (flow models)")
    v.add_argument("voice", metavar="BANK:N", help="a voice: a bank (or any file ingest reads) and its slot from 1")
    v.add_argument("--strength", type=float, default=0.3, help="0: the voice itself ... 1: a fresh draw")
    v.add_argument("--count", type=int, default=32, help="voices (rounded up to whole banks of 32)")
    v.add_argument("--out", required=True, help=OUT_HELP.format(name="variations", stem="OUT"))
    v.add_argument("--category", default=None, help="default: the categorize stage's classifier's guess")
    v.add_argument("--classifier", default="data/categorize/classifier.skops")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--models", default="data/models")
    v.add_argument("--routing", default="data/split/routing.json")
    v.add_argument("--guidance", type=float, default=GenerateConfig.guidance, help=GUIDANCE)
    v.set_defaults(func=cmd_vary)
    s = sub.add_parser("show", help="list a bank's voices and validate it")
    s.add_argument("file")
    s.add_argument("--manifest", default=None, help="manifest.csv of a generate run, for categories")
    s.set_defaults(func=cmd_show)
    r = sub.add_parser("render", help="write a WAV preview of every voice")
    r.add_argument("file")
    r.add_argument("--out", required=True)
    r.set_defaults(func=cmd_render)
    m = sub.add_parser("send", help="send a bank to a synth over MIDI")
    m.add_argument("file", nargs="?")
    m.add_argument("--port")
    m.add_argument("--list-ports", action="store_true")
    m.set_defaults(func=cmd_send)
    b = sub.add_parser("browse", help="a static HTML page of banks: voices, envelopes, previews, nearest voices")
    b.add_argument("banks", nargs="+", metavar="BANK")
    b.add_argument("--out", required=True, help="folder for index.html and its audio/")
    b.add_argument("--training", default=None, help=f"training voices for the nearest voice (default {TRAINING})")
    b.add_argument("--no-nearest", action="store_true", help="no nearest training voices")
    b.add_argument("--manifest", default=None, help="manifest.csv of a generate run: categories, groups, previews")
    b.add_argument("--metrics", default=None, help="metrics/evaluate.json: the evaluation's figures")
    b.add_argument("--models", default=None, help="data/models: links to the training runs in MLflow")
    b.add_argument("--mlflow-ui", default=BrowseConfig.mlflow_ui, help="address of `mlflow ui` for those links")
    b.set_defaults(func=cmd_browse)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args) or 0  # show: 1 for a readable file that is not a valid bank
    except (DeepDXError, OSError) as exc:  # OSError: missing or unwritable files
        print(f"deepdx: error: {exc}", file=sys.stderr)
        return 2


def command() -> None:
    """The ``deepdx`` console command: ``main``, then out at once.  Everything it writes is
    closed by then (banks renamed into place, locks released, threads joined); what the
    interpreter would still do is tear torch down, 0.3-0.5 s of a two-second command
    (bench/generate_bank.py).  Output is flushed first."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader left (`deepdx show bank.syx | head -1`): nothing to tell it
        pass
    os._exit(code)


if __name__ == "__main__":
    command()
