#!/usr/bin/env bash
# Install srgnn-paddle and whatever it is missing into the current Python, without ever
# replacing a Paddle or Faiss that is already there (e.g. paddlepaddle-gpu on AI Studio).
# Usage: source-free; call as `bash scripts/install.sh [extra-pip-packages...]`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }

missing=()
"$PY" -c "import paddle" 2>/dev/null || missing+=("paddlepaddle>=3.0")
"$PY" -c "import faiss" 2>/dev/null || missing+=("faiss-cpu")
for extra in "$@"; do
  mod="${extra%%[<>=]*}"
  "$PY" -c "import ${mod//-/_}" 2>/dev/null || missing+=("$extra")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install] installing: ${missing[*]}"
  pip_install "${missing[@]}"
fi
# The package itself (editable, so the checkout is what runs) and its pure-Python needs.
if ! "$PY" -c "import srgnn_paddle, sys; sys.exit(0 if srgnn_paddle.__file__.startswith('$PWD') else 1)" 2>/dev/null; then
  echo "[install] installing srgnn-paddle from $PWD"
  pip_install -e .
fi
