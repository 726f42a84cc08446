#!/usr/bin/env bash
# The DIGINETICA table of docs/session_models.md: each neural session model trained with the
# paper's configuration and protocol (validation selection, test scored once), refit on
# training + validation where asked; each run's log.csv, summary.json, config.yaml, console
# output and test ranks (uint8, capped as the benchmark keeps them) copied to docs/results/diginetica/.
#
#   bash benchmarks/diginetica_session_models.sh [DATA_DIR] [WORK_DIR]
#
# MODELS="narm stamp" picks the models (default: the first four), EPOCHS the number of epochs
# (default 4: lr 1e-3 for epochs 1-3, 1e-4 for epoch 4, where SR-GNN's 15-epoch run of
# docs/paper.md peaked), THREADS the CPU threads of each run (default: every core), REFIT the
# models also refit on training + validation (default: srgnn; "all" for every one).
# A model with configs/paper_<model>.yaml is trained with that file (its paper's settings),
# the others with configs/paper_diginetica.yaml (SR-GNN's official defaults).
# Finished runs (summary.json present, with test_refit where refit) are skipped, interrupted
# ones resumed; a finished run that lacks its refit gets only the refit.
# CODE=DIR runs the package found in DIR (e.g. a frozen copy); default: this checkout.
set -euo pipefail
DATA=${1:-../shared/data/diginetica}
WORK=${2:-exp/diginetica_session_models}
REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/docs/results/diginetica
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export PYTHONPATH=${CODE:-$REPO}${PYTHONPATH:+:$PYTHONPATH}
read -r -a MODELS <<< "${MODELS:-srgnn narm stamp gru4rec}"
REFIT=" ${REFIT:-srgnn} "
FLAGS=(--protocol paper --dataset diginetica --epochs "${EPOCHS:-4}" --cpu_threads "${THREADS:-0}" --quiet --no-tsne)

for model in "${MODELS[@]}"; do
    config=$REPO/configs/paper_$model.yaml
    [ -f "$config" ] || config=$REPO/configs/paper_diginetica.yaml
    extra=(--config "$config")
    refit=0
    if [ "$REFIT" = " all " ] || [[ "$REFIT" == *" $model "* ]]; then refit=1; extra+=(--refit); fi
    name=$($PY -c "from srgnn_paddle.config import load_config; from srgnn_paddle.runs import run_name; print(run_name(load_config('$config', {'model': '$model'})))")
    run_dir=$WORK/diginetica_paper/$name
    if [ ! -f "$run_dir/summary.json" ] || { [ $refit = 1 ] && ! grep -q test_refit "$run_dir/summary.json"; }; then
        resume=()
        { [ -f "$run_dir/checkpoint.pdckpt" ] || [ -f "$run_dir/summary.json" ]; } && resume=(--resume)
        mkdir -p "$WORK"
        echo "== $(date +%T) $model ${extra[*]} ${resume[*]}" | tee -a "$WORK/console_$name.txt"
        $PY -m srgnn_paddle train --model "$model" --data_dir "$DATA" --exp_dir "$WORK" "${FLAGS[@]}" \
            "${extra[@]}" "${resume[@]}" 2>&1 | grep -v -e "faiss" -e "ccache" -e "warnings.warn" | tee -a "$WORK/console_$name.txt"
    fi
    $PY "$REPO/benchmarks/copy_run.py" "$run_dir" "$WORK/console_$name.txt" "$RESULTS/$name"
done
echo "== $(date +%T) done"
