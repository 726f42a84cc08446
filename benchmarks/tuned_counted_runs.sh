#!/usr/bin/env bash
# The tuned rows of the counted baselines on one dataset (DATASET: diginetica, the default, tmall
# or nowplaying): each model trained (counted) with the settings 'tune' chose on the validation
# split (configs/tuned_<DATASET>_<model>.yaml, from benchmarks/tune_counted.sh), the paper
# protocol, the most recent 10% of the
# training sessions as validation, the test split scored once, then --refit: counted again on
# every training session and the test split scored once more. SETTINGS=defaults trains the
# same way with each model's default options instead (the untuned rows of the same split).
# Each run's log.csv, summary.json, config.yaml, refit_log.csv, console output and test ranks
# (compacted, by benchmarks/copy_run.py) go to
# docs/results/<DATASET>/<tuned|defaults_sessions_split>/<run>/.
#
#   [DATASET=tmall] bash benchmarks/tuned_counted_runs.sh [DATA_DIR] [WORK_DIR]   (default ../shared/data/<DATASET>)
#
# MODELS picks the models (default: vstan stan vsknn sknn sr); finished runs are skipped.
# CODE=DIR runs the package found in DIR (e.g. a frozen copy); default: this checkout.
set -euo pipefail
DATASET=${DATASET:-diginetica}
DATA=$(cd "${1:-../shared/data/$DATASET}" && pwd)
WORK=$(mkdir -p "${2:-exp/tuned_$DATASET}" && cd "${2:-exp/tuned_$DATASET}" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
SETTINGS=${SETTINGS:-tuned}
[ "$SETTINGS" = tuned ] && folder=tuned || folder=defaults_sessions_split
RESULTS=$REPO/docs/results/$DATASET/$folder
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export PYTHONPATH=${CODE:-$REPO}${PYTHONPATH:+:$PYTHONPATH}
read -r -a MODELS <<< "${MODELS:-vstan stan vsknn sknn sr}"
cd "$WORK"  # python -m puts the working folder first on sys.path: not the checkout, so CODE takes effect
for model in "${MODELS[@]}"; do
    if [ "$SETTINGS" = tuned ]; then
        extra=(--config "$REPO/configs/tuned_${DATASET}_$model.yaml")
    else
        extra=(--config "$REPO/configs/paper_$DATASET.yaml" --model "$model" --valid_split sessions)
    fi
    out=$WORK/$folder
    name=$($PY -c "import sys; from srgnn_paddle.cli import build_parser, _config_from_args; from srgnn_paddle.runs import run_name
print(run_name(_config_from_args(build_parser().parse_args(['train'] + sys.argv[1:]))))" "${extra[@]}")
    run_dir=$out/${DATASET}_paper/$name
    if [ ! -f "$run_dir/summary.json" ] || ! grep -q test_refit "$run_dir/summary.json"; then
        resume=()
        [ -f "$run_dir/summary.json" ] && resume=(--resume)
        mkdir -p "$out"
        echo "== $(date +%T) $model ${extra[*]} ${resume[*]}" | tee -a "$out/console_$name.txt"
        $PY -m srgnn_paddle train "${extra[@]}" --dataset "$DATASET" --data_dir "$DATA" --exp_dir "$out" --refit --quiet --no-tsne \
            "${resume[@]}" 2>&1 | grep -v -e "faiss" -e "ccache" -e "warnings.warn" | tee -a "$out/console_$name.txt"
    fi
    $PY "$REPO/benchmarks/copy_run.py" "$run_dir" "$out/console_$name.txt" "$RESULTS/$name"
done
echo "== $(date +%T) done"
