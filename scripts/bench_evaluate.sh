#!/usr/bin/env bash
# bench_evaluate.sh - a benchmark, not a test: what each compressed variant costs to run,
# measured side by side in one run.
#
#   scripts/bench_evaluate.sh [BUILD_DIR] [MODEL]
#
# MODEL "random" is a random-initialised Itera model of 43.3M parameters (d 512, 8 layers,
# 4 of them MoE with 4 experts of 1024, vocabulary 2000: 173 MB of fp32) written by
# scripts/random_itera.py, evaluated on the micro model's text and tokenizer.
#
# MODEL defaults to the bundled Itera model (tests/data/bundled/itera_tiny_bytes.pt, byte
# level, 257-byte windows of austen_val.txt: 256 positions per forward).  Each recipe of
# FORMATS (default: int8 int4-g32 nf4 gptq-int4 bf16, configs/recipes/) is compressed once
# (gptq from a calibration with X^T X); then in each of ROUNDS rounds (default 5) every
# variant, the fp32 model first, runs squeeze-evaluate on the same WINDOWS windows, one
# after the other (interleaved, so a change of load hits all of them alike).  Printed per
# variant, medians over the rounds:
#   tok/s        positions / seconds inside the forward pass (wall clock, as the artifact says)
#   cpu tok/s    positions / CPU seconds of the forward pass (what the machine's load does not
#                change: on a shared machine this is the figure to compare)
#   x fp32       the median of the per-round ratios to the fp32 variant (wall and CPU)
#   fwd/loop     the whole window loop's rate (forward + scoring) against the forward-only
#                rate: forward CPU seconds / loop CPU seconds
#   peak RSS, its ratio to the fp32 variant's, the weights in memory as the model ran
#                them, those against the tensor bytes stored in its file (w/stored), the
#                forward's activations plus the evaluation's buffers (act+buf), and peak RSS / weights
#   perplexity through the packed kernels and through the dequantized reference path
#                (evaluate.kernels: dequantized), and their relative difference
# and the sgemm-bound limit of the model, measured in every round (scripts/bench_sgemm_bound.c: all its linear
# layers as OpenBLAS sgemm calls in sequence and nothing else, and the same through
# squeeze's kernels), the load (uptime) beside every round, and (TORCH=1, the default) the
# PyTorch modules on the same windows in every round, 1 thread, CPU time: squeeze's own
# reference (tests/reference/itera_ref.py) and the original Itera-Lite computation
# (tests/reference/itera_original.py: per-step scan, gathered experts), each with the
# median of the per-round ratios of squeeze's fp32 variant to it.  The 2-rank figure is
# taken only when the 1-minute load is below 0.5 (two idle cores); otherwise the script says
# it skipped it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
MODEL=${2:-$ROOT/tests/data/bundled/itera_tiny_bytes.pt}
ROUNDS=${ROUNDS:-5}
WINDOWS=${WINDOWS:-32}
FORMATS=${FORMATS:-"int8 int4-g32 nf4 gptq-int4 bf16"}
TORCH=${TORCH:-1}
PY=/usr/bin/python3
DATA=$ROOT/tests/data
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Debian 12's OpenBLAS (0.3.21) runs its Prescott (SSE3) kernels on x86 CPUs newer than it
# knows (family 6 model 207 among them), which would make the sgemm-bound limit a quarter of
# what the CPU can do: unless OPENBLAS_CORETYPE says otherwise, name the core of the widest
# vectors the CPU has.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
elif [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=Haswell
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

BOUND_ROUNDS=${BOUND_ROUNDS:-200} # passes of the sgemm-bound tool over the model's linear layers
if [ "$MODEL" = random ]; then
  MODEL=$WORK/random_itera.pt
  BOUND_ROUNDS=${BOUND_ROUNDS_RANDOM:-20}
  $PY "$ROOT/scripts/random_itera.py" "$MODEL"
fi
case "$(basename "$MODEL")" in # the file name: a checkout path may hold "micro" too
  *micro*|*random_itera*) TEXT=$DATA/itera-lite/tinystories_train.txt TOKENIZER=$DATA/itera-lite/tokenizer_2000.json
           START=0.9 WINDOW=129 STRIDE=64 CALTEXT=$TEXT ;;
  *)       TEXT=$DATA/bundled/austen_val.txt TOKENIZER=bytes START=0.0 WINDOW=257 STRIDE=256
           CALTEXT=$DATA/bundled/austen_train.txt ;;
esac
write_config() { # $1: file, $2: extra evaluate keys
  cat > "$1" <<YAML
model: {checkpoint: $MODEL}
data:
  tokenizer: $TOKENIZER
  calibration: {path: $CALTEXT, end: 0.05}
  evaluation: {path: $TEXT, format: text, start: $START, end: 1.0}
calibrate: {windows: 16, window_length: 128, hessian: ["**"]}
evaluate: {window_length: $WINDOW, stride: $STRIDE, offset: 1, max_windows: $WINDOWS$2}
YAML
}
write_config "$WORK/packed.yaml" ""
write_config "$WORK/reference.yaml" ", kernels: dequantized"
load() { cut -d, -f3- /proc/loadavg 2>/dev/null || uptime; }
load() { awk '{print $1" "$2" "$3}' /proc/loadavg; }

echo "model $MODEL: $WINDOWS windows of $WINDOW tokens, $ROUNDS interleaved rounds; load at start: $(load)" \
     "on $(getconf _NPROCESSORS_ONLN) cores; OpenBLAS core ${OPENBLAS_CORETYPE:-as detected}"
"$BUILD/squeeze-calibrate" --config "$WORK/packed.yaml" --model "$MODEL" --out "$WORK/cal.h5" 2> "$WORK/log" ||
  { cat "$WORK/log" >&2; exit 1; }
variants=(fp32) paths=("$MODEL")
for f in $FORMATS; do
  "$BUILD/squeeze-compress" --config "$WORK/packed.yaml" --model "$MODEL" --calibration "$WORK/cal.h5" \
    --map "$ROOT/configs/recipes/$f.yaml" --out "$WORK/$f.h5" 2> "$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
  variants+=("$f") paths+=("$WORK/$f.h5")
done

# one evaluation: a line "tok_s cpu_tok_s loop_over_forward peak_rss weight_bytes activation_bytes buffer_bytes
# stored_tensor_bytes perplexity kernels"
evaluate() { # $1 model, $2 config, $3 ranks
  mpirun --oversubscribe --allow-run-as-root -np "$3" "$BUILD/squeeze-evaluate" --config "$2" --model "$1" \
    --out "$WORK/e.h5" --json 2> "$WORK/log" > "$WORK/e.json" || { cat "$WORK/log" >&2; exit 1; }
  $PY - "$WORK/e.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
kernels = sorted({line.split()[1] for line in e["kernels_per_tensor"].splitlines() if line})
print(e["tokens_per_second"], e["processed_tokens"] / e["forward_cpu_seconds"],
      e["loop_cpu_seconds"] / e["forward_cpu_seconds"], e["peak_rss_bytes"], e["weight_bytes_in_memory"],
      e["activation_bytes_in_memory"], e["buffer_bytes_in_memory"], e["model_tensor_bytes"], e["perplexity"],
      ",".join(kernels))
PY
}

# one PyTorch run: CPU tok/s of module $1 (ref: itera_ref.py, original: itera_original.py)
torch_rate() {
  $PY - "$ROOT" "$1" "$MODEL" "$TEXT" "$TOKENIZER" "$START" "$WINDOW" "$STRIDE" "$WINDOWS" <<'PY'
import sys, time, torch
root, which, model_path, text_path, tokenizer, start, window, stride, windows = sys.argv[1:]
sys.path.insert(0, root + "/tests/reference")
import itera_ref, itera_original
torch.set_num_threads(1)
window, stride, windows = int(window), int(stride), int(windows)
model = (itera_ref if which == "ref" else itera_original).load_checkpoint(model_path).eval()
if tokenizer == "bytes":
    data = open(text_path, "rb").read()
    ids = list(data[int(float(start) * len(data)):])
else:
    words = itera_ref.word_ids(open(text_path, encoding="utf-8").read(), tokenizer)
    ids = words[int(float(start) * len(words)):]
inputs = [torch.tensor(ids[s:s + window - 1]).unsqueeze(0) for s in range(0, len(ids) - window + 1, stride)][:windows]
with torch.inference_mode():
    model(inputs[0])
    t0 = time.process_time()
    for x in inputs:
        model(x)
    print(len(inputs) * (window - 1) / (time.process_time() - t0))
PY
}
# the sgemm-bound limit is measured in every round, beside the variants (the CPU time a
# pass takes moves with the machine's load): the forward's share is the median of the
# per-round ratios
cc -O2 -o "$WORK/sgemm_bound" "$ROOT/scripts/bench_sgemm_bound.c" -I"$ROOT/pipeline/core" "$BUILD/libsqueeze_core.a" \
  $(pkg-config --cflags --libs hdf5-serial yaml-0.1 jansson openblas libzip libcrypto) $(mpicc --showme:link) -lm
: > "$WORK/torch" "$WORK/bound" "$WORK/reference"
for round in $(seq "$ROUNDS"); do
  for i in "${!variants[@]}"; do
    echo "$round ${variants[$i]} $(evaluate "${paths[$i]}" "$WORK/packed.yaml" 1) $(load | cut -d' ' -f1)" >> "$WORK/rounds"
  done
  "$WORK/sgemm_bound" "$MODEL" $((WINDOW - 1)) "$BOUND_ROUNDS" 2> "$WORK/bound.log" | sed "s/^/$round /" >> "$WORK/bound" ||
    echo "sgemm-bound tool failed: $(tail -1 "$WORK/bound.log")" >&2
  if [ "$TORCH" = 1 ]; then
    for which in ref original; do
      echo "$round $which $(torch_rate $which) $(load | cut -d' ' -f1)" >> "$WORK/torch"
    done
  fi
  echo "round $round done, load $(load)" >&2
done
for i in "${!variants[@]}"; do
  [ "${variants[$i]}" = fp32 ] && continue
  echo "${variants[$i]} $(evaluate "${paths[$i]}" "$WORK/reference.yaml" 1)" >> "$WORK/reference"
done


two="skipped: 1-minute load $(load | cut -d' ' -f1) on $(getconf _NPROCESSORS_ONLN) cores (needs < 0.5: two idle cores)"
if awk -v l="$(load | cut -d' ' -f1)" 'BEGIN { exit !(l < 0.5) }'; then
  one=$(evaluate "$MODEL" "$WORK/packed.yaml" 1 | cut -d' ' -f1)
  two_rate=$(evaluate "$MODEL" "$WORK/packed.yaml" 2 | cut -d' ' -f1)
  two="$two_rate tok/s, $($PY -c "print(round($two_rate / $one, 2))")x one rank (load $(load))"
fi

$PY - "$WORK/rounds" "$WORK/reference" "$WORK/bound" "$two" "$WORK/torch" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
ref = {l.split()[0]: l.split() for l in open(sys.argv[2])}
bound = {}  # key -> {round: value}
for l in open(sys.argv[3]):
    r, key, value = l.split()
    bound.setdefault(key, {})[int(r)] = float(value)
by = {}
for r in rows:
    by.setdefault(r[1], []).append(r)
def med(v, k): return st.median(float(x[k]) for x in v)
fp = {int(r[0]): r for r in by["fp32"]}
print(f"{'variant':10} {'tok/s':>8} {'x fp32':>7} {'cpu tok/s':>10} {'x fp32':>7} {'fwd/loop':>8} {'peak RSS':>9} "
      f"{'x fp32':>6} {'weights':>8} {'w/stored':>8} {'act+buf':>8} {'RSS/w':>6} {'ppl packed':>11} {'ppl deq.':>9} "
      f"{'diff':>8}  kernels")
for name, v in by.items():
    wall = st.median(float(r[2]) / float(fp[int(r[0])][2]) for r in v)
    cpu = st.median(float(r[3]) / float(fp[int(r[0])][3]) for r in v)
    ppl = float(v[0][10])
    deq = float(ref[name][9]) if name in ref else ppl
    print(f"{name:10} {med(v, 2):8.0f} {wall:7.2f} {med(v, 3):10.0f} {cpu:7.2f} {1 / med(v, 4):8.2f} "
          f"{med(v, 5) / 2**20:7.1f}Mi {med(v, 5) / med(by['fp32'], 5):6.2f} {med(v, 6) / 2**20:6.2f}Mi "
          f"{med(v, 6) / med(v, 9):8.2f} {(med(v, 7) + med(v, 8)) / 2**20:6.2f}Mi "
          f"{med(v, 5) / med(v, 6):6.2f} {ppl:11.5f} "
          f"{deq:9.5f} {100 * (ppl / deq - 1):7.3f}%  {v[0][11]}")
print(f"load (1 min) during the rounds: median {st.median(float(r[12]) for r in rows):.2f}, "
      f"max {max(float(r[12]) for r in rows):.2f}")
for who in ("openblas", "kernels") if bound else ():
    tps = bound[f"{who}_tokens_per_second"]
    share = st.median(float(fp[k][3]) / tps[k] for k in tps if k in fp)
    print(f"sgemm-bound limit ({who}, linear layers only, CPU time, every round): {st.median(tps.values()):.0f} tok/s, "
          f"{st.median(bound[f'{who}_gflops'].values()):.1f} GFLOP/s; fp32 forward reaches {100 * share:.0f}% of it "
          f"(median of the per-round ratios)")
trows = [l.split() for l in open(sys.argv[5])]
for who, what in (("ref", "squeeze's PyTorch reference (itera_ref.py)"),
                  ("original", "the original Itera-Lite computation (itera_original.py)")):
    mine = [r for r in trows if r[1] == who]
    if not mine:
        continue
    ratio = st.median(float(fp[int(r[0])][3]) / float(r[2]) for r in mine)
    print(f"{what}: {st.median(float(r[2]) for r in mine):.0f} tok/s (CPU time, 1 thread); squeeze fp32 is "
          f"{ratio:.2f}x it (median of per-round ratios; load {st.median(float(r[3]) for r in mine):.2f})")
print(f"2 ranks: {sys.argv[4]}")
PY
