#!/usr/bin/env bash
# A/B of the DIGINETICA training step (paper config) between two checkouts, in one run:
# the benchmark of each checkout alternates ROUNDS times, so both see the same machine state.
#   bash benchmarks/ab_step.sh OLD_CHECKOUT NEW_CHECKOUT DATA_DIR [ROUNDS] [extra bench_paper args for NEW]
# Prints each run's step line and a final JSON line per run ({"label": ..., "step_ms": ...}).
set -euo pipefail
OLD="$1"; NEW="$2"; DATA="$3"; ROUNDS="${4:-3}"; shift 4 || shift $#
PY="${PYTHON:-python3}"
for round in $(seq 1 "$ROUNDS"); do
  for side in old new; do
    dir="$OLD"; extra=()
    [ "$side" = new ] && { dir="$NEW"; extra=("$@"); }
    out=$(cd "$dir" && PYTHONPATH="$dir" "$PY" benchmarks/bench_paper.py --data_dir "$DATA" --max_steps 300 \
          --test_batches 10 --json "${extra[@]}" 2>/dev/null)
    echo "[$side round $round] $(echo "$out" | grep '^step')"
    echo "$out" | tail -1 | "$PY" -c "import json,sys; r=json.load(sys.stdin); print(json.dumps({'label': '$side', 'round': $round, 'step_ms': round(r['step_ms'], 2), 'parts': {k: round(v, 2) for k, v in r['step_ms_parts'].items()}, 'test_seconds': round(r['test_seconds'], 2)}))"
  done
done
