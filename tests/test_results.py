"""The results tables of README.md and docs/results.md are generated from metrics/evaluate.json."""

import json
import subprocess

import pytest

from deepdx import results
from tests.conftest import ROOT

METRICS = json.loads((ROOT / "metrics" / "evaluate.json").read_text())
FLOW = json.loads((ROOT / results.FLOW).read_text()) if (ROOT / results.FLOW).is_file() else None


def committed_metrics() -> dict | None:
    shown = subprocess.run(["git", "show", "HEAD:metrics/evaluate.json"], cwd=ROOT, capture_output=True, text=True)
    return json.loads(shown.stdout) if shown.returncode == 0 else None


@pytest.mark.parametrize("page", results.PAGES)
def test_every_results_table_is_what_the_committed_metrics_give(page):
    """The tables agree with the committed metrics, or with the working tree's once regenerated
    (a run of your own rewrites metrics/ and leaves the committed tables as they were)."""
    text = (ROOT / page).read_text()
    assert "<!-- results:" in text
    candidates = [m for m in (METRICS, committed_metrics()) if m is not None]
    assert any(results.render(text, m, FLOW) == text for m in candidates), (
        f"{page}: run `python -m deepdx.results` (never edit the tables)"
    )


def test_a_figure_edited_by_hand_is_caught(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "evaluate.json").write_text(json.dumps(METRICS))
    (tmp_path / "docs").mkdir()
    if FLOW is not None:
        (tmp_path / results.FLOW).parent.mkdir(parents=True)
        (tmp_path / results.FLOW).write_text(json.dumps(FLOW))
    for page in results.PAGES:
        (tmp_path / page).write_text((ROOT / page).read_text())
    assert results.main(["--check"], tmp_path) == 0
    readme = tmp_path / "README.md"
    recall = f"{METRICS['overall']['cgan']['recall']:.3f}"
    readme.write_text(readme.read_text().replace(recall, "0.999", 1))
    assert results.main(["--check"], tmp_path) == 1
    with pytest.raises(SystemExit) as asked:  # --help prints and rewrites nothing
        results.main(["--help"], tmp_path)
    assert asked.value.code == 0 and results.main(["--check"], tmp_path) == 1
    assert results.main([], tmp_path) == 0 and results.main(["--check"], tmp_path) == 0  # rewritten


def test_targets_are_judged_on_the_figures_not_typed_in():
    """A better recall meets its target, a worse precision misses its own: the verdict follows the metrics."""
    better = json.loads(json.dumps(METRICS))
    better["overall"]["cgan"]["recall"] = better["overall"]["real"]["recall"]
    better["overall"]["cgan"]["precision"] = 0.5 * better["overall"]["real"]["precision"]
    rows = {line.split(" | ")[0].strip("| "): line for line in results.targets_table({"cgan": better}).splitlines()[2:]}
    assert rows["recall >= 0.9x real"].endswith("| yes |")
    assert rows["precision >= 0.9x real"].endswith("| **no** |")
    assert "1.00x" in rows["recall >= 0.9x real"]


def test_the_families_table_judges_each_family_on_its_own_figures():
    flow = json.loads(json.dumps(METRICS))
    flow["overall"]["cgan"]["recall"] = flow["overall"]["real"]["recall"]
    table = results.families_table({"cgan": METRICS, "flow": flow})
    row = next(line for line in table.splitlines() if line.startswith("| recall >= 0.9x real"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    met_by_cgan = METRICS["overall"]["cgan"]["recall"] >= 0.9 * METRICS["overall"]["real"]["recall"]
    assert cells[2] == ("yes" if met_by_cgan else "**no**") and cells[4] == "yes" and "1.00x" in cells[3]
    assert "dvc exp run -S model=flow" in results.families_table({"cgan": METRICS, "flow": None})
