#!/usr/bin/env bash
# The Amazon Beauty comparison of docs/session_models.md: every neural session model with
# targets last and all, on Beauty prepared leave-last-out (paper protocol), one run after
# another, each run's log.csv, summary.json and config.yaml copied to docs/results/beauty/.
#
#   bash benchmarks/beauty_session_models.sh [BEAUTY_TXT] [WORK_DIR]
#
# Runs that already have a summary.json are skipped, so the script can be restarted.
# THREADS=N caps the CPU threads of each run (default: every core); MODELS="narm stamp" and
# TARGETS="last" pick the runs (default: every model, both targets), PREFIXES=0 skips the
# prefix-pair folder's runs.
# CODE=DIR runs the package found in DIR (e.g. a frozen copy, so that editing the checkout
# during the hours the runs take changes nothing); default: this checkout.
set -euo pipefail
BEAUTY=${1:-../shared/data/amazon_beauty/Beauty.txt}
WORK=${2:-exp/beauty_comparison}
REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/docs/results/beauty
PY=${PYTHON:-python3}
export PYTHONPATH=${CODE:-$REPO}${PYTHONPATH:+:$PYTHONPATH}
# the paper's configuration (D 100, batch 100, Adam 1e-3, L2 1e-5, uniform init) with a constant
# learning rate (the paper's x0.1 every 3 epochs stalls the runs without augmentation, see
# docs/session_models.md), histories cut to their last 50 items, early stop after 2 epochs
# without progress on validation P@20, at most 20 epochs
TRAIN_FLAGS=(--protocol paper --lr_dc_step 0 --session_max_length 50 --epochs 20 --patience 2 --quiet --no-tsne
             --cpu_threads "${THREADS:-0}")
read -r -a MODELS <<< "${MODELS:-gru4rec narm srgnn stamp gruwatt ggnnwatt}"
read -r -a TARGETS <<< "${TARGETS:-last all}"

for pairs in last prefixes; do
    [ -d "$WORK/data/beauty_$pairs" ] || $PY -m srgnn_paddle prepare amazon-seq --protocol paper \
        --train_pairs "$pairs" --input "$BEAUTY" --output "$WORK/data/beauty_$pairs"
done
run() {  # run DATA TARGETS MODEL
    local data=$1 targets=$2 model=$3
    local exp=$WORK/exp
    local name
    name=$($PY -c "from srgnn_paddle.config import Config; from srgnn_paddle.runs import run_name; print(run_name(Config(model='$model', targets='$targets', lr=0.001, batch_size=100, embedding_dim=100)))")
    local run_dir=$exp/beauty_${data}_paper/$name
    if [ ! -f "$run_dir/summary.json" ]; then
        echo "== $(date +%T) $model targets=$targets data=beauty_$data"
        local resume=()
        [ -f "$run_dir/checkpoint.pdckpt" ] && resume=(--resume)
        $PY -m srgnn_paddle train --model "$model" --targets "$targets" --data_dir "$WORK/data/beauty_$data" \
            --exp_dir "$exp" "${TRAIN_FLAGS[@]}" "${resume[@]}"
    fi
    mkdir -p "$RESULTS/beauty_${data}/$name"
    cp "$run_dir/log.csv" "$run_dir/summary.json" "$run_dir/config.yaml" "$RESULTS/beauty_${data}/$name/"
}
# last: no augmentation, one target per user (the report's MyDataset); all: every position of
# each user's training items (the report's TrainDataset)
for model in "${MODELS[@]}"; do
    for targets in "${TARGETS[@]}"; do run last "$targets" "$model"; done
done
# the paper's prefix pairs, one target each (PREFIXES=0 skips them)
if [ "${PREFIXES:-1}" != 0 ]; then
    for model in "${MODELS[@]}"; do run prefixes last "$model"; done
fi
echo "== $(date +%T) done"
