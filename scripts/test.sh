#!/usr/bin/env bash
# Run the test suite: installs what is missing (package, Paddle/Faiss CPU if absent, pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh pytest
exec "${PYTHON:-python3}" -m pytest -q "$@" tests
