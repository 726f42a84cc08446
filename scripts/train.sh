#!/usr/bin/env bash
# Train SR-GNN: installs what is missing, then runs `srgnn-paddle train` with every argument.
# Usage: bash scripts/train.sh [train options]
#   no --data_dir and no --config: the embedded synthetic data (generated into data/synthetic/
#   on first use) with configs/synthetic.yaml;
#   the notebook's run: bash scripts/train.sh --data_dir data/data173799 --config configs/notebook.yaml
#   data-parallel on several GPUs (Paddle's launcher): bash scripts/train.sh --gpus 0,1 [train options]
# Runs from the repository root (relative paths are relative to it); runs go to exp/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
bash scripts/install.sh
has_data=0; has_config=0; multi=0
for arg in "$@"; do
  case "$arg" in
    --data_dir|--data_dir=*) has_data=1 ;;
    --config|--config=*) has_config=1 ;;
    --gpus|--gpus=*|--cpu_procs|--cpu_procs=*) multi=1 ;;
  esac
done
if [ "$has_data" = 0 ] && [ "$has_config" = 0 ]; then
  set -- --config configs/synthetic.yaml "$@"
fi
if [ "$multi" = 1 ]; then
  exec bash scripts/train_multi_gpu.sh "$@"
fi
exec "${PYTHON:-python3}" -m srgnn_paddle train "$@"
