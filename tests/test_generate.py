import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from deepdx.audio.render import Renderer
from deepdx.audio.repair import audio_problem, repair
from deepdx.cli import main as cli
from deepdx.config import RepairConfig
from deepdx.corpus.table import write_json, write_table
from deepdx.dx7.params import INDEX, op_index
from deepdx.dx7.sysex import check_bank
from deepdx.dx7.packing import sound_keys
from deepdx.generate.banks import generate_run
from deepdx.generate.sample import generate, load_models, voice_name
from tests.conftest import ROOT, cgan, random_voices

CATS = ["keys", "bass", "brass", "strings", "organ", "bells", "lead", "perc"]
GROUPS = [[1, 2], [3, 4, 5]]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Untrained (randomly initialised) generators for two groups, routing and a training split."""
    root = tmp_path_factory.mktemp("gen")
    torch.manual_seed(0)
    for g in range(2):
        (root / "models" / f"group{g}").mkdir(parents=True)
        torch.save(cgan("model.channels=16").export(), root / "models" / f"group{g}" / "generator.pt")
        params = random_voices(100, seed=g)
        write_table(root / "split" / f"group{g}.parquet",
                    {"params": params, "category": np.arange(100) % 8, "split": np.array(["train"] * 100)})
    p_alg = {str(g): {c: {str(a): 1 / len(algs) for a in algs} for c in CATS} for g, algs in enumerate(GROUPS)}
    p_alg["1"]["bass"] = {"3": 0.0, "4": 0.0, "5": 1.0}
    write_json(root / "split" / "routing.json", {"categories": CATS, "groups": GROUPS, "p_algorithm": p_alg,
                                                  "p_group": {c: [0.5, 0.5] if c != "bass" else [0.0, 1.0]
                                                              for c in CATS}})
    return root


def models(workdir):
    return load_models(workdir / "models", workdir / "split" / "routing.json")


def test_routing_chooses_group_and_algorithm(workdir):
    made = generate(models(workdir), "bass", 64, seed=1, exclude=set())
    assert (made.group == 1).all() and (made.algorithm == 5).all()
    assert (made.params[:, INDEX["algorithm"]] == 4).all()
    assert made.params[0, -10:].tobytes() == b"BASS 001  "
    made = generate(models(workdir), "keys", 200, seed=1, exclude=set())
    assert set(made.group) == {0, 1} and set(made.algorithm) <= {1, 2, 3, 4, 5}


def test_no_voice_repeats_a_training_or_earlier_voice(workdir):
    m = models(workdir)
    first = generate(m, "keys", 32, seed=7, exclude=set())
    exclude = set(sound_keys(first.params))
    again = generate(m, "keys", 32, seed=7, exclude=set(exclude))  # same draws: all known, drawn again
    assert again.resampled >= 32 and not (set(sound_keys(again.params)) & exclude)


def test_bad_requests_fail_clearly(workdir, tmp_path):
    from deepdx.stage import DeepDXError

    with pytest.raises(DeepDXError, match="unknown category 'kazoo'"):
        generate(models(workdir), "kazoo", 1, 0, set())
    with pytest.raises(DeepDXError, match="no trained model"):
        load_models(tmp_path, workdir / "split" / "routing.json")


def simple_voice(fixed: bool) -> np.ndarray:
    v = np.zeros(155, np.uint8)
    v[INDEX["algorithm"]] = 31  # algorithm 32: every operator a carrier
    for op in range(1, 7):
        for i in range(1, 5):
            v[op_index(op, f"eg_rate{i}")] = 99
        v[op_index(op, "detune")] = 7
    for i in range(1, 4):
        v[op_index(1, f"eg_level{i}")] = 99
    v[op_index(1, "output_level")] = 99
    v[op_index(1, "osc_mode")] = int(fixed)  # fixed at coarse 0, fine 0: 1 Hz, no pitch
    v[op_index(1, "freq_coarse")] = 1
    v[INDEX["transpose"]] = 24
    for i in range(1, 5):
        v[INDEX[f"pitch_eg_level{i}"]] = 50  # no pitch shift
    v[-10:] = np.frombuffer(b"TEST      ", np.uint8)
    return v


def test_repair_flips_a_wrongly_fixed_operator():
    r, cfg = Renderer(), RepairConfig()
    good, bad = simple_voice(False), simple_voice(True)
    assert audio_problem(r.render(good), 44100, cfg) == ""
    assert audio_problem(r.render(bad), 44100, cfg) != ""
    fixed, problem, fix = repair(bad, r, cfg)
    assert problem and fix == "OP1 fixed->ratio" and np.array_equal(fixed, good)
    assert repair(good, r, cfg)[2] == ""


def test_generate_run_writes_valid_banks_manifest_and_previews(workdir, tmp_path):
    dexed = pytest.importorskip("dexed")
    m = models(workdir)
    rows, report = generate_run(m, [("keys", 32), ("bass", 40)], 3, tmp_path, set(), previews=True,
                                repair_cfg=RepairConfig(), progress=False)
    banks = sorted((tmp_path / "banks").glob("*.syx"))
    assert [b.name for b in banks] == ["bass_1.syx", "bass_2.syx", "keys_1.syx"]
    for bank in banks:
        assert check_bank(bank.read_bytes()) == []
        assert len(dexed.Patch.load_bank(str(bank))) == 32
    assert report["voices"] == len(rows) == 96 and report["banks"] == 3
    keys = [bytes(json.dumps([r["bank"], r["slot"]]), "ascii") for r in rows]
    assert len(set(keys)) == 96 and all((tmp_path / r["preview"]).exists() for r in rows)
    assert (tmp_path / "previews" / "keys_1.wav").exists()
    all_params = np.concatenate([np.frombuffer(b.read_bytes()[6:4102], np.uint8) for b in banks])
    from deepdx.dx7 import unpack

    assert len(set(sound_keys(unpack(all_params).params))) == 96  # no duplicate across the run's banks


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "deepdx.cli", *args], cwd=ROOT, capture_output=True, text=True)


def test_cli_generate_show_render(workdir, tmp_path):
    out = tmp_path / "bank.syx"
    assert cli(["generate", "--category", "brass", "--count", "32", "--out", str(out), "--seed", "4",
                "--models", str(workdir / "models"), "--routing", str(workdir / "split" / "routing.json"),
                "--train", str(workdir / "split")]) == 0
    assert check_bank(out.read_bytes()) == []
    shown = run_cli("show", str(out))
    assert shown.returncode == 0 and "BRASS 001" in shown.stdout and "valid 32-voice bulk dump" in shown.stdout
    assert cli(["render", str(out), "--out", str(tmp_path / "wav")]) == 0
    assert len(list((tmp_path / "wav").glob("*.wav"))) == 32


@pytest.mark.parametrize("args, message", [
    (["show", "missing.syx"], "no such file"),
    (["generate", "--category", "kazoo", "--out", "x.syx", "--routing", "nowhere/routing.json"], "no routing statistics"),
    (["send", "--list-ports"], None),
])
def test_cli_errors_are_one_line(args, message, tmp_path):
    proc = run_cli(*args)
    if message is None:  # a MIDI backend may or may not exist here; either answer is clean
        assert "Traceback" not in proc.stderr
        return
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_cli_show_rejects_non_sysex(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    proc = run_cli("show", str(tmp_path / "notes.txt"))
    assert proc.returncode == 2 and "not DX7 data" in proc.stderr


def test_cli_without_models_or_with_unknown_category(workdir, tmp_path):
    routing = str(workdir / "split" / "routing.json")
    proc = run_cli("generate", "--category", "brass", "--out", str(tmp_path / "x.syx"), "--models",
                   str(tmp_path / "nowhere"), "--routing", routing)
    assert proc.returncode == 2 and "no trained model for group 0" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("generate", "--category", "kazoo", "--out", str(tmp_path / "x.syx"), "--models",
                   str(workdir / "models"), "--routing", routing, "--train", str(workdir / "split"))
    assert proc.returncode == 2 and "unknown category 'kazoo'; choose one of keys, bass" in proc.stderr


def test_names_stay_readable_past_999():
    assert voice_name("strings", 7).tobytes() == b"STRING 007"
    assert voice_name("strings", 1000).tobytes() == b"STRIN 1000"


def test_repeated_categories_are_merged_not_overwritten(workdir, tmp_path):
    rows, report = generate_run(models(workdir), [("keys", 32), ("keys", 32)], 3, tmp_path, set(), previews=False,
                                progress=False)
    assert report["banks"] == 2 and sorted({r["bank"] for r in rows}) == ["banks/keys_1.syx", "banks/keys_2.syx"]
    assert len({r["name"] for r in rows}) == 64
