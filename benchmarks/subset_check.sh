#!/usr/bin/env bash
# The sized-table check on real data: a subset of the published DIGINETICA pickles (the first
# 20,000 sessions of all_train_seq.txt, the first 5,000 test pairs; item ids keep their
# published values up to 43,097) trained with every registered model for one epoch through
# the CLI, under the paper protocol and configuration, once with the item table sized from the
# data and once (SR-GNN) with an explicit --n_items 43098. Each run's exit status and last
# console line go to WORK/results.txt (one line per run); finished runs are skipped.
#
#   bash benchmarks/subset_check.sh [DATA_DIR] [WORK_DIR]
#
# MODELS="srgnn pop" picks the models (default: every registered one), THREADS the CPU threads
# of each run (default 1), LIMIT the seconds a run may take (default 600).
set -euo pipefail
DATA=${1:-../shared/data/diginetica}
WORK=${2:-/tmp/subset_check}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
SUB=$WORK/diginetica_subset
mkdir -p "$WORK"
if [ ! -f "$SUB/test.txt" ]; then
    $PY - "$DATA" "$SUB" <<'PY'
import pickle, sys
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
with open(src / "all_train_seq.txt", "rb") as f:
    train = pickle.load(f)[:20000]
with open(src / "test.txt", "rb") as f:
    seqs, labels = pickle.load(f)
with open(dst / "all_train_seq.txt", "wb") as f:
    pickle.dump(train, f)
with open(dst / "test.txt", "wb") as f:
    pickle.dump((seqs[:5000], labels[:5000]), f)
ids = {i for s in train for i in s} | {i for s in seqs[:5000] for i in s} | set(labels[:5000])
print(f"subset: {len(train)} sessions, {min(5000, len(labels))} test pairs, "
      f"{len(ids)} distinct item ids, largest {max(ids)}")
PY
fi
read -r -a MODELS <<< "${MODELS:-$($PY -c "from srgnn_paddle.models import MODELS; print(' '.join(MODELS))" 2>/dev/null)}"
FLAGS=(--protocol paper --config "$REPO/configs/paper_diginetica.yaml" --data_dir "$SUB" --epochs 1
       --quiet --no-tsne --cpu_threads "${THREADS:-1}")

run() {  # run TAG EXTRA_FLAGS...: one training run, its status and last line into results.txt
    local tag=$1; shift
    grep -q "^$tag " "$WORK/results.txt" 2>/dev/null && return 0
    local start rc=0
    start=$(date +%s)
    timeout "${LIMIT:-600}" $PY -m srgnn_paddle train --exp_dir "$WORK/exp_$tag" --overwrite "${FLAGS[@]}" "$@" \
        > "$WORK/console_$tag.txt" 2>&1 || rc=$?
    local last
    last=$(grep -v -e "faiss" -e "ccache" -e "warnings.warn" "$WORK/console_$tag.txt" | grep -v '^\s*$' | tail -n 1)
    echo "$tag rc=$rc $(( $(date +%s) - start ))s | $last" | tee -a "$WORK/results.txt"
}

for model in "${MODELS[@]}"; do
    run "$model" --model "$model"
done
run srgnn_n_items_43098 --model srgnn --n_items 43098

# one table: each run's exit status, the item-table rows it used and its test P@20 / MRR@20
$PY - "$WORK" <<'PY' | tee "$WORK/table.md"
import glob, json, sys
import yaml
work = sys.argv[1]
print("| run | exit | seconds | n_items | test P@20 | test MRR@20 | last line |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for line in open(f"{work}/results.txt"):
    head, last = line.rstrip("\n").split(" | ", 1)
    tag, rc, seconds = head.split()
    configs = glob.glob(f"{work}/exp_{tag}/*/*/config.yaml")
    n_items = yaml.safe_load(open(configs[0]))["n_items"] if configs else "-"
    summaries = glob.glob(f"{work}/exp_{tag}/*/*/summary.json")
    test = json.load(open(summaries[0]))["test"] if summaries else {}
    p, mrr = (f"{test['P@20']:.2f}", f"{test['MRR@20']:.2f}") if "P@20" in test else ("-", "-")
    print(f"| {tag} | {rc[3:]} | {seconds[:-1]} | {n_items} | {p} | {mrr} | `{last.replace(work, 'WORK')}` |")
PY
