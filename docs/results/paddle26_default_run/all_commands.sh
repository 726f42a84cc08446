#!/usr/bin/env bash
# Every command of srgnn-paddle on the synthetic data with $PYTHON (Paddle 2.6.2 here):
# one line per command: exit status, seconds, the last line of its output.
set -uo pipefail
cd "${REPO:-.}"
PY="${PYTHON:?}"
W="$(mktemp -d /tmp/allcmds.XXXX)"
EXP="$W/exp"
"$PY" -c "import paddle, sys; print('Paddle', paddle.__version__, 'Python', sys.version.split()[0])" 2>/dev/null
"$PY" - "$W" <<'PY'
import csv, sys
import numpy as np
w = sys.argv[1]
rng = np.random.default_rng(1)
with open(f"{w}/sessions.csv", "w", newline="") as h:  # labelled sessions (raw ids 1000 + 7 k)
    wr = csv.writer(h); wr.writerow(["id", "session", "label"])
    for n in range(600):
        s = int(rng.integers(0, 25)); sess = [1000 + 7 * ((s + k) % 25) for k in range(int(rng.integers(1, 6)))]
        wr.writerow([f"s{n}", " ".join(map(str, sess)), 1000 + 7 * ((s + len(sess)) % 25)])
with open(f"{w}/beauty.txt", "w") as h:  # Amazon-style "user item item ..." lines
    for u in range(300):
        items = rng.integers(1, 120, int(rng.integers(6, 15)))
        h.write(" ".join(map(str, [u + 1, *items])) + "\n")
PY
step() {  # step NAME CMD...
  local name="$1" start rc out; shift
  start=$(date +%s.%N)
  out="$("$@" 2>&1)"; rc=$?
  printf '%-4s %-58s %5.1fs  %s\n' "$([ $rc = 0 ] && echo ok || echo FAIL:$rc)" "$name" \
    "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$(tail -1 <<<"$out" | cut -c1-110)"
  [ $rc = 0 ] || echo "$out" | tail -15 | sed 's/^/      /'
}
M="$PY -m srgnn_paddle"
Q="--quiet --no-tsne"
for k in paddle host; do
  for model in srgnn gru4rec narm stamp gruwatt ggnnwatt; do
    step "train notebook $model --kernels $k" $M train --config configs/synthetic.yaml --model $model --epochs 1 --kernels $k --exp_dir $EXP/$k $Q
  done
  step "train notebook srgnn --targets all --kernels $k" $M train --config configs/synthetic.yaml --targets all --epochs 1 --kernels $k --exp_dir $EXP/$k $Q
  step "train notebook srgnn sampled_softmax --kernels $k" $M train --config configs/synthetic.yaml --loss sampled_softmax --num_negatives 50 --epochs 1 --kernels $k --exp_dir $W/sampled_$k $Q
  step "train notebook srgnn sgd --kernels $k" $M train --config configs/synthetic.yaml --optimizer sgd --epochs 1 --kernels $k --exp_dir $W/sgd_$k --quiet --no-tsne
done
for model in pop spop itemknn sknn; do
  step "train notebook $model (count baseline)" $M train --config configs/synthetic.yaml --model $model --exp_dir $EXP/paddle $Q
done
step "prepare sessions-csv (paper protocol)" $M prepare sessions-csv --input $W/sessions.csv --output $W/course
for k in paddle host; do
  for model in srgnn narm gru4rec; do
    step "train paper $model --kernels $k" $M train --protocol paper --model $model --data_dir $W/course --epochs 1 --batch_size 64 --embedding_dim 8 --kernels $k --exp_dir $W/paper_$k --quiet --no-tsne
  done
done
step "train paper srgnn --refit --seeds 1,2" $M train --protocol paper --data_dir $W/course --epochs 1 --batch_size 64 --embedding_dim 8 --refit --seeds 1,2 --exp_dir $W/paper_refit --quiet --no-tsne
step "train paper sknn" $M train --protocol paper --model sknn --data_dir $W/course --exp_dir $W/paper_paddle --quiet --no-tsne
step "prepare amazon-seq --protocol loo" $M prepare amazon-seq --protocol loo --input $W/beauty.txt --output $W/beauty
for k in paddle host; do
  for model in gmf mlp neumf; do
    step "train loo $model --kernels $k" $M train --protocol loo --model $model --data_dir $W/beauty --epochs 1 --kernels $k --exp_dir $W/loo_$k --quiet --no-tsne
  done
  step "train loo neumf pretrained --optimizer sgd --kernels $k" $M train --protocol loo --model neumf --data_dir $W/beauty --epochs 1 --optimizer sgd --pretrain_gmf $W/loo_$k/beauty_loo/GMF_0.001_256_8 --pretrain_mlp $W/loo_$k/beauty_loo/MLP_0.001_256_8 --kernels $k --exp_dir $W/loo_pre_$k --quiet --no-tsne
done
RUN="$EXP/paddle/synthetic_softmax/SRGNN_0.005_128_16"
step "evaluate (synthetic srgnn run)" $M evaluate --run_dir $RUN
step "evaluate --split valid" $M evaluate --run_dir $RUN --split valid
step "tsne" $M tsne --run_dir $RUN --out $W/tsne.png --max_items 500
PRUN="$(ls -d $W/paper_paddle/course_paper/SRGNN_* | head -1)"
step "predict (paper srgnn run)" $M predict --run_dir $PRUN --input $W/sessions.csv --out $W/pred.csv --topk 5 --quiet
step "report" $M report --exp_dir $EXP/paddle
step "compare" $M compare --exp_dir $W/paper_refit
step "resume a finished run (--resume)" $M train --config configs/synthetic.yaml --epochs 1 --resume --exp_dir $EXP/paddle $Q
if [ -n "${KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
