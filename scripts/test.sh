#!/usr/bin/env bash
# Run the test suite: installs what is missing (package, Paddle/Faiss CPU if absent, and the
# test extras: pytest, plus nbclient/ipykernel/nbformat that execute the notebooks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh pytest nbclient ipykernel nbformat
exec "${PYTHON:-python3}" -m pytest -q "$@" tests
