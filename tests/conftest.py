"""Shared fixtures.

Real-corpus tests skip, saying why, when ../shared/corpus is absent; tests that only need
banks build their own, and a fixture that gives either says which in the test's name.  Under
CI (CI=true) no test may skip but those in ALLOWED_CI_SKIPS: the run fails, listing the others.
The whole session runs against a temporary MLflow store and Hypothesis folder, and fails if a
test leaves a file in the repository.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from deepdx.config import compose
from deepdx.dx7.params import uniform_voices

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DEEPDX_CORPUS", ROOT.parent / "shared" / "corpus"))
NO_CORPUS = "real DX7 corpus not found at {} (set DEEPDX_CORPUS to its folder)".format(CORPUS)
NO_FACTORY = "no factory banks (*.syx) in {}".format(CORPUS / "dx7" / "factory")
# what tools write into any checkout: not the tests' doing
TOOL_CACHES = {".git", ".venv", "__pycache__", ".pytest_cache"}


# what no machine of this project's kind has: an ALSA sequencer (containers), a CUDA device
ALLOWED_CI_SKIPS = ("this platform offers no virtual MIDI port", "no CUDA device")
_skipped: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_sessionfinish(session, exitstatus):
    """Under CI, a skip that is not the platform's own fails the run (CI must prove what it claims)."""
    if os.environ.get("CI") != "true":
        return
    bad = [(node, why) for node, why in _skipped if not any(a in why for a in ALLOWED_CI_SKIPS)]
    if bad:
        print(f"\nCI=true: {len(bad)} tests skipped that CI must run:", *(f"  {n}: {w}" for n, w in bad), sep="\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def repository_files() -> dict[str, tuple[int, int]]:
    """Every file in the checkout (symlinks not followed) with its mtime and size."""
    files = {}
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in TOOL_CACHES]
        for name in names:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            files[os.path.relpath(path, ROOT)] = (st.st_mtime_ns, st.st_size)
    return files


def pytest_configure(config):
    """Hypothesis keeps its example database and caches in a temporary folder: it writes its
    constants cache while test modules are imported, before any fixture runs."""
    from hypothesis import settings
    from hypothesis.configuration import set_hypothesis_home_dir
    from hypothesis.database import DirectoryBasedExampleDatabase

    home = Path(tempfile.mkdtemp(prefix="deepdx-hypothesis-"))
    set_hypothesis_home_dir(home)
    settings.register_profile("deepdx", database=DirectoryBasedExampleDatabase(home / "examples"))
    settings.load_profile("deepdx")


@pytest.fixture(scope="session", autouse=True)
def nothing_written_into_the_repository(tmp_path_factory):
    """MLflow writes under a temporary folder; at the end, no file in the checkout is new or
    changed (a test that writes into it errors here)."""
    store = tmp_path_factory.mktemp("mlflow")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store / 'mlflow.db'}"  # subprocesses inherit it
    before = repository_files()
    yield
    after = repository_files()
    touched = sorted(p for p in after if before.get(p) != after[p])
    assert not touched, f"tests (or a dvc repro running meanwhile) wrote into the repository: {touched[:10]}"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "dx7" / "compact.bin").exists():
        pytest.skip(NO_CORPUS)
    return CORPUS


@pytest.fixture(scope="session")
def factory_banks(corpus) -> list[Path]:
    banks = sorted((corpus / "dx7" / "factory").glob("*.syx"))
    if not banks:
        pytest.skip(NO_FACTORY)
    return banks


def random_voices(n: int, seed: int = 0) -> np.ndarray:
    """n x 155 valid parameter rows (uniform over each range; names printable)."""
    return uniform_voices(n, seed)


def built_banks(n: int = 32, seed: int = 0) -> list[bytes]:
    """n 32-voice banks of random voices; every fourth holds one out-of-range value (op6's
    first EG rate 120, as some factory banks hold such "watermarks"), with a right checksum."""
    from deepdx.dx7 import bank_bytes
    from deepdx.dx7.sysex import checksum

    out = []
    for b in range(n):
        data = bytearray(bank_bytes(random_voices(32, seed=seed * 1000 + b)))
        if b % 4 == 3:
            data[6] = 120
            data[-2] = checksum(data[6:-2])
        out.append(bytes(data))
    return out


@pytest.fixture(scope="session", params=["factory", "built"])
def banks(request) -> list[bytes]:
    """32 banks, once the factory banks (skips without the corpus), once built ones: the test's
    name says which ([factory] or [built])."""
    if request.param == "built":
        return built_banks()
    factory = sorted((CORPUS / "dx7" / "factory").glob("*.syx"))
    if len(factory) != 32:
        pytest.skip(NO_FACTORY if CORPUS.is_dir() else NO_CORPUS)
    return [p.read_bytes() for p in factory]


@pytest.fixture(scope="session", params=["real", "random"])
def voices(request) -> np.ndarray:
    """Once real voices (the first 2,000 of the corpus's compact.bin, valid ones; skips without the
    corpus), once 2,000 random ones: the test's name says which ([real] or [random])."""
    if request.param == "random":
        return random_voices(2000)
    path = CORPUS / "dx7" / "compact.bin"
    if not path.exists():
        pytest.skip(NO_CORPUS)
    from deepdx.dx7 import apply_policy, unpack

    d = unpack(np.frombuffer(path.read_bytes()[: 128 * 2000], np.uint8))
    verdict = apply_policy(d, "mask")
    return verdict.params[verdict.accepted]


CATS = ["keys", "bass", "brass", "strings", "organ", "bells", "lead", "perc"]
GROUPS = [[1, 2], [3, 4, 5]]


def split_dir(root: Path, groups: int, per_group: int = 110, held_out: int = 20, validation: int = 10) -> Path:
    """The split stage's layout under ``root``: random voices for each group, categories
    cycling over eight, the first ``held_out`` of each group held out, the next ``validation``
    for validation, the rest training voices."""
    from deepdx.corpus.split import write_groups

    rank = np.tile(np.arange(per_group), groups)
    table = {
        "params": np.concatenate([random_voices(per_group, seed=g) for g in range(groups)]),
        "category": rank % 8,
        "group": np.repeat(np.arange(groups), per_group),
        "split": np.where(rank < held_out, "held_out", np.where(rank < held_out + validation, "validation", "train")),
    }
    write_groups(table, root / "split", groups)
    return root / "split"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """What generate and evaluate read, small: untrained (randomly initialised) generators for
    two groups, routing statistics, and each group's split (80 training, 10 validation and 20
    held-out voices)."""
    import torch

    from deepdx.corpus.table import write_json

    root = tmp_path_factory.mktemp("gen")
    torch.manual_seed(0)
    for g in range(2):
        (root / "models" / f"group{g}").mkdir(parents=True)
        torch.save(cgan("model.channels=16").export(), root / "models" / f"group{g}" / "generator.pt")
    split_dir(root, 2)
    p_alg = {str(g): {c: {str(a): 1 / len(algs) for a in algs} for c in CATS} for g, algs in enumerate(GROUPS)}
    p_alg["1"]["bass"] = {"3": 0.0, "4": 0.0, "5": 1.0}
    write_json(
        root / "split" / "routing.json",
        {
            "categories": CATS,
            "groups": GROUPS,
            "p_algorithm": p_alg,
            "p_group": {c: [0.5, 0.5] if c != "bass" else [0.0, 1.0] for c in CATS},
        },
    )
    return root


def critics(workdir: Path) -> Path:
    """The critic stage's files for ``workdir``'s groups: each group's training voices rendered
    (the sound stage's) against as many of its (untrained) generator's voices, and their realism radii."""
    from deepdx.audio.render import Renderer
    from deepdx.audio.rendered import render_group
    from deepdx.corpus.split import group_path
    from deepdx.corpus.table import read_table
    from deepdx.generate.critic import fit_group, save_group
    from deepdx.models.nets import load_generator

    out = workdir / "critic"
    if not out.is_dir():
        renderer = Renderer()
        for g in range(len(GROUPS)):
            train = read_table(group_path(workdir / "split", "train", g))
            real = render_group(train["params"], train["category"], renderer, 1000, seed=g)
            generator = load_generator(workdir / "models" / f"group{g}" / "generator.pt")
            save_group(out, g, fit_group(generator, real, renderer, 0.05, seed=g), train["params"])
    return out


def critic_config(
    candidates: int,
    strength: float = 1.0,
    screen: bool = False,
    warmer: float = 0.0,
    realism: float = 0.0,
    category: float = 0.0,
):
    """Sampling through the critic with ``candidates`` draws, no screen, no warmer draws, no realism
    term and no category ratio unless asked."""
    from deepdx.config import CriticConfig

    return CriticConfig(
        candidates=candidates, strength=strength, screen=screen, warmer=warmer, realism=realism, category=category
    )


def cgan(*overrides: str, n_classes: int = 8, seed: int = 0):
    """A CGAN built from the composed config (e.g. cgan("model=seed", "model.channels=16"))."""
    from deepdx.models.cgan import CGAN

    return CGAN.from_config(compose(*overrides), n_classes, seed)
