#!/usr/bin/env bash
# Training samples/s of SR-GNN's successors in the toolkit (bench_models.py, full DIGINETICA,
# each model at its configs/paper_<model>.yaml) beside RecBole-GNN's PyTorch implementations
# (bench_recbole_gnn.py, the same settings), alternating ROUNDS times in one run so both see
# the same machine.
#
#   bash benchmarks/bench_successors_vs_pytorch.sh [DIGINETICA_DIR] [TORCH_PYTHON] [RECBOLE_GNN_DIR]
#
# TORCH_PYTHON: the python of a separate venv with torch, RecBole and torch-geometric (default
# /work/venv-torch/bin/python; see bench_recbole_gnn.py), RECBOLE_GNN_DIR a RecBole-GNN
# checkout (default /work/recbole-gnn). MODELS (default: every successor) picks the models,
# STEPS (default 200) the batches timed per model on each side (then 10,240 test sessions scored on each), THREADS (default 2) the threads,
# ROUNDS (default 2) the alternations; RecBole reads every DIGINETICA session (MAX_SESSIONS=0).
set -euo pipefail
DATA=${1:-../shared/data/diginetica}
TORCH_PY=${2:-/work/venv-torch/bin/python}
RBGNN=${3:-/work/recbole-gnn}
REPO=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${STEPS:-200}
THREADS=${THREADS:-2}
# RecBole-GNN's scoring batch: its default (4096 sessions), but 128 for TAGNN, whose full_sort_predict
# materialises [batch, items, length] (4096 asked for 31 GB); EVAL_BATCH overrides both
eval_batch() { if [ -n "${EVAL_BATCH:-}" ]; then echo "$EVAL_BATCH"; elif [ "$1" = tagnn ]; then echo 128; else echo 0; fi; }
read -r -a MODELS <<< "${MODELS:-srgnn niser gcsan tagnn gcegnn sgnnhn lessr sasrec}"
echo "# $(date -u '+%F %H:%M UTC'), $(nproc) cores, $(uname -m); steps $STEPS, threads $THREADS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "${ROUNDS:-2}"); do
    for model in "${MODELS[@]}"; do
        config=$REPO/configs/paper_$model.yaml
        [ -f "$config" ] || config=$REPO/configs/paper_diginetica.yaml
        echo "## round $round, $model, toolkit $(date +%T) ($(basename "$config"))"
        PYTHONPATH=$REPO python3 "$REPO/benchmarks/bench_models.py" --data_dir "$DATA" --config "$config" --models "$model" \
            --max_steps "$STEPS" --eval_sessions 10240 --cpu_threads "$THREADS" --json 2>&1 | grep -v -i -e faiss -e ccache -e warn \
            || echo "## $model: the toolkit failed (above); the next model"
        echo "## round $round, $model, RecBole-GNN $(date +%T)"
        "$TORCH_PY" "$REPO/benchmarks/bench_recbole_gnn.py" --recbole_gnn "$RBGNN" --sessions "$DATA/all_train_seq.txt" \
            --max_sessions "${MAX_SESSIONS:-0}" --models "$model" --max_steps "$STEPS" --eval_sessions 10240 --threads "$THREADS" \
            --eval_batch_size "$(eval_batch "$model")" --json 2>&1 \
            | grep -e "^RecBole" -e "^torch" -e "^{" -e "Error" || echo "## $model: RecBole-GNN failed (above); the next model"
    done
done
