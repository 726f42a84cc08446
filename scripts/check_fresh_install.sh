#!/usr/bin/env bash
# End-to-end acceptance check of scripts/install.sh on a Python like a Baidu AI Studio image:
# a fresh venv holding only paddlepaddle numpy pandas pyyaml faiss-cpu (no tqdm, no
# srgnn-paddle), a clone of this checkout's HEAD, then in the clone
#   PYTHON=venv/bin/python bash scripts/train.sh --epochs 1 --no-tsne   must train,
#   bash scripts/install.sh (again)                                    must be a silent no-op,
#   venv/bin/srgnn-paddle --help                                       must work, from the clone.
# Prints one PASS/FAIL line per step with its time; exits 1 if any step failed.
# Usage: bash scripts/check_fresh_install.sh   (KEEP=1 keeps the temp folder; BASE_PYTHON
# picks the Python the venv is made from, default python3; pip uses the machine's index).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/srgnn_fresh.XXXXXX")"
VENV="$TMP/venv"
CLONE="$TMP/clone"
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT
unset PYTHONPATH PYTHONHOME  # nothing of the calling environment leaks into the venv

failed=0
# step NAME CMD...: run CMD (its output indented), print PASS/FAIL NAME with the wall time.
step() {
  local name="$1" start rc=0
  shift
  start=$(date +%s.%N)
  "$@" 2>&1 | sed 's/^/    /' || rc=$?
  local secs; secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  if [ "$rc" = 0 ]; then echo "PASS $name (${secs} s)"; else echo "FAIL $name (${secs} s, exit $rc)"; failed=1; fi
  return 0
}
# (set -e is off inside a step's command, so these helpers return their failures themselves)
# the check of a no-op: install.sh must print nothing
silent_install() { local out; out="$(bash scripts/install.sh)" || return 1; [ -z "$out" ] || { echo "$out"; return 1; }; }
# the venv must really lack tqdm and srgnn-paddle (else the check proves nothing); from / so
# that no checkout is on sys.path
precondition() {
  (cd / && "$VENV/bin/python" -c "if 1:
    import importlib.metadata as m, importlib.util as u, sys
    dists = [d for d in ('tqdm', 'srgnn-paddle') if list(m.distributions(name=d))]
    print('importable tqdm:', bool(u.find_spec('tqdm')), '| installed:', dists or 'neither')
    sys.exit(bool(dists or u.find_spec('tqdm')))")
}
# the console script must run and import the package from the clone
console_script() {
  "$VENV/bin/srgnn-paddle" --help >"$TMP/help.txt" || return 1
  head -3 "$TMP/help.txt"
  (cd / && "$VENV/bin/python" -c "import srgnn_paddle; print(srgnn_paddle.__file__)") | grep -F "$CLONE/"
}

echo "check_fresh_install: $(date -u +%Y-%m-%dT%H:%M:%SZ) HEAD $(git -C "$ROOT" rev-parse --short HEAD) in $TMP"
step "venv (${BASE_PYTHON:-python3} -m venv)" "${BASE_PYTHON:-python3}" -m venv "$VENV"
step "pip install paddlepaddle numpy pandas pyyaml faiss-cpu (only these)" \
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q paddlepaddle numpy pandas pyyaml faiss-cpu
step "precondition: no tqdm, no srgnn-paddle in the venv" precondition
step "git clone" git clone -q "$ROOT" "$CLONE"
cd "$CLONE"
export PYTHON="$VENV/bin/python"
step "bash scripts/train.sh --epochs 1 --no-tsne --quiet" bash scripts/train.sh --epochs 1 --no-tsne --quiet
step "bash scripts/install.sh again: silent no-op" silent_install
step "srgnn-paddle --help (console script, package from the clone)" console_script
"$PYTHON" -m pip list --disable-pip-version-check 2>/dev/null \
  | grep -iE '^(srgnn-paddle|paddlepaddle|faiss-cpu|tqdm|matplotlib|scikit-learn|threadpoolctl) ' | sed 's/^/    /' || true
if [ "$failed" = 0 ]; then echo "PASS all"; else echo "FAIL some step"; fi
exit "$failed"
