#!/usr/bin/env bash
# The consolidation check (docs/results/consolidation_check/README.md): one DIGINETICA epoch at the
# paper configuration, the Beauty SR-GNN `--targets last` row and the NCF Beauty GMF row, re-run and
# copied to docs/results/consolidation_check/ for comparison with the committed runs. Runs one after
# another and skips those already copied. Needs ../shared/data. Usage: bash benchmarks/consolidation_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
W=${WORK:-exp/consolidation_check}; mkdir -p $W
R=docs/results/consolidation_check
mkdir -p $R
S=../shared/data
if [ ! -f $W/dg/diginetica_paper/SRGNN_0.001_100_100/summary.json ] && [ ! -f $R/diginetica_epoch1/summary.json ]; then
  echo "== $(date +%T) DIGINETICA epoch 1"
  python3 -m srgnn_paddle train --config configs/paper_diginetica.yaml --data_dir $S/diginetica --epochs 1 --exp_dir $W/dg --quiet > $W/dg.txt 2>&1
  d=$(dirname $(ls $W/dg/*/*/summary.json | head -1)); mkdir -p $R/diginetica_epoch1; cp $d/log.csv $d/summary.json $d/config.yaml $R/diginetica_epoch1/; cp $W/dg.txt $R/diginetica_epoch1/console.txt
fi
if [ ! -f $R/beauty_srgnn_last/summary.json ]; then
  echo "== $(date +%T) Beauty SR-GNN last"
  [ -d $W/beauty_last ] || python3 -m srgnn_paddle prepare amazon-seq --protocol paper --train_pairs last --input $S/amazon_beauty/Beauty.txt --output $W/beauty_last > $W/bprep.txt 2>&1
  python3 -m srgnn_paddle train --model srgnn --targets last --data_dir $W/beauty_last --exp_dir $W/bexp --protocol paper --lr_dc_step 0 --session_max_length 50 --epochs 20 --patience 2 --quiet --no-tsne --cpu_threads 0 > $W/b.txt 2>&1
  d=$(dirname $(ls $W/bexp/*/*/summary.json | head -1)); mkdir -p $R/beauty_srgnn_last; cp $d/log.csv $d/summary.json $d/config.yaml $R/beauty_srgnn_last/; cp $W/b.txt $R/beauty_srgnn_last/console.txt
fi
if [ ! -f $R/ncf_beauty_gmf/summary.json ]; then
  echo "== $(date +%T) NCF Beauty GMF"
  [ -d $W/beauty_loo ] || python3 -m srgnn_paddle prepare amazon-seq --protocol loo --input $S/amazon_beauty/Beauty.txt --output $W/beauty_loo > $W/nprep.txt 2>&1
  python3 -m srgnn_paddle train --protocol loo --model gmf --data_dir $W/beauty_loo --exp_dir $W/nexp --no-tsne --valid_full_ranking --quiet > $W/n.txt 2>&1
  d=$(dirname $(ls $W/nexp/*/*/summary.json | head -1)); mkdir -p $R/ncf_beauty_gmf; cp $d/log.csv $d/summary.json $d/config.yaml $R/ncf_beauty_gmf/; cp $W/n.txt $R/ncf_beauty_gmf/console.txt
fi
echo "== $(date +%T) done"
