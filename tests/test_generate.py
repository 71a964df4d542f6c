import json
import shutil

import dexed
import numpy as np
import pytest

from deepdx.audio.render import Renderer
from deepdx.audio.repair import audio_problem, repair, wrong
from deepdx.config import RepairConfig, SoundCheckConfig
from deepdx.dx7.params import INDEX, op_index, uniform_voices
from deepdx.dx7.sysex import check_bank
from deepdx.dx7.packing import sound_keys
from deepdx.errors import DeepDXError
from deepdx.generate.banks import generate_run
from deepdx.audio.features import CENTROID, render_features
from deepdx.generate.sample import generate, load_models, sample_checked, sample_group, voice_name, with_blank_names
from tests.conftest import typical_sounds, unscreened


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
    with pytest.raises(DeepDXError, match="unknown category 'kazoo'"):
        generate(models(workdir), "kazoo", 1, 0, set())
    with pytest.raises(DeepDXError, match="no trained model"):
        load_models(tmp_path, workdir / "split" / "routing.json")


def test_the_sound_check_keeps_typical_draws_and_swaps_others_only_for_nearer_ones(workdir):
    import torch

    checked = load_models(workdir / "models", workdir / "split" / "routing.json", typical_sounds(workdir), unscreened(3))
    renderer, category = Renderer(), np.arange(200) % 8
    streams = lambda: (np.random.default_rng(4), torch.Generator().manual_seed(4))  # noqa: E731
    rng, torch_rng = streams()
    voices, first = sample_checked(checked, 1, category, rng, torch_rng, renderer, torch.Generator().manual_seed(9))
    rng2, torch_rng2 = streams()
    assert np.array_equal(first, sample_group(checked, 1, category, rng2, torch_rng2))  # first draws: as unchecked
    assert rng.random() == rng2.random() and torch.equal(torch_rng.get_state(), torch_rng2.get_state())
    typical = checked.typical[1]
    before, after = (typical.distance(render_features(renderer, with_blank_names(v))) for v in (first, voices))
    kept = before <= typical.limit
    assert 0.1 < kept.mean() < 0.9  # the check had work to do, and some first draws passed it
    assert np.array_equal(voices[kept], first[kept])
    swapped = (voices != first).any(1)
    assert swapped.sum() > 10 and (after[swapped] < before[swapped]).all() and (after <= before).all()
    assert (after <= typical.limit).mean() > kept.mean()
    assert np.array_equal(voices[:, INDEX["algorithm"]], first[:, INDEX["algorithm"]])  # same algorithm asked
    again, _ = sample_checked(checked, 1, category, *streams(), renderer, torch.Generator().manual_seed(9))
    assert np.array_equal(again, voices)  # seeded
    unchecked = load_models(workdir / "models", workdir / "split" / "routing.json", typical_sounds(workdir), unscreened(1))
    assert unchecked.typical is None
    plain, same = sample_checked(unchecked, 1, category, *streams(), None, torch.Generator())
    assert np.array_equal(plain, first) and np.array_equal(same, first)
    made = generate(checked, "keys", 64, seed=2, exclude=set())
    assert made.redrawn > 0 and generate(models(workdir), "keys", 64, seed=2, exclude=set()).redrawn == 0
    with pytest.raises(DeepDXError, match="no typical sound"):
        load_models(workdir / "models", workdir / "split" / "routing.json", workdir / "nowhere", unscreened(2))


def test_the_screen_draws_again_voices_the_repair_pass_calls_wrong_however_near_they_sound(workdir):
    import dataclasses

    import torch

    checked = load_models(workdir / "models", workdir / "split" / "routing.json", typical_sounds(workdir), unscreened(2))
    checked.typical = [dataclasses.replace(t, limit=np.inf) for t in checked.typical]  # no voice too far: the screen alone
    renderer, category = Renderer(), np.arange(200) % 8
    streams = lambda: (np.random.default_rng(4), torch.Generator().manual_seed(4), renderer, torch.Generator().manual_seed(9))  # noqa: E731
    features = lambda voices: render_features(renderer, with_blank_names(voices))  # noqa: E731
    plain, first = sample_checked(checked, 1, category, *streams())
    assert np.array_equal(plain, first)  # without a screen nothing lies beyond an infinite limit
    median_hz = 10 ** np.median(features(first)[:, CENTROID]) - 1
    checked.screen = RepairConfig(max_centroid_hz=median_hz)  # about half the first draws "shrill"
    voices, first_again = sample_checked(checked, 1, category, *streams())
    assert np.array_equal(first_again, first)
    before, after = wrong(features(first), checked.screen), wrong(features(voices), checked.screen)
    assert 0.3 < before.mean() < 0.9  # the screen has work to do, and some first draws pass it
    assert np.array_equal(voices[~before], first[~before])  # right first draws kept
    swapped = (voices != first).any(1)
    assert swapped.sum() > 10 and not after[swapped].any()  # a wrong draw gives way to a right one only
    assert after.mean() < before.mean() and after[~swapped].sum() == before[~swapped].sum()
    limited = load_models(workdir / "models", workdir / "split" / "routing.json", typical_sounds(workdir),
                          SoundCheckConfig(candidates=2), checked.screen)  # as the stages load it: a limit and the screen
    voices, _ = sample_checked(limited, 1, category, *streams())
    typical = limited.typical[1]
    far = typical.distance(features(first)) > typical.limit
    assert (far & ~before).sum() > 5 and not wrong(features(voices), checked.screen)[~before].any()  # a right draw too far never gives way to a wrong one


def test_the_screen_calls_wrong_what_the_repair_pass_does():
    r, cfg = Renderer(), RepairConfig()
    voices = np.concatenate([uniform_voices(300, seed=3), [simple_voice(False), simple_voice(True)]])
    problems = [audio_problem(r.render(v), 44100, cfg) for v in voices]
    assert {p.split(" ")[0] for p in problems} == {"", "silent", "shrill", "inaudible"}  # each kind is there
    by_pass = np.array([p != "" for p in problems])
    assert 0.2 < by_pass.mean() < 0.8 and by_pass[-1] and not by_pass[-2]
    assert np.array_equal(wrong(render_features(r, voices), cfg), by_pass)


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


def test_names_stay_readable_past_999():
    assert voice_name("strings", 7).tobytes() == b"STRING 007"
    assert voice_name("strings", 1000).tobytes() == b"STRIN 1000"


def test_repeated_categories_are_merged_not_overwritten(workdir, tmp_path):
    rows, report = generate_run(models(workdir), [("keys", 32), ("keys", 32)], 3, tmp_path, set(), previews=False,
                                progress=False)
    assert report["banks"] == 2 and sorted({r["bank"] for r in rows}) == ["banks/keys_1.syx", "banks/keys_2.syx"]
    assert len({r["name"] for r in rows}) == 64


def test_each_model_samples_as_calibrated_unless_told_otherwise(workdir, tmp_path):
    m = models(workdir)
    for g in m.generators:  # as calibrated generator.pt files say
        g.temperature, g.truncation = 1.5, 1.2
    own = generate_run(m, [("keys", 32)], 3, tmp_path / "own", set(), previews=False, progress=False)
    told = generate_run(m, [("keys", 32)], 3, tmp_path / "told", set(), previews=False, progress=False,
                        temperature=1.5, truncation=1.2)
    ones = generate_run(m, [("keys", 32)], 3, tmp_path / "ones", set(), previews=False, progress=False,
                        temperature=1.0, truncation=1.0)
    assert own[1]["sampling"]["0"] == told[1]["sampling"]["0"] == {"temperature": 1.5, "truncation": 1.2}
    assert ones[1]["sampling"]["0"] == {"temperature": 1.0, "truncation": 1.0}
    bank = "banks/keys_1.syx"
    assert (tmp_path / "own" / bank).read_bytes() == (tmp_path / "told" / bank).read_bytes()
    assert (tmp_path / "own" / bank).read_bytes() != (tmp_path / "ones" / bank).read_bytes()


def test_the_novelty_check_knows_training_and_validation_voices_never_held_out(tmp_path):
    from deepdx.corpus.table import read_table
    from deepdx.generate.sample import training_keys
    from tests.conftest import split_dir

    split = split_dir(tmp_path, 2)
    held = {k for g in range(2) for k in sound_keys(read_table(split / "held_out" / f"group{g}.parquet")["params"])}
    keys = training_keys(split)
    assert len(keys) == 2 * 90 and not keys & held
    shutil.rmtree(split / "held_out")
    assert training_keys(split) == keys  # never opened
