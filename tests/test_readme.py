"""README's flow of data and docs/architecture.md's map of the code, against the code itself."""

import re

import yaml

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
SRC = ROOT / "src" / "deepdx"


def flow_rows() -> list[list[str]]:
    table = README[README.index("| stage | reads | writes | code") :].split("\n\n")[0].splitlines()[2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table]


def test_the_flow_table_lists_the_dvc_stages_in_order():
    stages = list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    assert [re.search(r"\*\*(\w+)\*\*", row[0]).group(1) for row in flow_rows()] == stages


def test_the_flow_table_names_code_that_exists():
    for row in flow_rows():
        for path in re.findall(r"`([\w/.]+)`", row[3]):
            assert (SRC / path).exists(), f"README flow table names {path}, which is not in src/deepdx"


def test_the_layout_map_names_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text()
    layout = page[page.index("## The module map") : page.index("## Layers")]
    listed = set(re.findall(r"^  ([\w/]+(?:\.py)?/?)", layout, re.M))
    folders = {p.rstrip("/") for p in listed if p.endswith("/")}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.name == "__init__.py" or str(rel.parent) in folders:
            continue
        assert str(rel) in listed, f"docs/architecture.md's module map does not mention src/deepdx/{rel}"
    for path in listed:
        assert (SRC / path).exists(), f"docs/architecture.md's module map names {path}, which does not exist"
