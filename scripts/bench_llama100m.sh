#!/usr/bin/env bash
# bench_llama100m.sh - a benchmark, not a test: a random-initialised Llama of about
# 100M parameters (dim 768, 12 layers, 12 heads, 4 KV heads, SwiGLU 2048, vocab 32000,
# tied head: 100.1M parameters, 400 MB of fp32) written as HF model.safetensors +
# config.json, then inspected and evaluated on 2 MPI ranks over a few windows of
# austen_val.txt (byte ids, which are valid ids of the 32000-token vocabulary).
# Prints each stage's wall time, evaluate's tokens/s and every rank's peak RSS
# (VmHWM, read by /usr/bin/time -f %M around each rank).
#
#   scripts/bench_llama100m.sh [BUILD_DIR]      WINDOWS=8 WINDOW=257 to change the load
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
WINDOWS=${WINDOWS:-8}
WINDOW=${WINDOW:-257}
PY=/usr/bin/python3 # Debian's python with numpy
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
MPIRUN=(mpirun --oversubscribe --allow-run-as-root -np 2)

$PY "$ROOT/scripts/random_llama.py" "$WORK" 768 12 12 4 2048 32000 100

cat > "$WORK/bench.yaml" <<YAML
model:
  checkpoint: $WORK/model.safetensors
data:
  tokenizer: bytes
  evaluation: {path: $ROOT/tests/data/bundled/austen_val.txt, format: text}
evaluate: {window_length: $WINDOW, stride: $((WINDOW - 1)), offset: 1, max_windows: $WINDOWS}
YAML

echo "load before: $(uptime)"
# inspect is one process (not an MPI program)
t0=$(date +%s.%N)
/usr/bin/time -f "peak RSS %M KiB" -o "$WORK/rss.inspect" "$BUILD/squeeze-inspect" --config "$WORK/bench.yaml" \
  --out "$WORK/inspect.h5" > "$WORK/inspect.out" 2> "$WORK/inspect.log" || { cat "$WORK/inspect.log" >&2; exit 1; }
t1=$(date +%s.%N)
printf 'inspect: %.1f s wall, %s\n' "$(echo "$t1 - $t0" | bc)" "$(cat "$WORK/rss.inspect")"
grep -h "parameters" "$WORK/inspect.log" | head -1
# evaluate on 2 ranks, from the inspect artifact as the pipeline does; each rank under /usr/bin/time
cat > "$WORK/rank.sh" <<'SH'
#!/bin/sh
exec /usr/bin/time -f "peak RSS %M KiB" -o "$RSS_DIR/rss.$OMPI_COMM_WORLD_RANK" "$@"
SH
chmod +x "$WORK/rank.sh"
t0=$(date +%s.%N)
RSS_DIR=$WORK "${MPIRUN[@]}" -x RSS_DIR "$WORK/rank.sh" "$BUILD/squeeze-evaluate" --config "$WORK/bench.yaml" \
  --model "$WORK/inspect.h5" --out "$WORK/eval.h5" --json > "$WORK/evaluate.out" 2> "$WORK/evaluate.log" \
  || { cat "$WORK/evaluate.log" >&2; exit 1; }
t1=$(date +%s.%N)
printf 'evaluate: %.1f s wall on 2 ranks\n' "$(echo "$t1 - $t0" | bc)"
for r in 0 1; do echo "  rank $r: $(cat "$WORK/rss.$r")"; done
$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print("evaluate: %.1f tokens/s, perplexity %.2f over %d tokens (random weights: of the order of the vocabulary size)" % (j["tokens_per_second"], j["perplexity"], j.get("scored_tokens", j.get("scored", 0))))' "$WORK/evaluate.out"
grep -h "peak RSS" "$WORK/evaluate.log" | tail -1
echo "load after: $(uptime)"
