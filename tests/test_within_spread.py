"""python -m deepdx.within_spread: a fresh run's figures against the committed ones."""

import copy
import json
import subprocess

import pytest

from deepdx.within_spread import EXACT, TOLERANCE, compare, main


def reports() -> dict:
    figures = {k: 0.5 for k in TOLERANCE}
    return {
        **{name: {"voices": {"in": 100, "accepted": 90}, "accuracy": 0.8} for name in EXACT},
        "evaluate": {
            "family": "cgan",
            "overall": {s: dict(figures) for s in ("real", "cgan", "cgan_unchecked", "cgan_repaired", "uniform")},
            "groups": {"0": {s: dict(figures) for s in ("real", "cgan", "uniform")}},
        },
    }


def test_the_same_figures_pass_and_every_compared_figure_is_counted():
    found, checked = compare(reports(), reports())
    assert found == []
    per_report = 3  # voices.in, voices.accepted, accuracy
    # the banks' two sets overall; real and uniform overall and in group 0
    assert checked == len(EXACT) * per_report + 2 * len(TOLERANCE) + 4 * len(TOLERANCE)


def test_a_generated_figure_within_its_tolerance_passes_and_one_beyond_is_named():
    fresh = reports()
    fresh["evaluate"]["overall"]["cgan"]["recall"] += 0.9 * TOLERANCE["recall"]
    assert compare(fresh, reports())[0] == []
    fresh["evaluate"]["overall"]["cgan_repaired"]["audio_frechet"] += 1.1 * TOLERANCE["audio_frechet"]
    (line,) = compare(fresh, reports())[0]
    assert line.startswith("evaluate overall cgan_repaired: audio_frechet is 0.7")


def test_figures_training_does_not_touch_must_be_equal():
    for path in (("split", "voices", "in"), ("evaluate", "groups", "0", "real", "precision")):
        fresh = reports()
        node = fresh
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] += 1e-3
        (line,) = compare(fresh, reports())[0]
        assert "must be equal" in line and path[-1] in line


def test_single_groups_and_draws_without_the_critic_are_not_compared():
    fresh = reports()
    fresh["evaluate"]["groups"]["0"]["cgan"]["recall"] = 0.0
    fresh["evaluate"]["overall"]["cgan_unchecked"]["recall"] = 0.0
    assert compare(fresh, reports())[0] == []


def test_a_figure_missing_from_the_fresh_run_is_reported():
    fresh = reports()
    del fresh["evaluate"]["overall"]["cgan"]["coverage"]
    assert compare(fresh, reports())[0] == ["evaluate overall cgan: coverage only in the committed run"]


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "metrics").mkdir()
    for name, tree in reports().items():
        (tmp_path / "metrics" / f"{name}.json").write_text(json.dumps(tree))
    git = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)
    git("init", "-q")
    git("add", "metrics")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "committed run")
    return tmp_path


def test_the_command_exits_0_within_bounds_1_beyond_and_2_without_a_report(repo, capsys):
    assert main([str(repo)]) == 0
    assert "all" in capsys.readouterr().out
    changed = copy.deepcopy(reports()["evaluate"])
    changed["overall"]["cgan"]["precision"] = 0.9
    (repo / "metrics" / "evaluate.json").write_text(json.dumps(changed))
    assert main([str(repo)]) == 1
    out = capsys.readouterr()
    assert "1 of" in out.out and "precision is 0.9000, committed 0.5000" in out.err
    (repo / "metrics" / "split.json").unlink()
    assert main([str(repo)]) == 2
