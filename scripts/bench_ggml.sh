#!/usr/bin/env bash
# bench_ggml.sh - a benchmark, not a test: the packed kernels of ggml's block formats
# (kernels/ggml_dot.c) against the dequantized path (fp32 panels) on the same variant.
#
#   scripts/bench_ggml.sh [BUILD_DIR] [OTHER_EVALUATE]
#
# The widened Llama (tests/reference/make_llama_wide.py: every linear row whole 256-value
# super-blocks) is compressed once per format of FORMATS (default: q4_0 q8_0); then in each
# of ROUNDS rounds (default 5) every variant runs squeeze-evaluate with `evaluate.kernels:
# packed` and with `dequantized`, one after the other (interleaved, so a change of load hits
# both alike), 1 thread, WINDOWS windows of 128 (default 14).  Printed per format, medians
# over the rounds: tok/s (forward pass, wall clock) and CPU tok/s (forward CPU seconds: the
# figure to compare on a shared machine) of each path and the median of the per-round ratios
# packed / dequantized, with the load (uptime) of each round.  OTHER_EVALUATE, when given, is
# a second squeeze-evaluate binary (e.g. an older build) run packed in the same rounds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
OTHER=${2:-}
ROUNDS=${ROUNDS:-5}
WINDOWS=${WINDOWS:-14}
FORMATS=${FORMATS:-"q4_0 q8_0"}
PY=/usr/bin/python3
DATA=$ROOT/tests/data
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

$PY "$ROOT/tests/reference/make_llama_wide.py" "$WORK/wide" > /dev/null
CKPT=$WORK/wide/model.safetensors
cat > "$WORK/compress.yaml" <<YAML
run: llama_wide
model: {checkpoint: $CKPT}
data: {tokenizer: $DATA/bundled/bpe512/tokenizer.json}
YAML
for kernels in packed dequantized; do
  cat > "$WORK/$kernels.yaml" <<YAML
model: {checkpoint: $CKPT}
data:
  tokenizer: bytes
  evaluation: {path: $DATA/gguf/austen_val_4000.u16, format: u16}
evaluate: {window_length: 128, max_windows: $WINDOWS, kernels: $kernels}
YAML
done
for f in $FORMATS; do
  echo "default: $f" > "$WORK/$f.map.yaml"
  "$BUILD/squeeze-compress" --config "$WORK/compress.yaml" --model "$CKPT" --map "$WORK/$f.map.yaml" \
    --out "$WORK/$f.h5" 2> "$WORK/$f.log" || { cat "$WORK/$f.log" >&2; exit 1; }
done
one() { # $1 binary, $2 kernels config, $3 model: "wall_tok/s cpu_tok/s"
  "$1" --config "$WORK/$2.yaml" --model "$3" --out "$WORK/e.h5" --json 2> "$WORK/log" > "$WORK/e.json" ||
    { cat "$WORK/log" >&2; exit 1; }
  $PY -c 'import json,sys; e=json.load(open(sys.argv[1])); print(e["tokens_per_second"], e["processed_tokens"]/e["forward_cpu_seconds"])' "$WORK/e.json"
}
: > "$WORK/rows"
for r in $(seq "$ROUNDS"); do
  load=$(uptime | sed 's/.*average: //; s/,.*//')
  for f in $FORMATS; do
    echo "$r $f packed $load $(one "$BUILD/squeeze-evaluate" packed "$WORK/$f.h5")" >> "$WORK/rows"
    echo "$r $f dequantized $load $(one "$BUILD/squeeze-evaluate" dequantized "$WORK/$f.h5")" >> "$WORK/rows"
    [ -n "$OTHER" ] && echo "$r $f other $load $(one "$OTHER" packed "$WORK/$f.h5")" >> "$WORK/rows"
  done
  echo "round $r done (load $load)" >&2
done
$PY - "$WORK/rows" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
loads = sorted({float(r[3]) for r in rows})
print(f"1-minute load over the rounds: {loads[0]:.1f} .. {loads[-1]:.1f}")
for f in dict.fromkeys(r[1] for r in rows):
    by = {}
    for r in rows:
        if r[1] == f:
            by.setdefault(r[2], {})[r[0]] = (float(r[4]), float(r[5]))
    deq = by["dequantized"]
    for path, runs in by.items():
        wall = st.median(v[0] for v in runs.values()); cpu = st.median(v[1] for v in runs.values())
        rw = st.median(runs[k][0] / deq[k][0] for k in runs); rc = st.median(runs[k][1] / deq[k][1] for k in runs)
        print(f"{f:6} {path:12} {wall:9.0f} tok/s {cpu:9.0f} cpu tok/s  x dequantized {rw:.2f} (wall) {rc:.2f} (cpu)")
PY
