"""Benchmark: a 10-bank browser page opened from disk in headless Chromium.

    python bench/browse_load.py [BANKS_DIR|-] [TRAINING_DIR]
        (default, or -: 10 banks of random voices; data/split/train when it exists)

Builds the page (previews rendered, nearest training voices found), then opens it five
times in a fresh headless Chromium and prints the load time (navigation start to the end
of the load event) and DOMContentLoaded to load.  Target (issue 15): the page loads in
under 2 s.  Needs chromium, chromedriver and selenium (see deepdx.browse.headless).
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from deepdx.browse import headless
from deepdx.browse.build import build
from deepdx.dx7 import bank_bytes
from deepdx.dx7.params import uniform_voices

BANKS = 10


def main() -> None:
    why = headless.missing()
    if why:
        sys.exit(f"cannot run: {why}")
    training = Path(sys.argv[2] if len(sys.argv) > 2 else "data/split/train")
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1 and sys.argv[1] != "-":
            banks = sorted(Path(sys.argv[1]).glob("*.syx"))[:BANKS]
            if not banks:
                sys.exit(f"no .syx banks in {sys.argv[1]}")
        else:
            banks = [Path(tmp) / f"random_{b}.syx" for b in range(BANKS)]
            for b, path in enumerate(banks):
                path.write_bytes(bank_bytes(uniform_voices(32, seed=b)))
        t = time.perf_counter()
        made = build(Path(tmp) / "page", banks, training=training if training.exists() else None)
        built = time.perf_counter() - t
        page = Path(tmp) / "page" / "index.html"
        print(
            f"built {made['voices']} voices of {made['banks']} banks in {built:.1f} s "
            f"(nearest: {'from ' + str(training) if training.exists() else 'none'}); "
            f"index.html {page.stat().st_size / 1e6:.2f} MB"
        )
        loads = []
        with headless.chromium() as driver:
            for _ in range(5):
                loads.append(headless.open_page(driver, page))
                driver.get("about:blank")
        load = statistics.median(x["load"] for x in loads)
        print(
            f"load (median of 5): {load:.0f} ms (DOMContentLoaded {statistics.median(x['dom'] for x in loads):.0f} ms, "
            f"DOMContentLoaded to load {statistics.median(x['dom_to_load'] for x in loads):.0f} ms); "
            f"target < 2000 ms: {'met' if load < 2000 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
