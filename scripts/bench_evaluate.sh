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
# positions per forward).  Goals: squeeze >= 5x PyTorch on one thread; 2 ranks
# >= 1.85x one rank on 2 free cores.
#
# The machine may be shared, so the three measurements run back to back in each
# of ROUNDS rounds (default 5; squeeze 1 rank, PyTorch, squeeze 2 ranks) and the
# figures are medians over the rounds; the ratios are ratios of those medians.
#
# tokens/s = positions fed to the model / seconds spent in the forward pass
# (squeeze: clock_gettime around sq_model_forward, every window, the first one
# included; PyTorch: time.perf_counter around model(ids), after one untimed pass
# over WARMUP windows).  Both sides see the same windows (the same byte or word
# ids, starts 0, STRIDE, 2 STRIDE, ..., the first WINDOWS of them, WINDOW - 1
# inputs each), one window per forward.  Both run on one thread: OpenBLAS with
# OPENBLAS_NUM_THREADS=1 (no idle BLAS threads spinning beside the ranks), PyTorch
# with torch.set_num_threads(1), in torch.inference_mode() (no autograd).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
MODEL=${2:-}
ROUNDS=${ROUNDS:-5}
WINDOWS=${WINDOWS:-64}
WARMUP=${WARMUP:-4}
PY=/usr/bin/python3 # Debian's python with torch
DATA=$ROOT/tests/data
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

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

# tokens/s of one squeeze-evaluate run with N ranks
squeeze_rate() {
  mpirun --oversubscribe --allow-run-as-root -np "$1" "$BUILD/squeeze-evaluate" --config "$WORK/bench.yaml" \
    --model "$MODEL" --out "$WORK/e.h5" --json 2> "$WORK/log" > "$WORK/e.json" || { cat "$WORK/log" >&2; exit 1; }
  $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens_per_second"])' "$WORK/e.json"
}

# tokens/s of one PyTorch pass over the same windows
torch_rate() {
  $PY - "$ROOT" "$MODEL" "$TEXT" "$TOKENIZER" "$START" "$WINDOW" "$STRIDE" "$WINDOWS" "$WARMUP" <<'PY'
import sys, time, torch
root, model_path, text_path, tokenizer, start, window, stride, windows, warmup = sys.argv[1:]
sys.path.insert(0, root + "/tests/reference")
import itera_ref
torch.set_num_threads(1)
window, stride, windows, warmup = int(window), int(stride), int(windows), int(warmup)
model = itera_ref.load_checkpoint(model_path).eval()
if tokenizer == "bytes":
    data = open(text_path, "rb").read()
    ids = list(data[int(float(start) * len(data)):])
else:
    text = open(text_path, encoding="utf-8").read()
    ids = itera_ref.word_ids(text[int(float(start) * len(text)):], tokenizer)
starts = list(range(0, len(ids) - window + 1, stride))[:windows]
inputs = [torch.tensor(ids[s:s + window - 1]).unsqueeze(0) for s in starts]  # the model sees window - 1 tokens
with torch.inference_mode():
    for x in inputs[:warmup]:
        model(x)
    seconds = 0.0
    for x in inputs:  # one window per forward, as squeeze does
        t0 = time.perf_counter()
        model(x)
        seconds += time.perf_counter() - t0
print(len(inputs) * (window - 1) / seconds)
PY
}

echo "model $MODEL: $WINDOWS windows of $WINDOW tokens (stride $STRIDE, $((WINDOW - 1)) positions per forward)," \
     "$ROUNDS rounds"
ones=() torches=() twos=()
for round in $(seq "$ROUNDS"); do
  ones+=("$(squeeze_rate 1)")
  torches+=("$(torch_rate)")
  twos+=("$(squeeze_rate 2)")
  echo "round $round: squeeze 1 rank ${ones[-1]}, PyTorch ${torches[-1]}, squeeze 2 ranks ${twos[-1]} tokens/s" >&2
done
$PY - "${ones[*]}" "${torches[*]}" "${twos[*]}" <<'PY'
import statistics, sys
one, torch, two = (statistics.median(map(float, a.split())) for a in sys.argv[1:])
print(f"squeeze-evaluate, 1 rank   : {one:10.0f} tokens/s (median)")
print(f"PyTorch reference, 1 thread: {torch:10.0f} tokens/s (median)")
print(f"ratio squeeze / PyTorch    : {one / torch:10.2f}x   (goal >= 5x)")
print(f"squeeze-evaluate, 2 ranks  : {two:10.0f} tokens/s (median)")
print(f"speedup 2 ranks / 1 rank   : {two / one:10.2f}x   (goal >= 1.85x on 2 free cores)")
PY
