"""README.md and docs/ are checked: links resolve, named paths exist, no commit hash as history,
code comments cite pages that exist, and every command README shows is run somewhere."""

import re
import subprocess

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
# paths named in backquotes under these top-level folders must exist (data/ is made by runs)
TRACKED = ("src/", "pipeline/", "conf/", "tests/", "bench/", "scripts/", "docs/", "metrics/", ".ci/")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_resolves(page):
    for m in LINK.finditer(page.read_text()):
        target = m.group(1) or m.group(2)
        if re.match(r"\w+://|mailto:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor:
            assert anchor in anchors(dest), f"{page.name} links to {target}: no such heading in {dest.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_path_named_exists(page):
    for path in re.findall(r"`([\w./-]+)`", page.read_text()):
        if path.startswith(TRACKED) and "<" not in path:
            assert (ROOT / path.rstrip("/")).exists(), f"{page.name} names {path}, which does not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_commit_hash_tells_history(page):
    commits = set(
        subprocess.run(
            ["git", "log", "--format=%h %H"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    )
    words = set(re.findall(r"\b[0-9a-f]{7,40}\b", page.read_text()))
    cited = {w for w in words if any(c.startswith(w) for c in commits)}
    assert not cited, f"{page.name} cites commits {sorted(cited)}: say the fact, not the history"


def test_code_comments_cite_pages_that_hold_what_they_cite():
    """A comment that points a reader elsewhere names a page of docs/ (README is a guide now)."""
    cited = []
    for path in [
        *ROOT.glob("src/deepdx/**/*.py"),
        *ROOT.glob("pipeline/*.py"),
        *ROOT.glob("conf/**/*.yaml"),
        ROOT / "dvc.yaml",
    ]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"README[,:)]|see README|README's|the README", line) and "README.md" not in line:
                cited.append(f"{path.relative_to(ROOT)}:{n}")
            for page in re.findall(r"docs/([\w-]+\.md)", line):
                assert (ROOT / "docs" / page).exists(), f"{path.relative_to(ROOT)}:{n} cites docs/{page}"
    assert not cited, f"comments citing README sections that moved to docs/: {cited}"


# Every command README's install, make-banks and experiments sections show: the file that runs
# it and the text there that does (a new command in README needs a line here).
RUN_BY = {
    "bash scripts/setup.sh": (".ci/run", "bash scripts/setup.sh"),
    "dvc repro": (".ci/run", "dvc repro"),
    "pytest": (".ci/run", "pytest"),
    "xdg-open": None,  # the desktop's browser; the page itself is opened in tests/test_browse.py
    "deepdx generate": ("tests/test_cli.py", '[ "generate",'),
    "deepdx show": ("tests/test_cli.py", 'run_cli("show", '),
    "deepdx render": ("tests/test_cli.py", '["render",'),
    "deepdx browse": ("tests/test_browse.py", '"browse",'),
    "deepdx send": ("tests/test_cli.py", 'cli(["send",'),
    "deepdx vary": ("tests/test_cli.py", 'cli(["vary",'),
    "python -m deepdx.config sync": (".ci/run", "python -m deepdx.config sync"),
    "dvc exp run": ("tests/test_pipeline.py", '"exp", "run", '),
    "dvc queue start": ("tests/test_pipeline.py", '"queue", "start"'),
    "dvc queue status": ("tests/test_pipeline.py", '"queue", "status"'),
    "dvc exp show": ("tests/test_pipeline.py", '"exp", "show"'),
    "dvc metrics diff": ("tests/test_pipeline.py", '"metrics", "diff"'),
    "python pipeline/train.py -m": ("tests/test_sweeps.py", '"pipeline/train.py", "-m"'),
    "python -m deepdx.sweeps.report": ("tests/test_sweeps.py", "sweeps.report("),
    "mlflow ui": ("tests/mlflow_server.py", '"mlflow", "server"'),  # `mlflow ui` is the server's UI on a local store
    "python -m deepdx.decisions": ("tests/test_decisions.py", '"deepdx.decisions"'),
}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [
        re.sub(r"\s+#.*$", "", line).strip() for block in blocks for line in block.replace("\\\n", " ").splitlines()
    ]
    commands = []
    for line in filter(None, lines):
        for part in re.split(r"\s*&&\s*", line):
            commands.append(re.sub(r"^\. \.venv/bin/activate$", "", part).strip())
    return [c for c in commands if c]


def test_every_command_readme_shows_is_run_by_a_test_or_ci():
    shown = readme_commands()
    assert len(shown) > 20
    for command in shown:
        key = next((k for k in RUN_BY if command.startswith(k)), None)
        assert key is not None, f"README shows `{command}`: name the test or CI step that runs it in RUN_BY"
        if RUN_BY[key] is not None:
            where, marker = RUN_BY[key]
            text = re.sub(r"\s+", " ", (ROOT / where).read_text())  # as formatted, on one line or several
            assert marker in text, f"{where} does not run `{key}` (README shows `{command}`)"
