"""The bank browser: its drawings, the page it writes, the `deepdx browse` command, the stage,
and the page itself in headless Chromium (opened from disk)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from deepdx.audio.wav import write_wav
from deepdx.browse import headless
from deepdx.browse.svg import MAX_WIDTH, algorithm_svg, envelope_points, layout
from deepdx.cli import main as cli
from deepdx.corpus.table import write_csv, write_json, write_table
from deepdx.dx7 import bank_bytes, names
from deepdx.dx7.algorithms import ALGORITHMS, carriers, edges, feedback
from deepdx.dx7.params import INDEX
from deepdx.generate.banks import MANIFEST_FIELDS
from tests.conftest import ROOT, built_banks, random_voices
from tests.test_cli import fails

READABLE_BANKS = 3  # generated (with a manifest), plain, one with out-of-range "watermark" values
MISSING_SLOT = 5  # the generated bank's voice whose preview is not on disk
CORRUPT = "malformed bulk32 message"


# --------------------------------------------------------------------------- drawings


@pytest.mark.parametrize("algorithm", [1, 4, 5, 16, 22, 32])
def test_the_graph_marks_exactly_the_carriers_and_draws_every_edge_and_the_feedback(algorithm):
    svg = ET.fromstring(algorithm_svg(algorithm))  # well-formed XML
    ops = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if "op" in g.get("class", "").split()]
    marked = {int(g.get("data-op")) for g in ops if "carrier" in g.get("class").split()}
    assert len(ops) == 6 and marked == set(carriers(algorithm))
    arrows = list(svg.iter("{http://www.w3.org/2000/svg}polygon"))
    assert len(arrows) == len(edges(algorithm))
    (loop,) = [p for p in svg.iter("{http://www.w3.org/2000/svg}path") if p.get("class") == "feedback"]
    assert (int(loop.get("data-from")), int(loop.get("data-to"))) == feedback(algorithm)


def test_every_modulator_sits_above_what_it_modulates_and_no_two_operators_overlap():
    for algorithm in ALGORITHMS:
        pos = layout(algorithm)
        assert {op for op, (_, row) in pos.items() if row == 0} == set(carriers(algorithm))
        assert all(pos[src][1] > pos[dst][1] for src, dst in edges(algorithm))
        assert len(set(pos.values())) == 6, algorithm


def test_algorithm_lists_are_shortened_to_runs():
    from deepdx.browse.page import spans

    assert spans([20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32]) == "20-27, 29-32"
    assert spans([5, 6, 12, 13, 19, 28]) == "5, 6, 12, 13, 19, 28" and spans([]) == ""


def test_envelope_goes_from_l4_through_l1_to_l3_holds_and_returns_with_slow_rates_wider():
    points = envelope_points([99, 50, 20, 70], [99, 80, 60, 0])
    assert [level for _, level in points] == [0, 99, 80, 60, 60, 0]
    times = [t for t, _ in points]
    assert all(b > a for a, b in zip(times, times[1:])) and times[-1] <= MAX_WIDTH
    widths = np.diff(times)
    assert widths[0] < 1.1  # rate 99: about the fastest a segment can be drawn
    assert widths[2] > widths[1]  # rate 20 after rate 50, over the same 20 levels
    fast, slow = envelope_points([90] * 4, [99, 0, 99, 0]), envelope_points([10] * 4, [99, 0, 99, 0])
    assert slow[-1][0] > 3 * fast[-1][0]
    assert envelope_points([0, 0, 0, 0], [99, 0, 99, 0])[-1][0] <= MAX_WIDTH  # the slowest fits the plot


# --------------------------------------------------------------------------- a report


def inputs(root):
    """Banks, a generate run's manifest and previews (one missing), training voices, an
    evaluation and model summaries, in the pipeline's layout under ``root``."""
    generated = random_voices(32, seed=70)
    (root / "generate" / "banks").mkdir(parents=True)
    (root / "generate" / "banks" / "brass_1.syx").write_bytes(bank_bytes(generated))
    rows = []
    for slot, name in enumerate(names(generated), 1):
        wav = f"previews/brass_1/{slot:02d}_{name.strip().replace(' ', '_')}.wav"
        if slot != MISSING_SLOT:
            write_wav(root / "generate" / wav, 0.5 * np.sin(np.arange(22050) * 0.06), 44100)
        rows.append(
            dict(
                bank="banks/brass_1.syx",
                slot=slot,
                name=name.strip(),
                category="brass",
                group=1,
                algorithm=int(generated[slot - 1, INDEX["algorithm"]]) + 1,
                model="group1/generator.pt",
                seed=0,
                problem="silent" if slot == 2 else "",
                repair="op1 fixed->ratio" if slot == 2 else "",
                preview=wav,
            )
        )
    write_csv(root / "generate" / "manifest.csv", rows, MANIFEST_FIELDS)
    others = root / "others"
    others.mkdir()
    plain = random_voices(32, seed=71)
    (others / "plain.syx").write_bytes(bank_bytes(plain))
    (others / "watermark.syx").write_bytes(built_banks(4, seed=7)[3])
    (others / "corrupt.syx").write_bytes(bank_bytes(plain)[:3000])  # a truncated download
    training = random_voices(50, seed=72)
    training[7] = plain[3]  # plain's fourth voice is a training voice: distance 0
    write_table(
        root / "split" / "train" / "group0.parquet",
        {"params": training, "category_name": np.array(["keys", "bass"] * 25)},
    )
    figures = {"precision": 0.5, "recall": 0.4, "coverage": 0.3, "harsh_rate": 0.05}
    refs = {ref: figures for ref in ("real", "cgan", "cgan_repaired", "uniform", "marginal", "jitter")}
    write_json(root / "metrics" / "evaluate.json", {"groups": {"0": refs, "1": refs}, "overall": refs})
    write_json(
        root / "models" / "group0" / "summary.json",
        {"group": 0, "algorithms": [16, 17, 18], "mlflow_run_id": "0123abcd"},
    )
    write_json(root / "models" / "group1" / "summary.json", {"group": 1, "algorithms": [1, 2]})
    return [
        root / "generate" / "banks" / "brass_1.syx",
        others / "plain.syx",
        others / "corrupt.syx",
        others / "watermark.syx",
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The page as `deepdx browse` writes it for those inputs."""
    root = tmp_path_factory.mktemp("browse")
    banks = inputs(root)
    args = [
        "browse",
        *banks,
        "--out",
        root / "page",
        "--training",
        root / "split" / "train",
        "--manifest",
        root / "generate" / "manifest.csv",
        "--metrics",
        root / "metrics" / "evaluate.json",
        "--models",
        root / "models",
    ]
    assert cli([str(a) for a in args]) == 1  # a bank could not be shown
    return root / "page" / "index.html"


def test_the_page_holds_every_readable_voice_and_says_what_went_wrong(report):
    html = report.read_text()
    assert html.count('<article class="card voice">') == 32 * READABLE_BANKS
    assert html.count('class="error bank-error"') == 1 and CORRUPT in html
    assert html.count('class="missing"') == 1 and "preview missing" in html
    assert (
        "not a clean 32-voice bank: voice 1: out of range: op6_eg_rate1=120" in html
    )  # the watermark bank, shown with a warning
    assert "problem: silent; repair: op1 fixed-&gt;ratio" in html
    assert html.count('<span class="tag">brass</span>') == 32
    assert 'href="http://127.0.0.1:5000/#/runs/0123abcd"' in html and "no run recorded" in html
    sources = [s.split('"')[0] for s in html.split('<audio controls preload="none" src="')[1:]]
    assert len(sources) == 2 * 32 * READABLE_BANKS - 1  # each voice and its nearest, less the missing preview
    assert all((report.parent / s).is_file() for s in sources)


def test_a_training_voice_is_found_at_distance_zero(report):
    html = report.read_text()
    plain = random_voices(32, seed=71)
    card = html.split('<article class="card voice">')[32 + 4]  # the plain bank's fourth voice
    assert names(plain[3:4])[0].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in card
    assert "at <b>0.00</b>" in card and " bass at " in card


def test_without_evaluation_or_with_broken_files_the_page_says_so(tmp_path):
    from deepdx.browse.build import build

    bank = tmp_path / "b.syx"
    bank.write_bytes(bank_bytes(random_voices(32, seed=5)))
    (tmp_path / "bad.json").write_text('{"overall": [1, 2]}')
    for folder, text in (
        ("group0", "[1]"),
        ("group1", "{not json"),
        ("group2", '{"algorithms": ["a", 3]}'),
        ("groupx", "{}"),
    ):
        (tmp_path / "models" / folder).mkdir(parents=True)
        (tmp_path / "models" / folder / "summary.json").write_text(text)
    build(tmp_path / "a", [bank], metrics=tmp_path / "nowhere.json", models=tmp_path / "models")
    html = (tmp_path / "a" / "index.html").read_text()
    assert "No evaluation yet" in html and html.count("no run recorded") == 3
    build(tmp_path / "b", [bank], metrics=tmp_path / "bad.json")
    assert "does not hold the evaluate stage&#x27;s figures" in (tmp_path / "b" / "index.html").read_text()


def test_browse_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys):
    bank = tmp_path / "b.syx"
    bank.write_bytes(bank_bytes(random_voices(32, seed=6)))
    out = tmp_path / "page"
    fails(capsys, ["browse", tmp_path / "none.syx", "--out", out], "none.syx: no such file")
    fails(capsys, ["browse", bank, "--out", bank], "is a file, not a folder")
    fails(capsys, ["browse", bank, "--out", out, "--training", tmp_path / "nowhere"], "--training")
    fails(capsys, ["browse", bank, "--out", out, "--manifest", tmp_path / "m.csv"], "--manifest")
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "group0.parquet").write_bytes(b"not parquet")
    fails(capsys, ["browse", bank, "--out", out, "--training", tmp_path / "train"], "unreadable training voices")
    fails(capsys, ["browse", bank, "--out", out, "--training", tmp_path], "no training voices")
    assert not out.exists() or not (out / "index.html").exists()


def test_the_stage_writes_the_page_from_the_pipeline_layout(tmp_path):
    inputs(tmp_path)
    cmd = [
        sys.executable,
        "pipeline/browse.py",
        "--config-path",
        "..",
        "--config-name",
        "params",
        f"hydra.run.dir={tmp_path}",
        "hydra.output_subdir=null",
        f"data.generated={tmp_path}/generate",
        f"data.split={tmp_path}/split",
        f"data.models={tmp_path}/models",
        f"data.metrics={tmp_path}/metrics",
        f"data.browse={tmp_path}/browse",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    assert "browse: 32 voices of 1 banks" in proc.stdout and "1 missing previews" in proc.stdout
    html = (tmp_path / "browse" / "index.html").read_text()
    assert html.count('<article class="card voice">') == 32 and "nearest training voice" in html


# --------------------------------------------------------------------------- in a real browser


def need_browser() -> None:
    why = headless.missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the browser test: {why}")
        pytest.skip(why)


def test_the_page_in_headless_chromium(report, tmp_path):
    need_browser()
    with headless.chromium() as driver:
        headless.open_page(driver, report)
        players = headless.audio_report(driver)
        assert len(players) == 2 * 32 * READABLE_BANKS - 1
        assert [p for p in players if p["error"] or not p["duration"] > 0] == []
        images = driver.execute_script(
            "return [...document.images].map(i => i.complete && i.naturalWidth > 0)"
            ".concat([...document.querySelectorAll('use')].map(u => !!document.querySelector(u.getAttribute('href'))))"
        )
        assert images and all(images)  # every drawing's algorithm graph is defined on the page
        count = lambda css: driver.execute_script(f"return document.querySelectorAll('{css}').length")
        assert count(".card.voice") == 32 * READABLE_BANKS
        assert count("svg.envs") == count("svg.alg") == 32 * READABLE_BANKS
        errors = driver.find_elements("css selector", ".bank-error")
        assert len(errors) == 1 and CORRUPT in errors[0].text and errors[0].is_displayed()
        (missing,) = driver.find_elements("css selector", ".missing")
        assert "preview missing" in missing.text and missing.is_displayed()
        assert headless.console_errors(driver) == []
        shot = os.environ.get("DEEPDX_SCREENSHOT") or str(tmp_path / "browse.png")
        assert driver.save_screenshot(shot)


def test_the_docs_screenshots_are_taken_by_a_command_that_says_which_run_they_show(report, tmp_path):
    need_browser()
    from deepdx.browse import screenshots

    assert screenshots.main(["--page", str(report), "--out", str(tmp_path / "shots")]) == 0
    for name in screenshots.SHOTS:
        png = (tmp_path / "shots" / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert commit in (tmp_path / "shots" / "screenshots.txt").read_text()
    assert screenshots.main(["--page", str(tmp_path / "none.html"), "--out", str(tmp_path / "x")]) == 2
