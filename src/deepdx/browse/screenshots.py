"""The bank browser's screenshots in README.md and docs/, taken from a run's page.

    python -m deepdx.browse.screenshots [--page data/browse/index.html] [--out docs]

After a full `dvc repro`, this opens the browse stage's page in headless Chromium at
1400 x 960 and saves ``browse.png`` (the bass bank, or the first bank when there is none)
and ``browse_evaluation.png`` (the evaluation at the page's foot) into ``--out``, with
``screenshots.txt`` saying which commit's run they show.  Exit 2 with the reason when the
page or the browser is missing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from . import headless

# each file: what is scrolled to the top, the first element the selector finds whose text holds
# the word ("": the first it finds)
SHOTS = {"browse.png": ("section.bank h2", "bass"), "browse_evaluation.png": ("#evaluation", "")}


def _target(driver, selector: str, word: str):
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return next((e for e in found if word in e.text.lower()), found[0] if found else None)


def take(page: Path, out: Path) -> list[Path]:
    """Both screenshots of ``page`` into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with headless.chromium(1400, 960) as driver:
        headless.open_page(driver, page)
        for name, (selector, word) in SHOTS.items():
            target = _target(driver, selector, word)
            if target is None:
                raise ValueError(f"{page} has no {selector} to show")
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", target)
            path = out / name
            if not driver.save_screenshot(str(path)):
                raise ValueError(f"Chromium saved no screenshot to {path}")
            written.append(path)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    (out / "screenshots.txt").write_text(
        f"browse.png and browse_evaluation.png: {page} of the run of commit "
        f"{commit or 'unknown'}, in headless Chromium at 1400 x 960\n"
    )
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m deepdx.browse.screenshots", description=__doc__.split("\n\n")[0])
    p.add_argument("--page", default="data/browse/index.html", help="the browse stage's page")
    p.add_argument("--out", default="docs", help="folder for the PNG files")
    args = p.parse_args(argv)
    page = Path(args.page)
    if not page.is_file():
        print(f"error: no page at {page}: run `dvc repro` first", file=sys.stderr)
        return 2
    if why := headless.missing():
        print(f"error: {why}", file=sys.stderr)
        return 2
    for path in take(page, Path(args.out)):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
