"""The results tables of README.md and docs/results.md are generated from metrics/evaluate.json."""

import json

import pytest

from deepdx import results
from tests.conftest import ROOT

METRICS = json.loads((ROOT / "metrics" / "evaluate.json").read_text())


@pytest.mark.parametrize("page", results.PAGES)
def test_every_results_table_is_what_the_committed_metrics_give(page):
    text = (ROOT / page).read_text()
    assert "<!-- results:" in text
    assert results.render(text, METRICS) == text, f"{page}: run `python -m deepdx.results` (never edit the tables)"


def test_a_figure_edited_by_hand_is_caught(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "evaluate.json").write_text(json.dumps(METRICS))
    (tmp_path / "docs").mkdir()
    for page in results.PAGES:
        (tmp_path / page).write_text((ROOT / page).read_text())
    assert results.main(["--check"], tmp_path) == 0
    readme = tmp_path / "README.md"
    recall = f"{METRICS['overall']['cgan']['recall']:.3f}"
    readme.write_text(readme.read_text().replace(recall, "0.999", 1))
    assert results.main(["--check"], tmp_path) == 1
    assert results.main([], tmp_path) == 0 and results.main(["--check"], tmp_path) == 0  # rewritten


def test_targets_are_judged_on_the_figures_not_typed_in():
    """A better recall meets its target, a worse precision misses its own: the verdict follows the metrics."""
    better = json.loads(json.dumps(METRICS))
    better["overall"]["cgan"]["recall"] = better["overall"]["real"]["recall"]
    better["overall"]["cgan"]["precision"] = 0.5 * better["overall"]["real"]["precision"]
    rows = {line.split(" | ")[0].strip("| "): line for line in results.targets_table(better).splitlines()[2:]}
    assert rows["recall >= 0.9x real"].endswith("| yes |")
    assert rows["precision >= 0.9x real"].endswith("| **no** |")
    assert "1.00x" in rows["recall >= 0.9x real"]
