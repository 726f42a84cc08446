#!/usr/bin/env bash
# Make the current Python able to run this checkout, deciding from installed distributions
# (never from imports: the scripts put the checkout on PYTHONPATH, so `import srgnn_paddle`
# succeeds even when the package, its requirements and the `srgnn-paddle` script are absent).
#   * Paddle / Faiss: installed (CPU builds) only when no flavour of them is there, so that an
#     image with paddlepaddle-gpu or faiss-gpu (Baidu AI Studio, conda) never gets a second one;
#   * otherwise anything missing => `pip install -e .` (requirements.txt + the console script,
#     the checkout is what runs) plus the extra packages named as arguments; beside a Paddle 2.x
#     with `numpy<2` in the same call (Paddle 2.x is built against numpy 1.x), and numpy 2 beside
#     a Paddle 2.x counts as missing.
# Prints nothing when all is there (one Python start, ~0.1 s: it runs before every train/test),
# else one line `[install] installed: ...`.
# Usage: bash scripts/install.sh [extra-pip-packages...]    (PYTHON=... picks the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }

# Distributions that count as "Paddle is there" / "Faiss is there" (any one of them).
PADDLE="paddlepaddle|paddlepaddle-gpu"
FAISS="faiss|faiss-cpu|faiss-gpu|faiss-gpu-cu11|faiss-gpu-cu12"

# One line per unmet requirement (stdlib only; see the script's docstring).
missing="$("$PY" scripts/missing_requirements.py "$PADDLE" "$FAISS" "$@")"
[ -n "$missing" ] || exit 0

installed=()
# No Paddle/Faiss distribution: a build that imports anyway (conda, source) still counts.
if grep -qxF "$PADDLE" <<<"$missing" && ! "$PY" -c "import paddle" >/dev/null 2>&1; then
  pip_install "paddlepaddle>=3.0"
  installed+=("paddlepaddle>=3.0")
fi
if grep -qxF "$FAISS" <<<"$missing" && ! "$PY" -c "import faiss" >/dev/null 2>&1; then
  pip_install faiss-cpu
  installed+=(faiss-cpu)
fi
# The rest: requirements.txt lines, srgnn-paddle itself, extras (and `numpy<2` beside a Paddle
# 2.x). Paddle and Faiss are not install_requires, so this never touches them. Beside a Paddle
# 2.x (e.g. paddlepaddle-gpu 2.6.2 from the package index) every requirement is resolved with
# numpy<2 in the same pip call, so that pip picks releases that run with numpy 1.x (pandas 3.1
# needs numpy 2).
rest="$(grep -vxF -e "$PADDLE" -e "$FAISS" <<<"$missing" || true)"
if [ -n "$rest" ]; then
  mapfile -t pins < <("$PY" scripts/missing_requirements.py --pins)
  pip_install -e . "$@" ${pins[@]+"${pins[@]}"}
  mapfile -t lines <<<"$rest"
  installed+=("${lines[@]}")
fi
if [ ${#installed[@]} -gt 0 ]; then
  echo "[install] installed: ${installed[*]}"
fi
