#!/usr/bin/env bash
# Training samples/s of the toolkit's session models (bench_models.py, full DIGINETICA, paper
# config) beside RecBole's (bench_recbole_session.py), alternating
# ROUNDS times in one run so that both see the same machine.
#
#   bash benchmarks/bench_session_vs_recbole.sh [DIGINETICA_DIR] [RECBOLE_PYTHON]
#
# RECBOLE_PYTHON: the python of a separate venv with torch and RecBole (default /tmp/rb/bin/python);
# STEPS (default 300) batches are timed per model on each side, THREADS (default 2) threads;
# MODELS (default gru4rec,narm,stamp,srgnn) picks the models, MAX_SESSIONS the sessions RecBole
# reads (default 40000, the issue's setting: 28,914 items; 0 = all, the toolkit's 43,098 items).
set -euo pipefail
DATA=${1:-../shared/data/diginetica}
RB=${2:-/tmp/rb/bin/python}
REPO=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${STEPS:-300}
THREADS=${THREADS:-2}
echo "# $(date -u '+%F %H:%M UTC'), $(nproc) cores, $(uname -m); steps $STEPS, threads $THREADS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "${ROUNDS:-2}"); do
    echo "## round $round, toolkit $(date +%T)"
    PYTHONPATH=$REPO python3 "$REPO/benchmarks/bench_models.py" --data_dir "$DATA" --models "${MODELS:-gru4rec,narm,stamp,srgnn}" \
        --max_steps "$STEPS" --eval_sessions 10240 --cpu_threads "$THREADS" --json 2>&1 | grep -v -i -e faiss -e ccache -e warn
    echo "## round $round, RecBole $(date +%T)"
    "$RB" "$REPO/benchmarks/bench_recbole_session.py" --sessions "$DATA/all_train_seq.txt" --max_sessions "${MAX_SESSIONS:-40000}" \
        --models "${MODELS:-gru4rec,narm,stamp,srgnn}" --max_steps "$STEPS" --threads "$THREADS" --json 2>&1 | grep -e "^RecBole" -e "^torch" -e "^{"
done
