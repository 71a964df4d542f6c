#!/usr/bin/env bash
# Install DeepDX into .venv, and copy a voice collection to data/raw (tracked by DVC).
#   bash scripts/setup.sh [COLLECTION]      e.g. bash scripts/setup.sh ../shared/corpus
# torch comes first, as the CPU build (a bare `torch` requirement pulls a multi-GB CUDA
# build); set TORCH_SPEC to choose another, e.g. TORCH_SPEC="torch" on a CUDA machine.  The
# other packages come at the exact versions of scripts/constraints.txt; DEEPDX_UNPINNED=1: pip's choice.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
# the rest at the versions that made the committed metrics (scripts/constraints.txt, frozen on
# CPython 3.11), unless told not to or on another Python (some of those versions need 3.11)
pins=(-c scripts/constraints.txt)
py="$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ -n "${DEEPDX_UNPINNED:-}" ] || [ "$py" != 3.11 ]; then
  pins=(); echo "note: packages at pip's choice of versions (Python $py), not scripts/constraints.txt's" >&2
fi
.venv/bin/python -m pip install -q "${pins[@]}" -e ".[dev,midi]"
# lint and format before each commit (.pre-commit-config.yaml), in a git checkout
if [ -d .git ]; then .venv/bin/pre-commit install >/dev/null || echo "note: the pre-commit hook was not installed" >&2; fi
if [ $# -ge 1 ]; then
  # The collection is copied to data/raw and tracked by DVC (data/raw.dvc), so that queued
  # experiments, which run in a temporary copy of the repository, get it from DVC's cache.
  [ -e "$1" ] || { echo "error: collection '$1' does not exist" >&2; exit 2; }
  source="$(realpath "$1")"
  if [ "$source" != "$(realpath data/raw 2>/dev/null)" ]; then
    if [ -e data/raw ] && [ ! -L data/raw ] && ! .venv/bin/dvc status -q data/raw.dvc 2>/dev/null; then
      echo "error: data/raw holds files that DVC's cache does not have; move them away first" >&2; exit 2
    fi
    rm -rf data/raw
    if [ -d "$source" ]; then cp -a "$source" data/raw; else mkdir data/raw && cp -a "$source" data/raw/; fi
  fi
  .venv/bin/dvc add -q data/raw
  echo "data/raw: a copy of $source, tracked by DVC (data/raw.dvc)"
fi
echo "DeepDX installed in .venv (activate with: . .venv/bin/activate)"
