#!/usr/bin/env bash
# Data-parallel training: one process per device through Paddle's own launcher and collective.
#
#   bash scripts/train_multi_gpu.sh --gpus 0,1 [train args, e.g. --config configs/paper_diginetica.yaml --data_dir DIR]
#   bash scripts/train_multi_gpu.sh --cpu_procs 2 [train args]   # CPU ranks (gloo), for testing the wiring
#
# Each rank trains on every world_size-th batch of the same seeded order (the batch size is
# per rank, so the global batch is world_size x batch_size); paddle.DataParallel averages the
# gradients; rank 0 evaluates, logs and writes the run folder. Launcher logs go to
# ${LOG_DIR:-exp/dist_log}/workerlog.N.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 (--gpus 0,1[,...] | --cpu_procs N) [srgnn-paddle train args]" >&2; exit 2; }

GPUS=""
CPU_PROCS=""
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --gpus) [[ $# -ge 2 ]] || usage; GPUS="$2"; shift 2 ;;
    --gpus=*) GPUS="${1#*=}"; shift ;;
    --cpu_procs) [[ $# -ge 2 ]] || usage; CPU_PROCS="$2"; shift 2 ;;
    --cpu_procs=*) CPU_PROCS="${1#*=}"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[[ -n "$GPUS" || -n "$CPU_PROCS" ]] || usage
[[ -z "$GPUS" || -z "$CPU_PROCS" ]] || { echo "error: give --gpus or --cpu_procs, not both" >&2; exit 2; }

PYTHON="${PYTHON:-python3}"
# the launcher takes a script path, not -m: run the package's __main__.py from this checkout
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
ENTRY=srgnn_paddle/__main__.py
LOG_DIR="${LOG_DIR:-exp/dist_log}"
if [[ -n "$GPUS" ]]; then
  [[ "$GPUS" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "error: --gpus wants ids like 0,1 (got '$GPUS')" >&2; exit 2; }
  exec "$PYTHON" -m paddle.distributed.launch --gpus "$GPUS" --log_dir "$LOG_DIR" \
    "$ENTRY" train --device gpu "${ARGS[@]}"
fi
[[ "$CPU_PROCS" =~ ^[1-9][0-9]*$ ]] || { echo "error: --cpu_procs wants a positive integer (got '$CPU_PROCS')" >&2; exit 2; }
exec "$PYTHON" -m paddle.distributed.launch --nproc_per_node "$CPU_PROCS" --log_dir "$LOG_DIR" \
  "$ENTRY" train --device cpu "${ARGS[@]}"
