#!/usr/bin/env bash
# bench_llama_cpp.sh - a benchmark, not a test: squeeze against llama.cpp on the same GGUF file,
# the same token windows and the same thread count.
#
#   scripts/bench_llama_cpp.sh [BUILD_DIR]
#
# A random-initialised Llama (HF safetensors + config.json; DIM 512, LAYERS 8, 8 heads, 4 KV heads,
# SwiGLU FFN 1536, the bundled BPE's 512-token vocabulary, tied head: 25.4M parameters; rows of whole
# 256-value super-blocks, so every format stores every linear) is compressed to each of FORMATS (default: fp32 q8_0 q4_0
# q4_k q6_k) and exported to GGUF.  In each of ROUNDS rounds (default 3) every GGUF is evaluated,
# one after the other (interleaved, so a change of load hits all alike):
#   - by squeeze-evaluate, reading the GGUF itself (its blocks run packed), 1 rank;
#   - by llama.cpp (tests/js/llama_timing.mjs, node-llama-cpp's prebuilt CPU build), THREADS threads;
# both over WINDOWS (default 8) non-overlapping windows of WINDOW (default 128) tokens of
# austen_val.txt as byte ids.  squeeze's figure is its forward pass (tokens_per_second and
# forward_cpu_seconds of the evaluation, every position's logits); llama.cpp's is the time of its
# windows' evaluations with the last position's logits (no logits handed to JavaScript; the head of
# one position instead of all: about 1 % of the multiply-adds here, in llama.cpp's favour); loading
# is excluded for both.  Printed per format, medians over the rounds: positions per CPU second
# (the figure to compare on a shared machine) and per wall second for each runtime, the median of
# the per-round ratios squeeze / llama.cpp, both mean NLLs (llama.cpp's from an untimed pass with
# every position's logits: the same computation, within the tolerances of
# tests/js/test_llama_cpp.sh), and the 1-minute load of each round.  Needs tests/js/node_modules
# (scripts/setup.sh installs it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ROUNDS=${ROUNDS:-3}
WINDOWS=${WINDOWS:-8}
WINDOW=${WINDOW:-128}
THREADS=${THREADS:-1}
FORMATS=${FORMATS:-"fp32 q8_0 q4_0 q4_k q6_k"}
PY=/usr/bin/python3
JS=$ROOT/tests/js
[ -d "$JS/node_modules/node-llama-cpp" ] || { echo "bench_llama_cpp.sh: tests/js/node_modules is missing: run scripts/setup.sh" >&2; exit 2; }
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

$PY "$ROOT/scripts/random_llama.py" "$WORK" 512 8 8 4 1536 512 41
# the windows: austen_val.txt's bytes as token ids
$PY -c 'import sys, numpy as np; b = np.frombuffer(open(sys.argv[1], "rb").read(), np.uint8); b.astype("<u2").tofile(sys.argv[2])' \
  "$ROOT/tests/data/bundled/austen_val.txt" "$WORK/tokens.u16"
# the GGUF carries a vocabulary (llama.cpp needs one): the bundled BPE's 512 tokens; the byte ids of
# the windows are ids of that vocabulary
cat > "$WORK/compress.yaml" <<YAML
run: bench
model: {checkpoint: $WORK/model.safetensors}
data: {tokenizer: $ROOT/tests/data/bundled/bpe512/tokenizer.json}
YAML
cat > "$WORK/eval.yaml" <<YAML
model: {checkpoint: $WORK/model.safetensors}
data:
  tokenizer: bytes
  evaluation: {path: $WORK/tokens.u16, format: u16}
evaluate: {window_length: $WINDOW, stride: $WINDOW, offset: 1, max_windows: $WINDOWS}
YAML
for f in $FORMATS; do
  echo "default: $f" > "$WORK/$f.map.yaml"
  "$BUILD/squeeze-compress" --config "$WORK/compress.yaml" --model "$WORK/model.safetensors" --map "$WORK/$f.map.yaml" \
    --out "$WORK/$f.h5" 2> "$WORK/$f.log" || { cat "$WORK/$f.log" >&2; exit 1; }
  "$BUILD/squeeze-export" --config "$WORK/compress.yaml" --model "$WORK/$f.h5" --format gguf --out "$WORK/$f.gguf" \
    2>> "$WORK/$f.log" || { cat "$WORK/$f.log" >&2; exit 1; }
  echo "$f: $(stat -c %s "$WORK/$f.gguf") bytes of GGUF" >&2
done

squeeze_run() { # GGUF: "wall_pos/s cpu_pos/s mean_nll kernels"
  "$BUILD/squeeze-evaluate" --config "$WORK/eval.yaml" --model "$1" --out "$WORK/e.h5" --json 2> "$WORK/log" \
    > "$WORK/e.json" || { cat "$WORK/log" >&2; exit 1; }
  $PY -c 'import json,sys; e=json.load(open(sys.argv[1])); print(e["tokens_per_second"], e["processed_tokens"]/e["forward_cpu_seconds"], e["mean_nll"], e["kernels"].replace(" ", "_"))' "$WORK/e.json"
}
llama_run() { # GGUF: "wall_pos/s cpu_pos/s mean_nll"
  node "$JS/llama_timing.mjs" "$1" "$WORK/tokens.u16" "$WINDOW" "$WINDOWS" "$THREADS" > "$WORK/l.json" 2> "$WORK/log" ||
    { cat "$WORK/log" >&2; exit 1; }
  $PY -c 'import json,sys; e=json.load(open(sys.argv[1])); print(e["positions"]/e["wall_seconds"], e["positions"]/e["cpu_seconds"], e["mean_nll"], "-")' "$WORK/l.json"
}
: > "$WORK/rows"
for r in $(seq "$ROUNDS"); do
  load=$(uptime | sed 's/.*average: //; s/,.*//')
  for f in $FORMATS; do
    row=$(squeeze_run "$WORK/$f.gguf") || exit 1
    echo "$r $f squeeze $load $row" >> "$WORK/rows"
    row=$(llama_run "$WORK/$f.gguf") || exit 1
    echo "$r $f llama.cpp $load $row" >> "$WORK/rows"
  done
  echo "round $r done (load $load)" >&2
done
$PY - "$WORK/rows" "$THREADS" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
loads = sorted({float(r[3]) for r in rows})
print(f"{sys.argv[2]} thread(s); 1-minute load over the rounds: {loads[0]:.1f} .. {loads[-1]:.1f} (nproc 2)")
for f in dict.fromkeys(r[1] for r in rows):
    by = {}
    for r in rows:
        if r[1] == f:
            by.setdefault(r[2], {})[r[0]] = (float(r[4]), float(r[5]), float(r[6]), r[7])
    sq, ll = by["squeeze"], by["llama.cpp"]
    rw = st.median(sq[k][0] / ll[k][0] for k in sq)
    rc = st.median(sq[k][1] / ll[k][1] for k in sq)
    for name, runs in (("squeeze", sq), ("llama.cpp", ll)):
        wall = st.median(v[0] for v in runs.values()); cpu = st.median(v[1] for v in runs.values())
        nll = next(iter(runs.values()))[2]
        print(f"{f:5} {name:9} {cpu:8.0f} pos/cpu-s {wall:8.0f} pos/s  NLL {nll:.6f}")
    print(f"{f:5} squeeze / llama.cpp: {rc:.2f}x (cpu) {rw:.2f}x (wall); squeeze kernels: {next(iter(sq.values()))[3]}")
PY
