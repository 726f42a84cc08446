#!/usr/bin/env bash
# Prepare a dataset folder from a raw public file; every argument goes to `srgnn-paddle prepare`.
# Usage: bash scripts/prepare_data.sh FORMAT --input PATH --output DIR [options]
#   e.g. bash scripts/prepare_data.sh amazon-seq --input ../shared/data/amazon_beauty/Beauty.txt --output data/beauty
# Runs this checkout's code from any working directory (relative paths stay relative to it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -m srgnn_paddle prepare "$@"
