import json
import shutil

import dexed
import numpy as np
import pytest

from deepdx.audio.render import Renderer
from deepdx.audio.repair import audio_problem, repair, wrong
from deepdx.config import RepairConfig
from deepdx.dx7.params import INDEX, op_index, uniform_voices
from deepdx.dx7.sysex import check_bank
from deepdx.dx7.packing import sound_keys
from deepdx.errors import DeepDXError
from deepdx.corpus.split import group_path
from deepdx.corpus.table import read_table
from deepdx.generate.banks import generate_run
from deepdx.generate.critic import Realism
from deepdx.audio.features import CENTROID, render_features
from deepdx.generate.sample import generate, load_models, sample_critiqued, sample_group, voice_name, with_blank_names
from tests.conftest import critic_config, critics


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


def test_the_critic_keeps_one_of_several_draws_by_its_logit(workdir):
    import torch

    routing = workdir / "split" / "routing.json"
    judged = load_models(workdir / "models", routing, critics(workdir), critic_config(4, strength=2.0, warmer=0.5))
    renderer, category = Renderer(), np.arange(200) % 8
    streams = lambda: (np.random.default_rng(4), torch.Generator().manual_seed(4))
    rng, torch_rng = streams()
    drawn = sample_critiqued(judged, 1, category, rng, torch_rng, renderer, torch.Generator().manual_seed(9))
    rng2, torch_rng2 = streams()
    assert np.array_equal(drawn.first, sample_group(judged, 1, category, rng2, torch_rng2))  # the generator alone
    assert rng.random() == rng2.random() and torch.equal(torch_rng.get_state(), torch_rng2.get_state())
    features = lambda voices: render_features(renderer, with_blank_names(voices))
    assert np.array_equal(drawn.first_features, features(drawn.first))  # as without the critic, to the last bit
    assert np.allclose(
        drawn.features, features(drawn.voices), rtol=0, atol=1e-9
    )  # the kept voices' (rendered with the others)
    generator, algorithm = judged.generators[1], torch.from_numpy(drawn.first[:, INDEX["algorithm"]].astype(np.int64))
    warm = generator.sample(
        torch.as_tensor(category), algorithm, torch.Generator().manual_seed(4), generator.temperature + 0.5
    )
    assert np.array_equal(
        drawn.voices[drawn.kept == 0], warm[drawn.kept == 0]
    )  # the first draw: the request's noise, warmer
    critic = judged.critics[1]
    kept, alone = critic.logit(drawn.voices, drawn.features), critic.logit(drawn.first, drawn.first_features)
    assert (
        0.4 < (drawn.kept > 0).mean() < 0.95 and kept.mean() > alone.mean() + 0.1
    )  # likelier draws kept, not always another
    assert np.array_equal(drawn.voices[:, INDEX["algorithm"]], drawn.first[:, INDEX["algorithm"]])  # same request
    again = sample_critiqued(judged, 1, category, *streams(), renderer, torch.Generator().manual_seed(9))
    assert np.array_equal(again.voices, drawn.voices)  # seeded
    plain = load_models(workdir / "models", routing, critics(workdir), critic_config(1))
    assert plain.critics is None
    alone = sample_critiqued(plain, 1, category, *streams(), None, torch.Generator())
    assert np.array_equal(alone.voices, drawn.first) and alone.features is None
    made = generate(judged, "keys", 64, seed=2, exclude=set())
    assert made.other_draw > 0 and generate(models(workdir), "keys", 64, seed=2, exclude=set()).other_draw == 0
    with pytest.raises(DeepDXError, match="no critic for group 0"):
        load_models(workdir / "models", routing, workdir / "nowhere", critic_config(2))


def test_models_load_only_the_groups_asked_for_and_missing_radii_fail_clearly(workdir, tmp_path):
    routing = workdir / "split" / "routing.json"
    judged = load_models(workdir / "models", routing, critics(workdir), critic_config(4, realism=1.0))
    assert all(g is None for g in judged.generators._items)  # nothing loaded before it is asked for
    generate(judged, "bass", 32, seed=1, exclude=set())  # bass: group 1 alone
    assert judged.critics._items[0] is None and judged.realism._items[0] is None
    assert judged.critics._items[1] is not None and judged.realism._items[1] is not None
    partial = tmp_path / "critic"
    shutil.copytree(critics(workdir), partial)
    (partial / "group1.realism.npz").unlink()
    with pytest.raises(DeepDXError, match="no realism radii for group 1 .*dvc repro critic"):
        load_models(workdir / "models", routing, partial, critic_config(4, realism=1.0))
    (partial / "group1.realism.npz").write_bytes(b"not a zip")
    broken = load_models(workdir / "models", routing, partial, critic_config(4, realism=1.0))
    with pytest.raises(DeepDXError, match="not a realism file from the critic stage"):
        broken.realism[1]


def test_the_realism_term_keeps_draws_inside_the_training_voices_balls(workdir):
    import torch

    routing = workdir / "split" / "routing.json"
    plain = load_models(workdir / "models", routing, critics(workdir), critic_config(4))
    judged = load_models(workdir / "models", routing, critics(workdir), critic_config(4, realism=1000.0))
    assert plain.realism is None and len(judged.realism) == 2 and judged.realism_weight == 1000.0
    realism = judged.realism[1]
    assert len(realism.train) == 80  # group 1's training voices, as the critic stage stored them
    afresh = Realism.of(read_table(group_path(workdir / "split", "train", 1))["params"])
    assert np.array_equal(realism.radius, afresh.radius) and np.array_equal(realism.train, afresh.train)
    realism.radius = (
        realism.radius * 0.6
    )  # 80 random voices' balls hold nearly everything: smaller ones leave every draw outside
    renderer, category = Renderer(), np.arange(200) % 8
    streams = lambda: (
        np.random.default_rng(4),
        torch.Generator().manual_seed(4),
        renderer,
        torch.Generator().manual_seed(9),
    )
    before, after = sample_critiqued(plain, 1, category, *streams()), sample_critiqued(judged, 1, category, *streams())
    assert np.array_equal(before.first, after.first)  # the same draws, other ones kept
    score_before, score_after = realism.score(before.voices), realism.score(after.voices)
    assert (score_before < 0).all()  # work for the term
    assert (
        score_after >= score_before
    ).mean() > 0.9 and score_after.mean() > score_before.mean() + 0.02  # nearer a ball


def test_the_category_ratio_keeps_draws_likelier_of_the_category_asked_for(workdir):
    import torch

    routing = workdir / "split" / "routing.json"
    plain = load_models(workdir / "models", routing, critics(workdir), critic_config(4))
    judged = load_models(workdir / "models", routing, critics(workdir), critic_config(4, category=50.0))
    critic, renderer, category = judged.critics[1], Renderer(), np.arange(200) % 8
    assert plain.category_weight == 0 and judged.category_weight == 50.0 and critic.category_real is not None
    streams = lambda: (
        np.random.default_rng(4),
        torch.Generator().manual_seed(4),
        renderer,
        torch.Generator().manual_seed(9),
    )
    before, after = sample_critiqued(plain, 1, category, *streams()), sample_critiqued(judged, 1, category, *streams())
    assert np.array_equal(before.first, after.first)  # the same draws, other ones kept
    ratio_before = critic.category_logratio(before.voices, before.features, category)
    ratio_after = critic.category_logratio(after.voices, after.features, category)
    assert (ratio_after >= ratio_before - 1e-9).mean() > 0.9 and ratio_after.mean() > ratio_before.mean() + 0.1


def test_the_screen_never_keeps_a_draw_the_repair_pass_calls_wrong_while_a_right_one_is_left(workdir):
    import torch

    judged = load_models(workdir / "models", workdir / "split" / "routing.json", critics(workdir), critic_config(3))
    renderer, category = Renderer(), np.arange(200) % 8
    streams = lambda: (
        np.random.default_rng(4),
        torch.Generator().manual_seed(4),
        renderer,
        torch.Generator().manual_seed(9),
    )
    features = lambda voices: render_features(renderer, with_blank_names(voices))
    unscreened = sample_critiqued(judged, 1, category, *streams())
    median_hz = 10 ** np.median(features(unscreened.first)[:, CENTROID]) - 1
    judged.screen = RepairConfig(max_centroid_hz=median_hz)  # about half the draws "shrill"
    drawn = sample_critiqued(judged, 1, category, *streams())
    before, after = wrong(features(drawn.first), judged.screen), wrong(drawn.features, judged.screen)
    assert 0.3 < before.mean() < 0.9 and wrong(unscreened.features, judged.screen).mean() > 0.2  # work for the screen
    assert np.array_equal(drawn.first, unscreened.first)
    noise, algorithm = (
        torch.Generator().manual_seed(9),
        torch.from_numpy(drawn.first[:, INDEX["algorithm"]].astype(np.int64)),
    )
    more = [
        judged.generators[1].sample(torch.as_tensor(category), algorithm, noise) for _ in range(2)
    ]  # the other draws
    every = np.stack([before, *(wrong(features(m), judged.screen) for m in more)], 1)
    assert 0 < every.all(1).mean() < after.mean() + 1e-9 < before.mean() - 0.2
    assert every.all(1)[after].all()  # a wrong voice kept only where all three draws were wrong


def test_the_screen_calls_wrong_what_the_repair_pass_does():
    r, cfg = Renderer(), RepairConfig()
    voices = np.concatenate([uniform_voices(300, seed=3), [simple_voice(False), simple_voice(True)]])
    problems = [audio_problem(r.render(v), 44100, cfg) for v in voices]
    assert {p.split(" ")[0] for p in problems} == {"", "silent", "shrill", "inaudible"}  # each kind is there
    by_pass = np.array([p != "" for p in problems])
    assert 0.2 < by_pass.mean() < 0.8 and by_pass[-1] and not by_pass[-2]
    assert np.array_equal(wrong(render_features(r, voices), cfg), by_pass)


def test_a_voice_is_rendered_again_for_the_repair_pass_unless_clearly_right(workdir, monkeypatch):
    from deepdx.audio import repair as repair_module
    from deepdx.generate import sample

    r, cfg = Renderer(), RepairConfig()
    voices = uniform_voices(300, seed=3)
    features = render_features(r, voices)
    right = sample.clearly_right(features, cfg)
    assert 0.2 < right.mean() < 0.8 and not (right & wrong(features, cfg)).any()
    near = features.copy()  # a hair inside the silence threshold: not clearly right, whatever else
    near[:, 0] = np.log10(cfg.silence_rms + 1e-6) + repair_module.MARGIN / 2
    assert not sample.clearly_right(near, cfg).any()
    judged = load_models(workdir / "models", workdir / "split" / "routing.json", critics(workdir), critic_config(3))
    tried = []
    real_repair = sample.repair
    monkeypatch.setattr(sample, "repair", lambda v, *a: tried.append(1) or real_repair(v, *a))
    made = generate(judged, "keys", 64, seed=5, exclude=set(), renderer=r, repair_cfg=cfg)
    skipped, tried[:] = 64 - len(tried), []
    monkeypatch.setattr(sample, "clearly_right", lambda f, c: np.zeros(len(f), bool))  # every voice rendered again
    every = generate(judged, "keys", 64, seed=5, exclude=set(), renderer=r, repair_cfg=cfg)
    assert 0 < skipped < 64 and len(tried) == 64  # some voices not rendered again, some judged by their render
    assert np.array_equal(made.params, every.params) and made.problem == every.problem and made.fix == every.fix


def test_known_sounds_that_are_not_the_split_stages_fail_clearly(tmp_path):
    from deepdx.corpus.layout import known_path
    from deepdx.generate.sample import training_keys

    path = known_path(tmp_path)
    path.write_bytes(b"")  # empty
    with pytest.raises(DeepDXError, match="not the split stage's known sounds"):
        training_keys(tmp_path)
    for save, array in ((np.savez, np.zeros((2, 145), np.uint8)), (np.save, np.zeros((2, 145)))):  # an archive; floats
        with open(path, "wb") as f:
            save(f, array)
        with pytest.raises(DeepDXError, match="not the split stage's known sounds"):
            training_keys(tmp_path)
    path.unlink()
    with pytest.raises(DeepDXError, match="no known sounds .*dvc repro split"):
        training_keys(tmp_path)


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
    rows, report = generate_run(
        m, [("keys", 32), ("bass", 40)], 3, tmp_path, set(), previews=True, repair_cfg=RepairConfig(), progress=False
    )
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
    rows, report = generate_run(
        models(workdir), [("keys", 32), ("keys", 32)], 3, tmp_path, set(), previews=False, progress=False
    )
    assert report["banks"] == 2 and sorted({r["bank"] for r in rows}) == ["banks/keys_1.syx", "banks/keys_2.syx"]
    assert len({r["name"] for r in rows}) == 64


def test_each_model_samples_as_calibrated_unless_told_otherwise(workdir, tmp_path):
    m = models(workdir)
    for g in m.generators:  # as calibrated generator.pt files say
        g.temperature, g.truncation = 1.5, 1.2
    own = generate_run(m, [("keys", 32)], 3, tmp_path / "own", set(), previews=False, progress=False)
    told = generate_run(
        m, [("keys", 32)], 3, tmp_path / "told", set(), previews=False, progress=False, temperature=1.5, truncation=1.2
    )
    ones = generate_run(
        m, [("keys", 32)], 3, tmp_path / "ones", set(), previews=False, progress=False, temperature=1.0, truncation=1.0
    )
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
