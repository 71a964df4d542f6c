#!/usr/bin/env bash
# Install DeepDX into .venv, and link a voice collection as data/raw.
#   bash scripts/setup.sh [COLLECTION]      e.g. bash scripts/setup.sh ../shared/corpus
# torch comes first, as the CPU build (a bare `torch` requirement pulls a multi-GB CUDA
# build); set TORCH_SPEC to choose another, e.g. TORCH_SPEC="torch" on a CUDA machine.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
.venv/bin/python -m pip install -q -e ".[dev,midi]"
if [ $# -ge 1 ]; then
  [ -e "$1" ] || { echo "error: collection '$1' does not exist" >&2; exit 2; }
  ln -sfn "$(realpath "$1")" data/raw
  echo "data/raw -> $(realpath "$1")"
fi
echo "DeepDX installed in .venv (activate with: . .venv/bin/activate)"
