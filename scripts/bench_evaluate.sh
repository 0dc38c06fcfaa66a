#!/usr/bin/env bash
# bench_evaluate.sh - a benchmark, not a test: squeeze-evaluate's forward speed
# against the PyTorch reference (tests/reference/itera_ref.py) on the same
# windows, both on one thread, and the speedup of 2 MPI ranks over 1.
#
#   scripts/bench_evaluate.sh [BUILD_DIR] [MODEL]
#
# MODEL defaults to the bundled Itera model (tests/data/bundled/itera_tiny_bytes.pt,
# byte level, 257-byte spans of austen_val.txt, stride 256: 256 positions per
# forward) or, while that is not there, the Itera-Lite micro model (word level,
# 129-token spans of the last 10% of tinystories_train.txt, stride 64: 128
# positions per forward).  Each figure is the best of REPEAT runs (default 3),
# since the machine may be shared.  Goals: squeeze >= 5x PyTorch on one thread;
# 2 ranks >= 1.85x one rank on 2 free cores.
#
# tokens/s = positions fed to the model / seconds spent in the forward pass
# (clock_gettime around sq_model_forward; time.perf_counter around model(ids)).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
MODEL=${2:-}
REPEAT=${REPEAT:-3}
WINDOWS=${WINDOWS:-64}
PY=/usr/bin/python3 # Debian's python with torch
DATA=$ROOT/tests/data
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader

if [ -z "$MODEL" ]; then
  MODEL=$DATA/bundled/itera_tiny_bytes.pt
  [ -f "$MODEL" ] || MODEL=$DATA/itera-lite/itera_lite_micro_distilled.pt
fi
case "$MODEL" in
  *micro*) TEXT=$DATA/itera-lite/tinystories_train.txt TOKENIZER=$DATA/itera-lite/tokenizer_2000.json
           START=0.9 WINDOW=129 STRIDE=64 ;;
  *)       TEXT=$DATA/bundled/austen_val.txt TOKENIZER=bytes START=0.0 WINDOW=257 STRIDE=256 ;;
esac
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/bench.yaml" <<YAML
data:
  tokenizer: $TOKENIZER
  evaluation: {path: $TEXT, format: text, start: $START, end: 1.0}
evaluate: {window_length: $WINDOW, stride: $STRIDE, offset: 1, max_windows: $WINDOWS}
YAML

# best tokens/s of REPEAT runs of squeeze-evaluate with N ranks
squeeze_rate() {
  local best=0 rate
  for _ in $(seq "$REPEAT"); do
    mpirun --oversubscribe --allow-run-as-root -np "$1" "$BUILD/squeeze-evaluate" --config "$WORK/bench.yaml" \
      --model "$MODEL" --out "$WORK/e.h5" --json 2> "$WORK/log" > "$WORK/e.json" || { cat "$WORK/log" >&2; exit 1; }
    rate=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens_per_second"])' "$WORK/e.json")
    best=$($PY -c "print(max($best, $rate))")
  done
  echo "$best"
}

torch_rate() {
  $PY - "$ROOT" "$MODEL" "$TEXT" "$TOKENIZER" "$START" "$WINDOW" "$STRIDE" "$WINDOWS" "$REPEAT" <<'PY'
import sys, time, torch
root, model_path, text_path, tokenizer, start, window, stride, windows, repeat = sys.argv[1:]
sys.path.insert(0, root + "/tests/reference")
import itera_ref
torch.set_num_threads(1)
window, stride, windows, repeat = int(window), int(stride), int(windows), int(repeat)
model = itera_ref.load_checkpoint(model_path).eval()
if tokenizer == "bytes":
    data = open(text_path, "rb").read()
    ids = list(data[int(float(start) * len(data)):])
else:
    text = open(text_path, encoding="utf-8").read()
    ids = itera_ref.word_ids(text[int(float(start) * len(text)):], tokenizer)
starts = list(range(0, len(ids) - window + 1, stride))[:windows]
best = 0.0
with torch.no_grad():
    for _ in range(repeat):
        seconds = 0.0
        for s in starts:  # one window per forward, as squeeze does; the model sees window - 1 tokens
            x = torch.tensor(ids[s:s + window - 1]).unsqueeze(0)
            t0 = time.perf_counter()
            model(x)
            seconds += time.perf_counter() - t0
        best = max(best, len(starts) * (window - 1) / seconds)
print(best)
PY
}

echo "model $MODEL: $WINDOWS windows of $WINDOW tokens (stride $STRIDE, $((WINDOW - 1)) positions per forward)"
one=$(squeeze_rate 1)
torch=$(torch_rate)
two=$(squeeze_rate 2)
$PY - "$one" "$torch" "$two" <<'PY'
import sys
one, torch, two = map(float, sys.argv[1:])
print(f"squeeze-evaluate, 1 rank : {one:12.0f} tokens/s")
print(f"PyTorch reference, 1 thread: {torch:10.0f} tokens/s")
print(f"ratio squeeze / PyTorch  : {one / torch:12.2f}x   (goal >= 5x)")
print(f"squeeze-evaluate, 2 ranks: {two:12.0f} tokens/s")
print(f"speedup 2 ranks / 1 rank : {two / one:12.2f}x   (goal >= 1.85x on 2 free cores)")
PY
