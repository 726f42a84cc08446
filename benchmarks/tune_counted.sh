#!/usr/bin/env bash
# The tuned counted baselines of README / docs/benchmark.md: a seeded random search of each
# counted model's declared options on one dataset (DATASET: diginetica, the default, tmall or
# nowplaying; configs/paper_<DATASET>.yaml, the paper protocol, the most recent 10% of the
# training sessions as the validation split; the test split is never scored by the search),
# the tables under docs/results/tune/<DATASET>/<model>/ and the best settings copied to
# configs/tuned_<DATASET>_<model>.yaml.
#
#   [DATASET=tmall] bash benchmarks/tune_counted.sh [DATA_DIR]     (default ../shared/data/<DATASET>)
#
# ROUNDS="10 20" runs every model to the first budget, then every model to the next one (a
# larger budget extends the same seeded list; trials already in a table are not run again);
# a model's final budget is the last round's, capped by BUDGET_<model> (e.g. BUDGET_sr=15).
# SEED is the search seed (default 0). CODE=DIR runs the package found in DIR (e.g. a frozen
# copy); default: this checkout.
set -euo pipefail
DATASET=${DATASET:-diginetica}
DATA=$(cd "${1:-../shared/data/$DATASET}" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/docs/results/tune/$DATASET
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export PYTHONPATH=${CODE:-$REPO}${PYTHONPATH:+:$PYTHONPATH}
read -r -a MODELS <<< "${MODELS:-vstan stan vsknn sknn sr}"
read -r -a ROUNDS <<< "${ROUNDS:-10 20}"
cd "$RESULTS/.." 2>/dev/null || { mkdir -p "$RESULTS" && cd "$RESULTS/.."; }  # python -m puts the working folder first on sys.path
for round in "${ROUNDS[@]}"; do
  for model in "${MODELS[@]}"; do
    cap_name="BUDGET_$model"
    budget=$round
    if [[ -n "${!cap_name:-}" && "${!cap_name}" -lt "$budget" ]]; then budget=${!cap_name}; fi
    mkdir -p "$RESULTS/$model"
    "$PY" -m srgnn_paddle tune --model "$model" --config "$REPO/configs/paper_$DATASET.yaml" --valid_split sessions \
        --data_dir "$DATA" --trials "$budget" --search_seed "${SEED:-0}" --out "$RESULTS/$model" --quiet \
        2>>"$RESULTS/$model/console.txt"
    cp "$RESULTS/$model/best.yaml" "$REPO/configs/tuned_${DATASET}_$model.yaml"
  done
done
