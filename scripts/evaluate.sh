#!/usr/bin/env bash
# Score a saved run's best weights on the test split (or --split valid).
# Usage: bash scripts/evaluate.sh [--run_dir exp/<dataset>_softmax/SRGNN_<lr>_<batch>_<dim>] [--data_dir DIR]
#   no --run_dir: the default synthetic run of scripts/train.sh; no --data_dir: the run's own data.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
DEFAULT_RUN="exp/synthetic_softmax/SRGNN_0.005_128_16"  # configs/synthetic.yaml's run folder
case " $* " in *" --run_dir"*) ;; *) set -- --run_dir "$DEFAULT_RUN" "$@" ;; esac
exec "${PYTHON:-python3}" -m srgnn_paddle evaluate "$@"
