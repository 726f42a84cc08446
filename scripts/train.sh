#!/usr/bin/env bash
# Train SR-GNN: installs what is missing, then runs `srgnn-paddle train` with every argument.
# Usage: bash scripts/train.sh [train options]
#   no --data_dir and no --config: the embedded synthetic data (generated into data/synthetic/
#   on first use) with configs/synthetic.yaml;
#   the notebook's run: bash scripts/train.sh --data_dir data/data173799 --config configs/notebook.yaml
# Runs from the repository root (relative paths are relative to it); runs go to exp/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
bash scripts/install.sh
has_data=0; has_config=0
for arg in "$@"; do
  case "$arg" in
    --data_dir|--data_dir=*) has_data=1 ;;
    --config|--config=*) has_config=1 ;;
  esac
done
if [ "$has_data" = 0 ] && [ "$has_config" = 0 ]; then
  set -- --config configs/synthetic.yaml "$@"
fi
exec "${PYTHON:-python3}" -m srgnn_paddle train "$@"
