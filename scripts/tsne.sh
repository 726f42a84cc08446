#!/usr/bin/env bash
# Draw the t-SNE map of a saved run's item embeddings (default: <run_dir>/tsne.png).
# Usage: bash scripts/tsne.sh [--run_dir DIR] [--data_dir DIR] [--out PNG] [--max_items N]
#   no --run_dir: the default synthetic run of scripts/train.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
DEFAULT_RUN="exp/synthetic_softmax/SRGNN_0.005_128_16"  # configs/synthetic.yaml's run folder
case " $* " in *" --run_dir"*) ;; *) set -- --run_dir "$DEFAULT_RUN" "$@" ;; esac
exec "${PYTHON:-python3}" -m srgnn_paddle tsne "$@"
