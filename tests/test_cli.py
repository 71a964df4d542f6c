"""The `deepdx` command: each subcommand's good path, and every bad input giving one line on
stderr and exit status 2 (never a traceback)."""

import os
import subprocess
import sys
import time

import mido
import numpy as np
import pytest
import torch

from deepdx.cli import main as cli
from deepdx.dx7 import bank_bytes
from deepdx.dx7.sysex import check_bank
from tests.conftest import ROOT, critics, random_voices
from tests.midi_loopback import PORT


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "deepdx.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def fails(capsys, args, message):
    """The command exits 2 with one line on stderr holding ``message``."""
    assert cli([str(a) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def generate_args(workdir, *more):
    return [
        "generate",
        "--category",
        "brass",
        "--models",
        workdir / "models",
        "--routing",
        workdir / "split" / "routing.json",
        "--train",
        workdir / "split",
        "--critic",
        critics(workdir),
        *more,
    ]


@pytest.fixture
def bank(tmp_path):
    path = tmp_path / "bank.syx"
    path.write_bytes(bank_bytes(random_voices(32, seed=2)))
    return path


@pytest.fixture
def bad_bank(tmp_path):
    data = bytearray(bank_bytes(random_voices(32, seed=3)))
    data[4102] ^= 1  # checksum
    path = tmp_path / "badsum.syx"
    path.write_bytes(bytes(data))
    return path


def test_generate_show_render(workdir, tmp_path):
    out = tmp_path / "bank.syx"
    assert cli([str(a) for a in generate_args(workdir, "--out", out, "--seed", "4")]) == 0
    assert check_bank(out.read_bytes()) == []
    shown = run_cli("show", str(out))
    assert shown.returncode == 0 and "BRASS 001" in shown.stdout and "valid 32-voice bulk dump" in shown.stdout
    assert cli(["render", str(out), "--out", str(tmp_path / "wav")]) == 0
    assert len(list((tmp_path / "wav").glob("*.wav"))) == 32


def test_generate_samples_through_the_critic_unless_told_not_to_or_without_critics(workdir, tmp_path, capsys):
    made = {}
    for name, more in {
        "critic": [],
        "no critic": ["--no-critic"],
        "one candidate": ["--candidates", "1"],
        "two": ["--candidates", "2"],
        "missing": ["--critic", tmp_path / "none"],
        "realism": ["--realism", "30"],
        "category": ["--category-ratio", "20"],
    }.items():
        out = tmp_path / f"{name}.syx"
        assert cli([str(a) for a in generate_args(workdir, "--out", out, "--seed", "4", *more)]) == 0
        made[name] = (out.read_bytes(), capsys.readouterr().err)
    plain = made["no critic"][0]
    assert made["critic"][0] != plain and made["two"][0] not in (plain, made["critic"][0])
    assert made["category"][0] not in (plain, made["critic"][0]) and made["category"][1] == ""
    assert (
        made["realism"][1] == ""
    )  # read the training voices beside the routing statistics (what it keeps: test_generate)
    assert made["one candidate"][0] == made["missing"][0] == plain
    assert made["critic"][1] == made["no critic"][1] == ""
    assert "no critics under" in made["missing"][1] and "first draw" in made["missing"][1]
    fails(
        capsys,
        generate_args(workdir, "--out", tmp_path / "x.syx", "--candidates", "0"),
        "--candidates must be 1 or more",
    )
    fails(capsys, generate_args(workdir, "--out", tmp_path / "x.syx", "--realism", "-1"), "--category-ratio 0 or more")
    fails(capsys, generate_args(workdir, "--out", tmp_path / "x.syx", "--category-ratio", "-1"), " and -1.0")


def test_bad_input_is_one_line_and_exit_2_in_a_real_process(tmp_path):
    proc = run_cli("generate", "--category", "kazoo", "--out", "x.syx", "--routing", str(tmp_path / "routing.json"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip() == f"deepdx: error: no routing statistics at {tmp_path / 'routing.json'}: "
        "run `dvc repro split` first"
    )


def test_generate_bad_requests(workdir, tmp_path, capsys):
    out = tmp_path / "x.syx"
    fails(capsys, generate_args(workdir, "--out", out, "--count", "0"), "--count must be between 1 and 32768")
    fails(capsys, generate_args(workdir, "--out", out, "--count", str(10**12)), "--count must be between 1 and 32768")
    fails(capsys, generate_args(workdir, "--out", out, "--seed", "-3"), "--seed must be 0 or more")
    args = generate_args(workdir, "--out", out)
    args[2] = "kazoo"
    fails(capsys, args, "unknown category 'kazoo'; choose one of keys, bass")
    args = generate_args(workdir, "--out", out)
    args[4] = tmp_path / "nowhere"
    fails(capsys, args, "no trained model for group 0")
    assert not out.exists()  # nothing half-written


def test_generate_with_a_corrupt_model_or_routing(workdir, tmp_path, capsys):
    models = tmp_path / "models"
    for g in range(2):
        (models / f"group{g}").mkdir(parents=True)
        (models / f"group{g}" / "generator.pt").write_bytes(
            (workdir / "models" / f"group{g}" / "generator.pt").read_bytes()
        )
    (models / "group1" / "generator.pt").write_bytes(b"PK\x03\x04 not really a zip")
    args = generate_args(workdir, "--out", tmp_path / "x.syx")
    args[4] = models
    fails(capsys, args, f"{models / 'group1' / 'generator.pt'}: not a DeepDX generator file")
    torch.save({"generator": {}, "net": {"latent": 100}}, models / "group1" / "generator.pt")
    fails(capsys, args, "group1/generator.pt: ")
    tampered = torch.load(workdir / "models" / "group1" / "generator.pt", weights_only=True)
    tampered["net"]["latent"] = 10**9  # would allocate a 10^9-wide first layer
    torch.save(tampered, models / "group1" / "generator.pt")
    fails(capsys, args, "group1/generator.pt: model.latent must be between 1 and 4096; got 1000000000")
    routing = tmp_path / "routing.json"
    for text in (
        "{not json",
        '{"groups": [[1, 2]]}',
        '{"groups": 3, "categories": [], "p_group": {}, "p_algorithm": {}}',
    ):
        routing.write_text(text)
        args = generate_args(workdir, "--out", tmp_path / "x.syx")
        args[6] = routing
        fails(capsys, args, f"{routing}: not routing statistics from the split stage")
    assert not (tmp_path / "x.syx").exists()


def contents(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_second_generate_to_the_same_out_refuses_and_writes_nothing(workdir, tmp_path, capsys):
    out = tmp_path / "bank.syx"
    out.write_bytes(b"an earlier bank")
    holder = subprocess.Popen(  # another process in the middle of writing to the same --out
        [
            sys.executable,
            "-c",
            "import sys\nfrom deepdx.files import only_writer\nwith only_writer(sys.argv[1]):\n"
            "    print('held', flush=True)\n    sys.stdin.read()",
            str(out),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        before = contents(tmp_path)
        fails(
            capsys,
            generate_args(workdir, "--out", out),
            f"{out} is being written by another process (pid {holder.pid})",
        )
        assert contents(tmp_path) == before
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / ".bank.syx.lock").exists()  # left by the killed holder, and it blocks nothing
    assert cli([str(a) for a in generate_args(workdir, "--out", out)]) == 0 and check_bank(out.read_bytes()) == []
    assert sorted(contents(tmp_path)) == ["bank.syx"]  # the run that held the lock removed it


def test_an_interrupted_generate_leaves_no_half_bank(workdir, tmp_path, capsys, monkeypatch):
    from deepdx.generate import banks

    def half_then_fail(path, params):
        path.write_bytes(bank_bytes(params)[:2000])
        raise OSError("No space left on device")

    out = tmp_path / "bank.syx"
    out.write_bytes(b"an earlier bank")
    monkeypatch.setattr(banks, "write_bank", half_then_fail)
    fails(capsys, generate_args(workdir, "--out", out), "No space left on device")
    assert contents(tmp_path) == {"bank.syx": b"an earlier bank"}  # no half bank, no lock left
    monkeypatch.undo()
    assert cli([str(a) for a in generate_args(workdir, "--out", out, "--count", "64")]) == 0
    assert sorted(contents(tmp_path)) == ["bank.syx", "bank_1.syx", "bank_2.syx"]  # no temporaries, no lock


def test_generate_names_the_bank_after_its_category_and_adds_the_extension(workdir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli([str(a) for a in generate_args(workdir)]) == 0  # no --out: brass.syx here
    assert "wrote brass.syx: 32 brass voices" in capsys.readouterr().out
    assert sorted(contents(tmp_path)) == ["brass.syx"] and check_bank((tmp_path / "brass.syx").read_bytes()) == []
    assert cli([str(a) for a in generate_args(workdir, "--count", "40")]) == 0  # several banks: a folder
    assert sorted(contents(tmp_path / "brass")) == ["brass_1.syx", "brass_2.syx"]
    assert cli([str(a) for a in generate_args(workdir, "--out", "mine")]) == 0
    out = capsys.readouterr().out
    assert "--out mine has no extension: .syx added" in out and "wrote mine.syx" in out
    assert cli([str(a) for a in generate_args(workdir, "--out", "brass", "--seed", "3")]) == 0  # a folder: in it
    assert sorted(contents(tmp_path / "brass")) == ["brass.syx", "brass_1.syx", "brass_2.syx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brass", "brass.syx", "mine.syx"]  # no lock file anywhere
    args = generate_args(workdir, "--count", "64")
    args[2] = "brsas"  # a typo: refused before a folder is named after it
    fails(capsys, args, "unknown category 'brsas'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brass", "brass.syx", "mine.syx"]


def test_show_bad_files_and_manifests(bank, bad_bank, tmp_path, capsys):
    fails(capsys, ["show", tmp_path / "missing.syx"], "missing.syx: no such file")
    (tmp_path / "notes.txt").write_text("hello")
    fails(capsys, ["show", tmp_path / "notes.txt"], "not DX7 data")
    assert cli(["show", str(bad_bank)]) == 1  # readable voices, listed, but not a valid bank
    out = capsys.readouterr().out
    assert "32 voices" in out and "not a valid 32-voice bank" in out and "checksum" in out
    assert cli(["show", str(bank), "--manifest", str(tmp_path / "none.csv")]) == 0
    assert "warning: no manifest at" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("bank,slot\nx,1\n")
    fails(capsys, ["show", bank, "--manifest", tmp_path / "bad.csv"], "not a manifest with name and category columns")


def test_render_bad_files(bank, tmp_path, capsys):
    fails(capsys, ["render", tmp_path / "missing.syx", "--out", tmp_path / "wav"], "no such file")
    (tmp_path / "junk.syx").write_bytes(bytes(range(250)) * 4)  # not sysex, not whole 128-byte voices
    fails(capsys, ["render", tmp_path / "junk.syx", "--out", tmp_path / "wav"], "junk.syx: ")
    (tmp_path / "afile").write_text("")
    fails(capsys, ["render", bank, "--out", tmp_path / "afile"], "afile")  # --out is a file, not a folder


@pytest.fixture
def loopback(tmp_path, monkeypatch):
    """mido's backend switched to the test loopback port; yields the file it records into."""
    before = mido.backend.name
    monkeypatch.setenv("DEEPDX_MIDI_LOOPBACK", str(tmp_path / "received.bin"))
    mido.set_backend("tests.midi_loopback", load=True)
    yield tmp_path / "received.bin"
    mido.set_backend(before)


def test_send_a_bank_through_a_loopback_port(loopback, bank, capsys):
    assert cli(["send", "--list-ports"]) == 0 and capsys.readouterr().out.strip() == PORT
    assert cli(["send", str(bank), "--port", PORT]) == 0
    assert f"sent {bank} to {PORT}" in capsys.readouterr().out
    assert loopback.read_bytes() == bank.read_bytes()  # one sysex message, byte for byte


def test_send_bad_requests(loopback, bank, bad_bank, tmp_path, capsys):
    fails(capsys, ["send"], "send needs a bank file (or --list-ports)")
    fails(capsys, ["send", tmp_path / "missing.syx", "--port", PORT], "no such file")
    fails(capsys, ["send", bad_bank, "--port", PORT], "is not a valid bank: checksum")
    fails(capsys, ["send", bank, "--port", "Nowhere"], f"no MIDI output port 'Nowhere'; available: {PORT}")
    assert not loopback.exists()  # nothing was sent


def test_send_without_a_backend_or_midi_system(bank):
    proc = run_cli("send", "--list-ports", env={"MIDO_BACKEND": "no_such_midi_backend"})
    assert proc.returncode == 2 and proc.stderr.strip().startswith("deepdx: error: no MIDI backend")
    proc = run_cli(
        "send",
        str(bank),
        "--port",
        PORT,
        env={"MIDO_BACKEND": "tests.midi_loopback", "DEEPDX_MIDI_LOOPBACK": os.devnull},
    )
    assert proc.returncode == 0 and proc.stdout.startswith("sent")  # the backend chosen as users choose it


def test_send_to_a_virtual_rtmidi_port(bank):
    """Through the platform's MIDI system (ALSA, CoreMIDI): a virtual input port receives the bank."""
    backend = mido.Backend("mido.backends.rtmidi", load=True)
    try:
        port = backend.open_input("deepdx-test", virtual=True)
    except Exception as exc:  # no ALSA sequencer (containers), no MIDI system
        pytest.skip(f"this platform offers no virtual MIDI port ({str(exc).strip()[:120]})")
    with port:
        name = next(n for n in backend.get_output_names() if "deepdx-test" in n)
        assert cli(["send", str(bank), "--port", name]) == 0
        deadline, received = time.monotonic() + 5, None
        while received is None and time.monotonic() < deadline:
            received = port.poll() or time.sleep(0.05)
    assert received is not None and bytes(received.bin()) == bank.read_bytes()


def test_generate_on_a_chosen_algorithm_with_sharper_choices(workdir, tmp_path):
    from deepdx.dx7.params import INDEX
    from deepdx.dx7.sysex import scan

    out = tmp_path / "alg5.syx"
    assert (
        cli(
            [
                str(a)
                for a in generate_args(
                    workdir,
                    "--out",
                    out,
                    "--algorithm",
                    "5",
                    "--temperature",
                    "0.5",
                    "--truncation",
                    "0.8",
                    "--no-repair",
                )
            ]
        )
        == 0
    )
    voices = scan(out.read_bytes()).blocks[0].decoded.params
    assert (voices[:, INDEX["algorithm"]] == 4).all()  # panel 5 is stored as 4; the group holding 5 was used


def test_generate_refuses_bad_knobs(workdir, tmp_path, capsys):
    out = tmp_path / "x.syx"
    fails(capsys, generate_args(workdir, "--out", out, "--algorithm", "33"), "--algorithm must be a panel number 1-32")
    fails(capsys, generate_args(workdir, "--out", out, "--temperature", "-1"), "--temperature and --truncation")
    fails(capsys, generate_args(workdir, "--out", out, "--truncation", "1e9"), "--temperature and --truncation")
    assert not out.exists()


# --------------------------------------------------------------------------- each generate flag's effect


def train_small(workdir, root, *overrides: str):
    """``workdir``'s split and routing with its two groups' models trained a few epochs into ``root``."""
    import json

    from deepdx.config import compose
    from deepdx.models.parallel import train_groups

    cfg = compose(
        *overrides,
        "seed=1",
        "model.hidden=64",
        "train.steps=null",
        "train.batch_size=16",
        "train.progress_bar=false",
        "train.jobs=1",
        "mlflow.experiment=test",
        f"mlflow.tracking_uri=sqlite:///{root / 'mlflow.db'}",
    )
    routing = json.loads((workdir / "split" / "routing.json").read_text())
    train_groups([0, 1], str(workdir / "split"), root / "models", cfg, routing)
    return root / "models"


@pytest.fixture(scope="module")
def trained(workdir, tmp_path_factory):
    """CGANs (the default model)."""
    return train_small(workdir, tmp_path_factory.mktemp("trained"), "train.epochs=6")


def generated(workdir, models, tmp_path, *flags, category="brass", count=128, seed=5):
    """The voices `deepdx generate` writes (no critic: each flag's own effect), with their names."""
    from deepdx.dx7.packing import names
    from deepdx.dx7.sysex import scan

    out = tmp_path / f"{category}{'_'.join(flags).replace('-', '')}.syx"
    assert (
        cli(
            [
                "generate",
                "--category",
                category,
                "--models",
                str(models),
                "--routing",
                str(workdir / "split" / "routing.json"),
                "--train",
                str(workdir / "split"),
                "--no-critic",
                "--count",
                str(count),
                "--seed",
                str(seed),
                "--out",
                str(out),
                *flags,
            ]
        )
        == 0
    )
    files = [out] if count <= 32 else sorted(tmp_path.glob(f"{out.stem}_*.syx"))
    params = np.concatenate([scan(f.read_bytes()).blocks[0].decoded.params for f in files])
    return params, names(params)


def few_valued_entropy(params) -> float:
    """Mean entropy (bits) of the value counts of the parameters with at most 8 values."""
    from deepdx.dx7.params import MAX, N_SOUND_PARAMS

    cols = [i for i in range(N_SOUND_PARAMS) if MAX[i] < 8]
    h = []
    for i in cols:
        p = np.bincount(params[:, i], minlength=int(MAX[i]) + 1) / len(params)
        h.append(-(p[p > 0] * np.log2(p[p > 0])).sum())
    return float(np.mean(h))


def test_a_lower_temperature_lowers_the_spread_of_the_few_valued_parameters(workdir, trained, tmp_path):
    cold, _ = generated(workdir, trained, tmp_path, "--temperature", "0.1", "--no-repair")
    warm, _ = generated(workdir, trained, tmp_path, "--temperature", "2", "--no-repair")
    assert few_valued_entropy(cold) < 0.9 * few_valued_entropy(warm)  # 1.77 against 2.13 bits


def test_a_lower_truncation_lowers_the_spread_of_the_levels_and_rates(workdir, trained, tmp_path):
    from deepdx.dx7.params import MAX, N_SOUND_PARAMS

    cols = [i for i in range(N_SOUND_PARAMS) if MAX[i] == 99]
    narrow, _ = generated(workdir, trained, tmp_path, "--truncation", "0.1", "--temperature", "1", "--no-repair")
    full, _ = generated(workdir, trained, tmp_path, "--truncation", "1", "--temperature", "1", "--no-repair")
    assert narrow[:, cols].astype(float).std(0).mean() < 0.8 * full[:, cols].astype(float).std(0).mean()


def test_no_repair_leaves_the_voices_the_repair_pass_changes(workdir, trained, tmp_path):
    """Same seed, same draws: with repair, the voices the pass calls wrong have one operator's
    fixed/ratio switch flipped; with --no-repair they are written as drawn, wrong as they are."""
    from deepdx.audio.render import Renderer
    from deepdx.audio.repair import audio_problem
    from deepdx.config import RepairConfig
    from deepdx.dx7.params import op_index

    kept, _ = generated(workdir, trained, tmp_path, "--no-repair", count=128)
    repaired, _ = generated(workdir, trained, tmp_path, count=128)
    changed = np.flatnonzero((kept != repaired).any(1))
    assert len(changed) > 0
    modes = [op_index(op, "osc_mode") for op in range(1, 7)]
    renderer = Renderer()
    for v in changed:
        diff = np.flatnonzero(kept[v] != repaired[v])
        assert len(diff) == 1 and diff[0] in modes, diff
        assert audio_problem(renderer.render(kept[v]), renderer.settings.sample_rate, RepairConfig())


def test_category_and_algorithm_choose_what_is_drawn(workdir, trained, tmp_path):
    """workdir's routing sends every bass voice to group 1 and its algorithm 5; brass goes to both groups."""
    from deepdx.dx7.params import INDEX

    bass, names = generated(workdir, trained, tmp_path, "--no-repair", category="bass")
    assert (bass[:, INDEX["algorithm"]] == 4).all() and all(n.startswith("BASS") for n in names)
    brass, names = generated(workdir, trained, tmp_path, "--no-repair")
    assert len(set(brass[:, INDEX["algorithm"]].tolist())) > 2 and all(n.startswith("BRASS") for n in names)
    chosen, _ = generated(workdir, trained, tmp_path, "--no-repair", "--algorithm", "2")
    assert (chosen[:, INDEX["algorithm"]] == 1).all()


@pytest.fixture(scope="module")
def trained_flow(workdir, tmp_path_factory):
    """Flow models (model=flow)."""
    return train_small(workdir, tmp_path_factory.mktemp("flow"), "model=flow", "model.flow_steps=8", "train.epochs=4")


def test_guidance_changes_what_a_flow_draws_and_is_refused_for_a_cgan(workdir, trained, trained_flow, tmp_path, capsys):
    loose, _ = generated(workdir, trained_flow, tmp_path, "--guidance", "0", "--no-repair", count=32)
    strict, _ = generated(workdir, trained_flow, tmp_path, "--guidance", "4", "--no-repair", count=32)
    assert check_bank(bank_bytes(loose)) == [] and not np.array_equal(loose[:, :145], strict[:, :145])
    fails(capsys, generate_args(workdir, "--out", tmp_path / "b.syx", "--guidance", "1"), "flow model's knob")
    fails(capsys, generate_args(workdir, "--out", tmp_path / "b.syx", "--guidance", "11"), "--guidance")


def test_generate_keeps_the_chosen_parameters_bit_for_bit_and_writes_a_valid_bank(
    workdir, trained_flow, tmp_path, capsys, monkeypatch
):
    from deepdx.dx7.params import INDEX
    from deepdx.generate.variations import kept_params

    voices = random_voices(32, seed=2)
    voices[4, INDEX["algorithm"]] = 1  # algorithm 2: one of workdir's groups (1-5)
    source, bank = voices[4], tmp_path / "source.syx"
    bank.write_bytes(bank_bytes(voices))
    monkeypatch.chdir(tmp_path)  # --from source.syx:5 (a path in the flags would become the out file's name)
    for spec, repair in (("algorithm,op1_eg,carrier_levels", ["--no-repair"]), ("op1,op2,op3,op4,op5,op6", [])):
        made, _ = generated(
            workdir, trained_flow, tmp_path, "--keep", spec, "--from", f"{bank.name}:5", *repair, count=32
        )
        keep = kept_params(spec, source)
        assert (made[:, keep] == source[keep]).all(), spec  # with the repair pass too: it flips no kept switch
        assert len(np.unique(made[:, :145], axis=0)) == len(made)  # (generated() reads a bank check_bank passed)
    assert (made[:, INDEX["algorithm"]] != source[INDEX["algorithm"]]).any()  # not kept: routed as usual
    base = generate_args(workdir, "--out", tmp_path / "k.syx")
    fails(capsys, [*base, "--keep", "op1_eg"], "--keep and --from go together")
    fails(capsys, [*base, "--keep", "op9", "--from", f"{bank}:5", "--models", trained_flow], "no DX7 sound parameter")
    fails(capsys, [*base, "--keep", "op1", "--from", f"{bank}:33", "--models", trained_flow], "holds 32 voices")
    fails(capsys, [*base, "--keep", "op1", "--from", f"{bank}:5"], "needs flow models")


def test_vary_writes_variations_of_one_voice_from_itself_to_fresh_draws(workdir, trained_flow, tmp_path, capsys):
    from deepdx.dx7.packing import names
    from deepdx.dx7.params import INDEX
    from deepdx.dx7.sysex import scan

    voices = random_voices(32, seed=2)
    voices[2, INDEX["algorithm"]] = 2  # algorithm 3: one of workdir's groups (1-5)
    source, bank = voices[2], tmp_path / "source.syx"
    bank.write_bytes(bank_bytes(voices))
    routing = ["--models", trained_flow, "--routing", workdir / "split" / "routing.json", "--category", "brass"]

    def vary(strength, *more):
        out = tmp_path / f"vary{strength}.syx"
        assert cli(["vary", f"{bank}:3", "--strength", str(strength), "--out", str(out), *map(str, routing)]) == 0
        assert check_bank(out.read_bytes()) == []
        return scan(out.read_bytes()).blocks[0].decoded.params

    same = vary(0)
    assert (same[:, :145] == source[:145]).all()
    assert all(n.startswith(names(source[None])[0].strip()[:6].upper()) for n in names(same))
    near, far = vary(0.3), vary(1)
    assert 0 < (near[:, :145] != source[:145]).sum(1).mean() < (far[:, :145] != source[:145]).sum(1).mean()
    fails(capsys, ["vary", f"{bank}:3", "--strength", "1.5", "--out", tmp_path / "x.syx"], "--strength")
    fails(capsys, ["vary", f"{bank}", "--out", tmp_path / "x.syx"], "FILE:N")
    fails(
        capsys,
        ["vary", f"{bank}:3", "--out", tmp_path / "x.syx", "--models", workdir / "models", *routing[2:]],
        "needs flow models",
    )
    fails(
        capsys,
        ["vary", f"{bank}:3", "--out", tmp_path / "x.syx", *routing[:4], "--classifier", tmp_path / "none.skops"],
        "pass --category",
    )
