"""conf/ (Hydra, the source) and params.yaml (what DVC reads) kept in step.

``dvc exp run`` composes conf/ into params.yaml by itself.  ``python -m deepdx.config sync``
does the same composition without running anything, for a plain ``dvc repro`` after an
edit; ``python -m deepdx.config check`` exits non-zero when params.yaml is stale.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def compose_params(out: Path, overrides: list[str] | None = None) -> None:
    # DVC's own composition, so that this file and `dvc exp run` can never disagree.
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(out, str(ROOT / "conf"), None, "config", str(ROOT), overrides or [])


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    params = ROOT / "params.yaml"
    if cmd == "sync":
        compose_params(params, argv[1:])
        print(f"wrote {params}")
        return 0
    if cmd == "check":
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / "params.yaml"
            compose_params(fresh)
            if not params.exists() or fresh.read_text() != params.read_text():
                print("params.yaml is out of date with conf/: run `python -m deepdx.config sync`", file=sys.stderr)
                return 1
        print("params.yaml matches conf/")
        return 0
    print("usage: python -m deepdx.config [sync [OVERRIDES...] | check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
