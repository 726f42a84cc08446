#!/usr/bin/env bash
# A/B of models' DIGINETICA training samples/s between two checkouts, in one run: for each
# round and model, bench_models.py (the model at configs/paper_<model>.yaml, else
# paper_diginetica.yaml) runs in the OLD checkout and in the NEW one, back to back, so both
# see the same machine state (ORDER=alternate: the NEW one first in even rounds; default
# old-new every round).
#   bash benchmarks/ab_models.sh OLD_CHECKOUT NEW_CHECKOUT DATA_DIR [ROUNDS]
# MODELS (default "tagnn sgnnhn gcegnn srgnn") picks the models, STEPS (default "tagnn=30
# sgnnhn=40 gcegnn=60 srgnn=200") the timed steps of each (the first step is untimed),
# THREADS (default 2) the host threads. Prints each run's model line and one JSON line per run
# ({"side": ..., "round": ..., "model": ..., "train_samples_per_s": ...}).
set -euo pipefail
OLD="$1"; NEW="$2"; DATA="$3"; ROUNDS="${4:-2}"
PY="${PYTHON:-python3}"
read -r -a MODELS <<< "${MODELS:-tagnn sgnnhn gcegnn srgnn}"
declare -A STEP=([tagnn]=30 [sgnnhn]=40 [gcegnn]=60 [srgnn]=200)
for pair in ${STEPS:-}; do STEP[${pair%%=*}]=${pair#*=}; done
echo "# $(date -u '+%F %H:%M UTC'), $(nproc) cores; threads ${THREADS:-2}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for model in "${MODELS[@]}"; do
    sides="old new"; [ "${ORDER:-}" = alternate ] && [ $((round % 2)) = 0 ] && sides="new old"
    for side in $sides; do
      dir="$OLD"; [ "$side" = new ] && dir="$NEW"
      config="$dir/configs/paper_$model.yaml"; [ -f "$config" ] || config="$dir/configs/paper_diginetica.yaml"
      out=$(cd "$dir" && PYTHONPATH="$dir" PYTHONDONTWRITEBYTECODE=1 "$PY" benchmarks/bench_models.py --data_dir "$DATA" \
            --config "$config" --models "$model" --max_steps "${STEP[$model]:-50}" --eval_sessions 512 \
            --cpu_threads "${THREADS:-2}" --json 2>/dev/null)
      echo "[$side round $round $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)] $(echo "$out" | grep "^ *$model:")"
      echo "$out" | tail -1 | "$PY" -c "import json,sys; r=json.load(sys.stdin)['models'][0]; print(json.dumps({'side': '$side', 'round': $round, 'model': r['model'], 'train_samples_per_s': round(r['train_samples_per_s'], 1), 'timed_steps': r['timed_steps'], 'loss_first': round(r['loss_first'], 4), 'loss_last': round(r['loss_last'], 4), 'eval_sessions_per_s': round(r['eval_sessions_per_s'], 1)}))"
    done
  done
done
