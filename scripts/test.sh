#!/usr/bin/env bash
# Run the test suite: installs what is missing (package, Paddle/Faiss CPU if absent, and the
# test extras: pytest, nbclient/ipykernel/nbformat that execute the notebooks, and the serving
# extras fastapi/uvicorn/httpx/onnxruntime/paddle2onnx that the export and HTTP tests use).
#   bash scripts/test.sh -m "not slow"   the quick loop (under a minute); markers: slow, cli, notebook
#   bash scripts/test.sh [pytest args]
#       the whole suite on the current Python (or $PYTHON) and its Paddle;
#   bash scripts/test.sh --paddle VERSION [pytest args]      e.g. --paddle 2.6.2
#       the Paddle-facing tests (every command, model and protocol, both kernels: the files in
#       PADDLE_TESTS below) in a venv of their own with paddlepaddle==VERSION (the CPU build of
#       that release; numpy<2 for a Paddle 2.x), made from $PYTHON at .venv-paddle<MAJOR><MINOR>/
#       (e.g. .venv-paddle26/, git-ignored) on first use and reused afterwards.
# The first line printed names the Paddle, the Python and what runs; .ci/run calls both forms.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

# The tests that exercise Paddle through the commands and the model contract (the rest are
# data preparation, install scripts, configuration and notebooks, independent of Paddle's version).
PADDLE_TESTS=(tests/training/test_compat.py tests/cli/test_cli.py tests/cli/test_pipeline.py tests/models/test_contract.py
  tests/models/test_model.py tests/models/test_api.py tests/training/test_kernels.py tests/protocols/test_paper.py tests/models/test_session_models.py
  tests/cli/test_session_tools.py tests/models/test_ncf.py tests/models/test_baselines.py tests/evaluation/test_retrieval.py
  tests/training/test_perf_paths.py tests/protocols/test_protocols.py tests/serving/test_serving.py
  tests/training/test_search.py)

# "Paddle X (Python Y at PATH)" of an interpreter, from installed metadata (no Paddle import).
describe() {
  "$1" - <<'PY'
import sys
from importlib import metadata
found = []
for name in ("paddlepaddle", "paddlepaddle-gpu"):
    try:
        found.append(f"{name} {metadata.version(name)}")
    except metadata.PackageNotFoundError:
        pass
print(f"{', '.join(found) or 'no Paddle distribution'} (Python {sys.version.split()[0]} at {sys.executable})")
PY
}

if [[ "${1:-}" == --paddle ]]; then
  VERSION="${2:-}"
  [[ "$VERSION" =~ ^([0-9]+)\.([0-9]+)(\.[0-9]+)?$ ]] || {
    echo "error: --paddle wants a Paddle release like 2.6.2 (got '${VERSION}')" >&2; exit 2; }
  shift 2
  MAJOR="${BASH_REMATCH[1]}"
  VENV=".venv-paddle${MAJOR}${BASH_REMATCH[2]}"
  VPY="$VENV/bin/python"
  have="$([ -x "$VPY" ] && "$VPY" -c "from importlib import metadata; print(metadata.version('paddlepaddle'))" 2>/dev/null || true)"
  if [ "$have" != "$VERSION" ]; then
    echo "test.sh: making $VENV with paddlepaddle==$VERSION (from $("$PY" -c 'import sys; print(sys.executable)'))"
    [ -x "$VPY" ] || "$PY" -m venv "$VENV"
    pins=("paddlepaddle==$VERSION" faiss-cpu)
    if [ "$MAJOR" -lt 3 ]; then pins+=("numpy<2"); fi  # Paddle 2.x is built against numpy 1.x
    "$VPY" -m pip install --disable-pip-version-check -q "${pins[@]}"
  fi
  PYTHON="$VPY" bash scripts/install.sh pytest
  echo "test.sh: $(describe "$VPY"): the Paddle-facing tests (${#PADDLE_TESTS[@]} files)"
  exec "$VPY" -m pytest -q "$@" "${PADDLE_TESTS[@]}"
fi

bash scripts/install.sh pytest nbclient ipykernel nbformat fastapi uvicorn httpx onnxruntime paddle2onnx
echo "test.sh: $(describe "$PY"): the whole suite"
exec "$PY" -m pytest -q "$@" tests
