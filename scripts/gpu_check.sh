#!/usr/bin/env bash
# Check the plain-Paddle path on a GPU: train one epoch of the default (embedded synthetic) data
# on the GPU and on the CPU, compare the numbers and print the timings.
#   bash scripts/gpu_check.sh [--device gpu|cpu] [--epochs N]
# First prints the Paddle it found: version, distribution, the CUDA / cuDNN it was built with,
# the GPUs it sees.
# On a machine where Paddle sees no GPU it says so and exits 0. --device cpu runs the same
# comparison with the CPU as the first device (what the test suite does on machines without a GPU).
# Runs: <device> with kernels paddle, cpu with kernels paddle, cpu with kernels host (the CPU default).
# The Faiss index of the recall evaluation is a GPU index where faiss has GPU support.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
DEVICE=gpu
EPOCHS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    *) echo "usage: $0 [--device gpu|cpu] [--epochs N]" >&2; exit 2 ;;
  esac
done
echo "gpu_check: $("$PY" -c "from srgnn_paddle.compat import describe_paddle; print(describe_paddle())")"
if [[ "$DEVICE" == gpu ]] && ! "$PY" -c "import sys; from srgnn_paddle.runtime import gpu_available; sys.exit(0 if gpu_available() else 1)" 2>/dev/null; then
  echo "gpu_check: Paddle sees no GPU here (CPU build or no device visible): nothing to check"
  exit 0
fi
EXP="$(mktemp -d)"
trap 'rm -rf "$EXP"' EXIT
run() {  # run NAME DEVICE KERNELS
  local start end
  start=$(date +%s.%N)
  "$PY" -m srgnn_paddle train --config configs/synthetic.yaml --epochs "$EPOCHS" --no-tsne --quiet \
    --device "$2" --kernels "$3" --exp_dir "$EXP/$1" > "$EXP/$1.out"
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" -v n="$1" 'BEGIN { printf "%s %.2f\n", n, b - a }' >> "$EXP/wall.txt"
}
run "$DEVICE-paddle" "$DEVICE" paddle
[[ "$DEVICE" == cpu ]] || run cpu-paddle cpu paddle
run cpu-host cpu host
"$PY" - "$EXP" <<'PY'
import json, math, sys
from pathlib import Path

from srgnn_paddle.evaluation.retrieval import faiss_has_gpu

exp = Path(sys.argv[1])
wall = dict(line.split() for line in (exp / "wall.txt").read_text().splitlines())
runs = {}
for name in wall:
    summary = json.loads(next((exp / name).rglob("summary.json")).read_text())
    runs[name] = summary
    print(f"{name:>12}: loss {summary['valid']['loss']:.6f}, valid recall@50 {summary['valid']['recall@50']:.6f}, "
          f"test recall@50 {summary['test']['recall@50']:.6f}; train {summary['train_seconds']:.2f} s, "
          f"whole command {float(wall[name]):.1f} s")
print(f"faiss GPU index: {'yes' if faiss_has_gpu() else 'no (faiss has no GPU support here)'}")
names = list(runs)
ok = True
for other in names[1:]:
    a, b = runs[names[0]], runs[other]
    loss_gap = abs(a["valid"]["loss"] - b["valid"]["loss"]) / abs(b["valid"]["loss"])
    recall_gap = abs(a["valid"]["recall@50"] - b["valid"]["recall@50"])
    same = loss_gap < 1e-3 and recall_gap < 0.01
    ok &= same
    print(f"{names[0]} vs {other}: loss differs by {loss_gap:.1e} (relative), valid recall@50 by {recall_gap:.4f}: "
          f"{'agree' if same else 'DISAGREE'}")
print("gpu_check: PASS" if ok else "gpu_check: FAIL")
sys.exit(0 if ok else 1)
PY
