"""The whole pipeline through DVC, as a user runs it: `dvc repro` with experiment=smoke on a
small collection built here (valid banks, copies, near-variants, broken files), in a
temporary copy of this checkout; then what each stage wrote, and what a model change reruns."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from deepdx import check_run, config_reads
from deepdx.corpus.table import read_table
from deepdx.dx7 import bank_bytes
from deepdx.dx7.sysex import check_bank
from deepdx.dx7.packing import encode_name, sound_keys
from deepdx.dx7.params import INDEX, NAME_SLICE
from deepdx.evaluate.run import REFERENCES
from deepdx.models.flow import FlowGenerator
from deepdx.models.nets import load_generator
from tests.conftest import ROOT, random_voices
from tests.test_ingest import make_collection

pytestmark = pytest.mark.slow

NAMES = ["PIANO", "BASS", "BRASS", "STRINGS", "ORGAN", "BELLS", "LEAD", "DRUMS", "SOUND", "PATCH"]
N_BANKS = 40  # of random voices; then one exact copy, a bank of near-duplicates and a bank of variants
# make_collection: 96 voices, 62 accepted (a good bank, 30 of a raw dump), 34 rejected
VOICES_IN, ACCEPTED = N_BANKS * 32 + 96 + 96, N_BANKS * 32 + 96 + 62


def build_collection(raw: Path) -> tuple[np.ndarray, np.ndarray]:
    """The collection; returns the near-duplicates dedupe merges (pair x member x 145), and
    the variants it keeps but the families stage links (same shape)."""
    voices = random_voices(N_BANKS * 32, seed=21)
    for i, row in enumerate(voices):
        row[NAME_SLICE] = encode_name(f"{NAMES[i % len(NAMES)]} {i:04d}"[:10])
    for b in range(N_BANKS):
        (raw / f"bank{b:02d}.syx").write_bytes(bank_bytes(voices[b * 32 : (b + 1) * 32]))
    (raw / "copy of bank00.syx").write_bytes((raw / "bank00.syx").read_bytes())
    variants = voices[32:64].copy()  # bank01, each voice with its fine tune nudged: near-duplicates
    col = INDEX["op1_freq_fine"]
    variants[:, col] = np.where(variants[:, col] < 97, variants[:, col] + 2, variants[:, col] - 2)
    (raw / "bank01 tweaked.syx").write_bytes(bank_bytes(variants))
    edited = voices[64:96].copy()  # bank02 with three fine tunes moved by 5: too far for dedupe, a family
    for op in (1, 2, 3):
        col = INDEX[f"op{op}_freq_fine"]
        edited[:, col] = np.where(edited[:, col] < 94, edited[:, col] + 5, edited[:, col] - 5)
    (raw / "bank02 edited.syx").write_bytes(bank_bytes(edited))
    (raw / "dirty").mkdir()
    make_collection(raw / "dirty")
    return (
        np.stack([voices[32:64, :145], variants[:, :145]], axis=1),
        np.stack([voices[64:96, :145], edited[:, :145]], axis=1),
    )


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the project's default store
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["DEEPDX_PARAMS_READ"] = str(repo.parent / "params_read")  # each stage notes the config keys it read
    proc = subprocess.run(["dvc", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def sync(repo: Path, *overrides: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    subprocess.run(
        [sys.executable, "-m", "deepdx.config", "sync", "experiment=smoke", *overrides],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )


def commit(repo: Path, message: str) -> None:
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", message], cwd=repo, check=True)


def stages_run(proc: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", proc.stdout))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """A copy of this checkout's files (committed or not) as a fresh git repo, with the
    collection in data/raw tracked by DVC (as scripts/setup.sh leaves it), after `dvc repro`."""
    tmp = tmp_path_factory.mktemp("pipeline")
    repo = tmp / "repo"
    raw = repo / "data" / "raw"
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        if (ROOT / name).is_file() and not (ROOT / name).is_symlink():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    raw.mkdir(parents=True)
    duplicates, variants = build_collection(raw)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc(repo, "add", "data/raw")
    commit(repo, "snapshot")
    sync(repo)
    first = dvc(repo, "repro")
    return {"repo": repo, "raw": raw, "duplicates": duplicates, "variants": variants, "first": first}


def test_every_stage_ran(pipeline):
    assert stages_run(pipeline["first"]) == {
        "ingest",
        "dedupe",
        "families",
        "categorize",
        "split",
        "sound",
        "generate",
        "evaluate",
        "browse",
        "train",
        "critic",
    }


def test_ingest_accounts_for_every_file_and_voice(pipeline):
    repo = pipeline["repo"]
    report = json.loads((repo / "metrics" / "ingest.json").read_text())
    v = report["voices"]
    assert (v["in"], v["accepted"], v["rejected"]) == (VOICES_IN, ACCEPTED, VOICES_IN - ACCEPTED)
    with open(repo / "data" / "ingest" / "rejected.csv") as f:
        rejected = list(csv.DictReader(f))
    assert len(rejected) == v["rejected"] and all(row["reason"] for row in rejected)
    with open(repo / "data" / "ingest" / "files.csv") as f:
        files = {Path(row["source"]).name: row for row in csv.DictReader(f)}
    on_disk = {p.name for p in pipeline["raw"].rglob("*") if p.is_file()}
    assert set(files) == on_disk
    assert files["notes.syx"]["status"] == "not DX7" and files["notes.syx"]["detail"]
    assert sum(int(row["voices"]) for row in files.values()) == v["in"]


def test_dedupe_merges_copies_and_near_variants(pipeline):
    repo = pipeline["repo"]
    report = json.loads((repo / "metrics" / "dedupe.json").read_text())["voices"]
    assert (report["in"], report["exact_duplicates"], report["near_duplicates"]) == (ACCEPTED, 32, 32)
    assert report["unique"] == ACCEPTED - 64
    unique = set(sound_keys(read_table(repo / "data" / "dedupe" / "unique.parquet")["params"]))
    pairs = pipeline["duplicates"]
    kept = [sum(k in unique for k in sound_keys(members)) for members in pairs.astype(np.uint8)]
    assert kept == [1] * len(pairs)  # one representative per pair
    assert all(k in unique for k in sound_keys(pipeline["variants"].reshape(-1, 145).astype(np.uint8)))


def test_every_family_lies_on_one_side_and_only_evaluate_reads_held_out(pipeline):
    repo = pipeline["repo"]
    split = repo / "data" / "split"
    side = {}
    for s in ("train", "validation", "held_out"):
        for g in range(6):
            side.update({k: s for k in sound_keys(read_table(split / s / f"group{g}.parquet")["params"])})
    variants = pipeline["variants"].astype(np.uint8)
    assert all(side[a] == side[b] for a, b in zip(sound_keys(variants[:, 0]), sound_keys(variants[:, 1])))
    families = read_table(repo / "data" / "families" / "voices.parquet")
    for f in np.unique(families["family"]):
        assert len(set(families["split"][families["family"] == f])) == 1
    report = json.loads((repo / "metrics" / "split.json").read_text())
    categorized = read_table(repo / "data" / "categorize" / "voices.parquet")
    assert report["voices"] == len(side) == len(categorized["params"]) == ACCEPTED - 64
    assert report["families"]["families"] <= report["voices"] - 32  # the variants joined their originals
    assert report["held_out_to_nearest_training"]["by family"]["within_0.1"] == 0
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert [
        name
        for name, stage in lock.items()
        if any(d["path"] == "data/split" or d["path"].startswith("data/split/held_out") for d in stage["deps"])
    ] == ["evaluate"]


def test_six_generators_and_valid_banks(pipeline):
    repo = pipeline["repo"]
    for g in range(6):
        model = load_generator(repo / "data" / "models" / f"group{g}" / "generator.pt")
        assert not model.training
        summary = json.loads((repo / "data" / "models" / f"group{g}" / "summary.json").read_text())
        assert summary["epochs"] == 2 and np.isfinite(summary["d_loss"])
    banks = sorted((repo / "data" / "generate" / "banks").glob("*.syx"))
    report = json.loads((repo / "metrics" / "generate.json").read_text())
    assert len(banks) == report["banks"] == 8 and report["voices"] == 256
    assert all(check_bank(b.read_bytes()) == [] for b in banks)
    assert len(list((repo / "data" / "generate" / "previews").glob("**/*.wav"))) >= 256
    critic = json.loads((repo / "metrics" / "critic.json").read_text())  # the smoke run asks for its report
    assert critic["report_draws"] == 1 and set(critic["groups"]) == {str(g) for g in range(6)}
    for r in critic["groups"].values():
        assert 0.5 <= r["accuracy"] <= 1 and 0 <= r["other_draw"] <= 1
        assert all(np.isfinite(r[row][k]) for row in ("generator", "critic") for k in ("balanced", "audio_frechet"))
        assert all(0 <= r[row]["category_fidelity"] <= 1 for row in ("generator", "critic"))
        assert 0 < r["validation_category_fidelity"] <= 1  # the classifier labelled some of these voices itself
    assert all(0 <= critic["pooled"][row][k] <= 1 for row in ("generator", "critic") for k in ("precision", "coverage"))


def test_the_browser_page_shows_every_generated_voice_with_its_preview(pipeline):
    page = pipeline["repo"] / "data" / "browse" / "index.html"
    html = page.read_text()
    assert html.count('<article class="card voice">') == 256 and "bank-error" not in html
    assert 'class="missing"' not in html and html.count("nearest training voice") == 256
    assert html.count('href="http://127.0.0.1:5000/#/runs/') == 6  # a training run per group
    assert len(list((page.parent / "audio").glob("*/*.wav"))) >= 256


def test_evaluate_measures_every_reference_and_logs_to_mlflow(pipeline):
    import mlflow

    repo = pipeline["repo"]
    results = json.loads((repo / "metrics" / "evaluate.json").read_text())
    assert set(results["groups"]) == {str(g) for g in range(6)}
    for rows in [results["overall"], *results["groups"].values()]:
        assert set(rows) == set(REFERENCES)
        assert all(np.isfinite(rows[r]["precision"]) and np.isfinite(rows[r]["audio_frechet"]) for r in rows)
    assert (repo / "data" / "evaluate" / "report.md").read_text().count("| cgan |") == 7
    assert {p.name for p in (repo / "data" / "evaluate").glob("*.png")} == {
        "nearest_training_distance.png",
        "diversity_by_category.png",
    }
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("deepdx").experiment_id])
    names = sorted(r.info.run_name for r in runs)
    assert names == ["evaluate"] + [f"group{g}" for g in range(6)]
    evaluate_run = next(r for r in runs if r.info.run_name == "evaluate")
    assert evaluate_run.data.metrics["cgan.precision"] == results["overall"]["cgan"]["precision"]
    group1 = next(r for r in runs if r.info.run_name == "group1")
    assert group1.data.metrics["eval/coverage"] == results["groups"]["1"]["cgan"]["coverage"]


def test_dvc_metrics_diff_shows_the_run_against_the_commit(pipeline):
    """The committed metrics are the full run's; this small run's differ, and `dvc metrics diff` says so."""
    diff = dvc(pipeline["repo"], "metrics", "diff").stdout
    assert "metrics/evaluate.json" in diff and "overall.cgan.precision" in diff


def test_every_config_key_a_stage_read_is_one_of_its_dvc_params(pipeline):
    """Recorded from the run itself (deepdx.config_reads): what each stage read, against dvc.yaml.
    (The stages fail on such a key too; this names every stage's, and that each was recorded.)"""
    repo = pipeline["repo"]
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    for name in stages:
        read = set(json.loads((repo.parent / "params_read" / f"{name}.json").read_text()))
        assert read, name
        assert config_reads.unlisted(name, read, repo / "dvc.yaml") == [], name
    assert {"generate.critic.realism", "generate.critic.category"} <= set(
        json.loads((repo.parent / "params_read" / "evaluate.json").read_text())
    )


def test_the_run_check_passes_on_the_run_and_names_what_is_broken(pipeline, tmp_path):
    repo = pipeline["repo"]
    assert check_run.problems(repo) == []
    broken = tmp_path / "broken"
    for rel in ("params.yaml", "metrics", "data/generate/banks", "data/browse/index.html", "data/models"):
        (broken / rel).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (repo / rel).is_dir() else shutil.copy)(repo / rel, broken / rel)
    bank = sorted((broken / "data/generate/banks").glob("*.syx"))[0]
    bank.write_bytes(bank.read_bytes()[:-1])
    (broken / "data/models/group3/generator.pt").unlink()
    found = check_run.problems(broken)
    assert any(bank.name in p for p in found) and any(p.startswith("group 3: no usable generator") for p in found)


def test_a_critic_weight_change_reruns_critic_generate_evaluate_and_browse_if_they_wrote_anew(pipeline):
    """generate.critic.realism changes no file of the critic stage, but sampling reads it: critic,
    generate and evaluate rerun; browse reruns when what they wrote changed (DVC compares bytes).
    (On these random voices every draw lies inside a training voice's ball, where the realism
    term is 0, so nothing changes and browse is rightly skipped; on the corpus it reruns.)"""
    repo = pipeline["repo"]
    inputs = (
        "metrics/evaluate.json",
        "data/generate/manifest.csv",
        *sorted(str(p.relative_to(repo)) for p in (repo / "data/generate/banks").glob("*.syx")),
    )
    before = {p: (repo / p).read_bytes() for p in inputs}
    sync(repo, "generate.critic.realism=0")
    ran = stages_run(dvc(repo, "repro"))
    changed = any((repo / p).read_bytes() != b for p, b in before.items())
    assert ran == {"critic", "generate", "evaluate"} | ({"browse"} if changed else set())
    # the next test's sync puts realism back with its model change


def test_the_flow_family_reruns_train_onwards_only_and_runs_end_to_end(pipeline):
    """model=flow: the second family through the same stages (each checking the keys it read),
    its generators behind the same interface, valid banks, evaluated and named as a flow."""
    repo = pipeline["repo"]
    sync(repo, "model=flow")
    proc = dvc(repo, "repro")
    assert stages_run(proc) == {"critic", "generate", "evaluate", "browse", "train"}
    summary = json.loads((repo / "data" / "models" / "group0" / "summary.json").read_text())
    assert summary["epochs"] == 2 and np.isfinite(summary["loss"]) and "sampled/guidance" in summary
    assert all(isinstance(load_generator(p), FlowGenerator) for p in (repo / "data" / "models").glob("*/generator.pt"))
    banks = sorted((repo / "data" / "generate" / "banks").glob("*.syx"))
    assert len(banks) == 8 and all(check_bank(b.read_bytes()) == [] for b in banks)
    evaluation = json.loads((repo / "metrics" / "evaluate.json").read_text())
    assert evaluation["family"] == "flow" and evaluation["overall"]["cgan"]["precision"] > 0
    assert dvc(repo, "status").stdout.strip() == "Data and pipelines are up to date."


def test_a_queued_experiment_gets_the_collection_from_the_cache_and_reruns_train_onwards(pipeline):
    """`dvc exp run --queue` + `dvc queue start` with the default, relative data path: the
    experiment runs in a temporary copy of the repository, which finds data/raw in DVC's cache."""
    repo = pipeline["repo"]
    commit(repo, "model=flow run")
    dvc(repo, "exp", "run", "--queue", "--name", "wider", "-S", "experiment=smoke", "-S", "model.hidden=64")
    dvc(repo, "queue", "start", "-j", "1")
    deadline = time.monotonic() + 900
    while "Queued" in (status := dvc(repo, "queue", "status").stdout) or "Running" in status:
        assert time.monotonic() < deadline, status
        time.sleep(3)
    assert re.search(r"wider.*Success", status), status
    log = dvc(repo, "queue", "logs", "wider").stdout
    assert stages_run(subprocess.CompletedProcess([], 0, log, "")) == {
        "critic",
        "generate",
        "evaluate",
        "browse",
        "train",
    }, log[-3000:]
    assert "data/raw" not in " ".join(re.findall(r"Running stage '([^']+)'", log))
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    assert "wider" in json.dumps(shown)
