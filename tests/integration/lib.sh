# lib.sh - the start every integration script shares (tests/integration/*.sh, tests/ci/*.sh,
# tests/js/*.sh and scripts/recipe_table.sh source it right after `set -euo pipefail`).
#
# Sets:
#   SRC    the source tree: $SQ_SOURCE_DIR, else the tree this file is in
#   BUILD  the build folder: $BUILD if the script set it, else $SQ_BUILD_DIR (required)
#   DATA   the test data: $SQ_TEST_DATA, else $SRC/tests/data
#   PY     Debian's python3 (h5py, numpy)
#   WORK   a fresh folder under /tmp named for the script, removed on exit (a script that set WORK
#          keeps its own); a script with more to undo defines sq_cleanup_more, run first
#   OPENBLAS_NUM_THREADS=1 (the stages' numbers do not depend on the machine's cores)
# Gives:
#   fail MSG...               FAIL: MSG on stderr, exit 1
#   bad MSG... / ok MSG...    a failure counted (the script goes on) / a check that passed
#   sq_finish [SUMMARY]       exit 1 when bad counted any failure, else say SUMMARY
#   sq_mpi_env                Open MPI settings for local runs (shared memory, oversubscribed, as root)
#   expect CODE PATTERN OUT CMD...
#                             CMD must exit CODE with PATTERN in its stderr and leave neither OUT nor
#                             OUT.* (a temporary artifact) behind; its output is in $WORK/expect.{out,log}
#   json FILE KEY             a top-level field of a JSON file, as Python's repr
#   sq_log_sbatch             every sbatch call of the script appended to $WORK/sbatch.log (a wrapper
#                             first on PATH that logs, then runs the real sbatch)
#   llama_cpp_configs MODEL TOKENS
#                             $WORK/export.yaml (MODEL with the bundled BPE tokenizer) and $WORK/eval.yaml
#                             (MODEL on the u16 token file TOKENS, 8 windows of 64): the runs compared with
#                             llama.cpp (test_gguf_llama.sh, tests/js/test_llama_cpp.sh)
#   micro_config FILE [EVAL_START]
#                             the model and data sections of a run config for the Itera-Lite micro
#                             checkpoint ($MICRO) and its TinyStories text (with EVAL_START, evaluation
#                             on that text from the fraction EVAL_START on); the caller appends the rest
#   austen_config FILE CHECKPOINT CAL_END EVAL_END [TOKENIZER]
#                             the same for a bundled model on the Austen texts (calibration: the first
#                             CAL_END of austen_train.txt, evaluation: the first EVAL_END of
#                             austen_val.txt; tokenizer: bytes unless given)

SRC=${SQ_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-${SQ_BUILD_DIR:?set SQ_BUILD_DIR}}
DATA=${SQ_TEST_DATA:-$SRC/tests/data}
PY=/usr/bin/python3
MICRO=$DATA/itera-lite/itera_lite_micro_distilled.pt
export OPENBLAS_NUM_THREADS=1

sq_cleanup() {
  if declare -F sq_cleanup_more > /dev/null; then sq_cleanup_more || true; fi
  rm -rf "$WORK"
}
if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d "/tmp/squeeze-test-$(basename "$0" .sh).XXXXXX")
  trap sq_cleanup EXIT
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
sq_finish() {
  if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
  [ $# -eq 0 ] || echo "$*"
}

sq_mpi_env() {
  export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
}

expect() {
  local code=$1 pattern=$2 out=$3 rc=0
  shift 3
  "$@" > "$WORK/expect.out" 2> "$WORK/expect.log" || rc=$?
  [ "$rc" = "$code" ] || { cat "$WORK/expect.log" >&2; fail "$* exited $rc, expected $code ($pattern)"; }
  grep -q -- "$pattern" "$WORK/expect.log" || { cat "$WORK/expect.log" >&2; fail "$*: message lacks '$pattern'"; }
  [ -z "$(ls -d "$out" "$out".* 2> /dev/null)" ] || fail "$*: left an artifact: $(ls -d "$out" "$out".*)"
}

json() { $PY -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$1" "$2"; }

austen_config() {
  cat > "$1" <<EOF
model:
  checkpoint: $2
data:
  tokenizer: ${5:-bytes}
  calibration: {path: $DATA/bundled/austen_train.txt, end: $3}
  evaluation: {path: $DATA/bundled/austen_val.txt, end: $4}
EOF
}

llama_cpp_configs() {
  cat > "$WORK/export.yaml" <<EOF
model:
  checkpoint: $1
data:
  tokenizer: $DATA/bundled/bpe512/tokenizer.json
EOF
  cat > "$WORK/eval.yaml" <<EOF
model:
  checkpoint: $1
data:
  tokenizer: bytes
  evaluation: {path: $2, format: u16}
evaluate:
  window_length: 64
  max_windows: 8
EOF
}

micro_config() {
  cat > "$1" <<EOF
model:
  checkpoint: $MICRO
data:
  tokenizer: $DATA/itera-lite/tokenizer_2000.json
  calibration: $DATA/itera-lite/tinystories_train.txt
EOF
  if [ $# -gt 1 ]; then
    echo "  evaluation: {path: $DATA/itera-lite/tinystories_train.txt, start: $2}" >> "$1"
  fi
}

sq_log_sbatch() {
  local real
  real=$(command -v sbatch)
  mkdir -p "$WORK/bin"
  printf '#!/bin/bash\necho "sbatch $*" >> %q\nexec %q "$@"\n' "$WORK/sbatch.log" "$real" > "$WORK/bin/sbatch"
  chmod +x "$WORK/bin/sbatch"
  export PATH="$WORK/bin:$PATH"
}
