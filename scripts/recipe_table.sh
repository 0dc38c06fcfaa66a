#!/usr/bin/env bash
# recipe_table.sh - every recipe of configs/recipes/ on the bundled byte-level Itera model, with the
# real stages, and the result as a Markdown table (docs/results.md holds a run of it).
#
#   scripts/recipe_table.sh [-b BUILD_DIR] [-w WORK_DIR] [-n RANKS] [-m MAX_WINDOWS] [-c CALIB_WINDOWS] [-a]
#
# Pipeline (docs/architecture.md): squeeze-inspect -> squeeze-calibrate (X^T X of every linear, so
# gptq-int4 can run) -> squeeze-evaluate of the inspect artifact with evaluate.store_logprobs (the
# baseline) -> for each recipe: squeeze-compress, then squeeze-evaluate --baseline.
#
# Protocol (docs/evaluate.md, "The bundled byte-level models"): tokenizer bytes, the whole of
# tests/data/bundled/austen_val.txt, windows of 257 bytes at stride 256, scoring all, offset 1:
# 785 windows, 200,960 scored bytes (-m N keeps the first N windows).  Calibration: CALIB_WINDOWS
# windows (default 128) of 256 bytes spread evenly over tests/data/bundled/austen_train.txt.
#
# Every number in the table is read from a stage's --json output: file bytes are stat() of the
# artifact (evaluate's model_file_bytes), perplexity, KL, tok/s and the ratio to the inspect
# artifact come from the evaluation; the micro checkpoint's sizes come from squeeze-compress --json.  The only arithmetic here is the ratio to the .pt checkpoint
# (its stat() size, from inspect --json, over the artifact's stat() size).
#
# Besides the recipes, two controls for the GPTQ comparison: gptq-int4's own map with
# round-to-nearest int4 (groups of 32, symmetric Q4_0-like and asymmetric Q4_1-like) in place of
# GPTQ, so that GPTQ is the only difference.  And the seed-mixed check on the real Itera-Lite micro
# checkpoint: every layers.N.moe tensor stays fp32, with the measured file ratio.
#
# -a adds the ssm-mixed ablation: the recipe's map with one choice changed per row (ablate-*), the
# evidence behind configs/recipes/ssm-mixed.yaml.
#
# Exit status: 0 done (goals met or not: the verdicts are printed), 1 a stage failed, 2 usage.
set -euo pipefail
export LC_ALL=C

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SQ_BUILD_DIR:-$SRC/build}
WORK=""
RANKS=2
MAX_WINDOWS=0
CALIB_WINDOWS=128
ABLATE=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while getopts "b:w:n:m:c:ah" opt; do
  case $opt in
    b) BUILD=$OPTARG ;;
    w) WORK=$OPTARG ;;
    n) RANKS=$OPTARG ;;
    m) MAX_WINDOWS=$OPTARG ;;
    c) CALIB_WINDOWS=$OPTARG ;;
    a) ABLATE=1 ;;
    *) usage ;;
  esac
done
[[ $RANKS =~ ^[1-9][0-9]*$ && $MAX_WINDOWS =~ ^[0-9]+$ && $CALIB_WINDOWS =~ ^[1-9][0-9]*$ ]] || usage
for stage in inspect calibrate compress evaluate; do
  [[ -x $BUILD/squeeze-$stage ]] || { echo "recipe_table: $BUILD/squeeze-$stage not built (-b BUILD_DIR)" >&2; exit 2; }
done
command -v jq > /dev/null || { echo "recipe_table: needs jq" >&2; exit 2; }
# the integration tests' start: DATA, MICRO, a WORK folder removed on exit unless -w named one
. "$SRC/tests/integration/lib.sh"
PY=${SQ_PYTHON:-/usr/bin/python3}
mkdir -p "$WORK"
sq_mpi_env
CHECKPOINT=$DATA/bundled/itera_tiny_bytes.pt
RECIPES=$SRC/configs/recipes

mpi() { # the MPI stages: mpirun -np RANKS, or the plain program for one rank
  if (( RANKS > 1 )); then mpirun -np "$RANKS" "$@"; else "$@"; fi
}
step() { # step LOG CMD...: run a stage, its stderr to LOG; on failure show the log and stop
  local log=$1; shift
  "$@" 2> "$log" || { cat "$log" >&2; echo "recipe_table: failed: $*" >&2; exit 1; }
}

cat > "$WORK/run.yaml" <<EOF
run: recipe-table
model:
  checkpoint: $CHECKPOINT
data:
  tokenizer: bytes
  calibration: {path: $DATA/bundled/austen_train.txt}
  evaluation: {path: $DATA/bundled/austen_val.txt}
calibrate:
  windows: $CALIB_WINDOWS
  window_length: 256
  hessian: ["**.weight"]
evaluate:
  window_length: 257
  stride: 256
  scoring: all
  offset: 1
  max_windows: $MAX_WINDOWS
EOF
sed 's/^evaluate:$/evaluate:\n  store_logprobs: true/' "$WORK/run.yaml" > "$WORK/baseline.yaml"

# Controls: gptq-int4's map (int8 embeddings/head and SSM B/C) with round-to-nearest int4 g32.
mkdir -p "$WORK/maps"
for variant in sym asym; do
  asym=false; [[ $variant == asym ]] && asym=true
  cat > "$WORK/maps/rtn-int4-g32-$variant.yaml" <<EOF
description: "gptq-int4's map with round-to-nearest int4 (groups of 32, asymmetric: $asym) instead of GPTQ"
rules:
  - pattern: [embedding.weight, lm_head.weight, position_embedding.weight]
    format: int8
    optional: true
  - pattern: ["layers.*.ssm.ssm.B", "layers.*.ssm.ssm.C"]
    format: int8
    optional: true
default:
  format: int4
  block_size: 32
  asymmetric: $asym
EOF
done

# The ablation: ssm-mixed's rules, one group per rule, each group's format an argument.
fmt() { # fmt int8|nf4 DOUBLE_QUANT: the format lines of a rule
  if [[ $1 == nf4 ]]; then printf '    format: nf4\n    block_size: 64\n    double_quant: %s\n' "$2"
  else printf '    format: %s\n' "$1"; fi
}
mixed_map() { # HEAD OUT_PROJ IN_PROJ DELTA_PROJ EXPERTS_FFN B_C POSITION DOUBLE_QUANT
  printf 'description: "ssm-mixed ablation: head %s, out_proj %s, in_proj %s, delta_proj %s, experts/FFN %s, B/C %s, positions %s, double_quant %s"\nrules:\n' "$@"
  printf '  - pattern: [embedding.weight, lm_head.weight]\n'; fmt "$1" "$8"
  printf '  - pattern: "layers.*.ssm.out_proj.weight"\n'; fmt "$2" "$8"
  printf '  - pattern: "layers.*.moe.layer.router.gate.weight"\n    format: int8\n    optional: true\n'
  printf '  - pattern: ["layers.*.ssm.ssm.B", "layers.*.ssm.ssm.C"]\n'; fmt "$6" "$8"
  printf '  - pattern: "layers.*.ssm.in_proj.weight"\n'; fmt "$3" "$8"
  printf '  - pattern: "layers.*.ssm.ssm.delta_proj.weight"\n'; fmt "$4" "$8"
  printf '  - pattern: ["layers.*.moe.layer.experts.*.{w1,w2}.weight", "layers.*.moe.ffn.{w1,w2}.weight"]\n'; fmt "$5" "$8"
  printf '  - pattern: position_embedding.weight\n'; fmt "$7" "$8"
}
if (( ABLATE )); then
  #                                                           head out  in   delta exp  B/C  pos  dq
  mixed_map int8 int8 nf4  nf4  nf4  int8 nf4  true  > "$WORK/maps/ablate-0-as-recipe.yaml"
  mixed_map nf4  int8 nf4  nf4  nf4  int8 nf4  true  > "$WORK/maps/ablate-head-nf4.yaml"
  mixed_map int8 nf4  nf4  nf4  nf4  int8 nf4  true  > "$WORK/maps/ablate-out_proj-nf4.yaml"
  mixed_map int8 int8 int8 nf4  nf4  int8 nf4  true  > "$WORK/maps/ablate-in_proj-int8.yaml"
  mixed_map int8 int8 nf4  int8 nf4  int8 nf4  true  > "$WORK/maps/ablate-delta_proj-int8.yaml"
  mixed_map int8 int8 nf4  nf4  int8 int8 nf4  true  > "$WORK/maps/ablate-experts-int8.yaml"
  mixed_map int8 int8 nf4  nf4  nf4  nf4  nf4  true  > "$WORK/maps/ablate-bc-nf4.yaml"
  mixed_map int8 int8 nf4  nf4  nf4  int8 int8 true  > "$WORK/maps/ablate-positions-int8.yaml"
  mixed_map int8 int8 nf4  nf4  nf4  int8 nf4  false > "$WORK/maps/ablate-no-double-quant.yaml"
fi

echo "recipe_table: work dir $WORK, $RANKS rank(s)" >&2
step "$WORK/inspect.log" "$BUILD/squeeze-inspect" "$CHECKPOINT" --config "$WORK/run.yaml" \
  --out "$WORK/inspect.h5" --json > "$WORK/inspect.json"
step "$WORK/calibrate.log" mpi "$BUILD/squeeze-calibrate" --config "$WORK/run.yaml" \
  --model "$WORK/inspect.h5" --out "$WORK/calibration.h5"
step "$WORK/baseline.log" mpi "$BUILD/squeeze-evaluate" --config "$WORK/baseline.yaml" \
  --model "$WORK/inspect.h5" --out "$WORK/baseline.eval.h5" --variant baseline --json > "$WORK/baseline.json"

variants=()
for map in "$RECIPES"/*.yaml "$WORK"/maps/*.yaml; do
  name=$(basename "$map" .yaml)
  echo "recipe_table: $name" >&2
  step "$WORK/$name.compress.log" "$BUILD/squeeze-compress" --config "$WORK/run.yaml" \
    --model "$WORK/inspect.h5" --calibration "$WORK/calibration.h5" --map "$map" --out "$WORK/$name.h5"
  step "$WORK/$name.eval.log" mpi "$BUILD/squeeze-evaluate" --config "$WORK/run.yaml" \
    --model "$WORK/$name.h5" --baseline "$WORK/baseline.eval.h5" --variant "$name" \
    --out "$WORK/$name.eval.h5" --json > "$WORK/$name.json"
  variants+=("$name")
done

# seed-mixed on the real Itera-Lite micro checkpoint (sizes only: its accounting and stat()), with a
# calibration as above (int8 then also stores the head's input absmax: 256 bytes) and as
# tests/integration/test_compress.sh runs it.
micro_config "$WORK/micro.yaml"
cat >> "$WORK/micro.yaml" <<EOF
calibrate:
  windows: 8
  window_length: 64
EOF
step "$WORK/micro-calibrate.log" "$BUILD/squeeze-calibrate" --config "$WORK/micro.yaml" --model "$MICRO" \
  --out "$WORK/micro-calibration.h5"
step "$WORK/micro-seed-mixed.log" "$BUILD/squeeze-compress" --config "$WORK/micro.yaml" --model "$MICRO" \
  --calibration "$WORK/micro-calibration.h5" --map "$RECIPES/seed-mixed.yaml" --out "$WORK/micro-seed-mixed.h5" \
  --json > "$WORK/micro-seed-mixed.json"
# Sizes from compress --json (stat() of both files, the accounting's totals); the per-tensor MoE rows
# and what /model/tensors holds from the artifact itself.
read -r MICRO_PT MICRO_H5 MICRO_TBEFORE MICRO_TAFTER < <(jq -r \
  '[.input_file_bytes, .file_bytes, .tensor_bytes_before, .tensor_bytes_after] | @tsv' "$WORK/micro-seed-mixed.json")
MICRO_CHECK=$("$PY" - "$WORK/micro-seed-mixed.h5" <<'EOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
acc = f["accounting"]
text = lambda d: [v.decode() if isinstance(v, bytes) else v for v in d[()]]
names, formats = text(acc["name"]), text(acc["format"])
before, after = acc["bytes_before"][()], acc["bytes_after"][()]
moe = [i for i, n in enumerate(names) if ".moe." in n]
stored = [names[i] for i in moe if names[i] in f["model/tensors"]]
bad = [names[i] for i in moe if formats[i] != "fp32" or before[i] != after[i]]
experts = [names[i] for i in moe if ".experts." in names[i]]
print(len(moe), len(stored), len(experts), len(bad))
EOF
)
read -r MOE_ROWS MOE_STORED MOE_EXPERTS MOE_BAD <<< "$MICRO_CHECK"

# ---- the table ----
PT_BYTES=$(jq -r .file_bytes "$WORK/inspect.json")
jq -r '[.model_file_bytes, .perplexity, .ppl_stderr, .scored_tokens, .windows, .ranks, .tokens_per_second] | @tsv' \
  "$WORK/baseline.json" > "$WORK/baseline.tsv"
read -r BASE_BYTES BASE_PPL BASE_STDERR SCORED WINDOWS EVAL_RANKS BASE_TPS < "$WORK/baseline.tsv"

echo "| recipe | file bytes (stat) | vs fp32 .pt | vs inspect.h5 | perplexity | change % | KL divergence | tok/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
awk -v pt="$PT_BYTES" 'BEGIN { printf "| fp32 checkpoint (.pt) | %d | 1.000x | | | | | |\n", pt }'
awk -v pt="$PT_BYTES" -v b="$BASE_BYTES" -v p="$BASE_PPL" -v s="$BASE_STDERR" -v t="$BASE_TPS" \
  'BEGIN { printf "| baseline: inspect.h5 (fp32) | %d | %.3fx | 1.000x | %.5f ± %.5f | | | %.0f |\n", b, pt / b, p, s, t }'
for name in "${variants[@]}"; do
  jq -r --arg n "$name" '[$n, .model_file_bytes, .ratio_file_bytes, .perplexity, .ppl_change_pct, .kl_divergence,
    .tokens_per_second] | @tsv' "$WORK/$name.json"
done | awk -F'\t' -v pt="$PT_BYTES" '{
  printf "| %s | %d | %.3fx | %.3fx | %.5f | %+.3f | %.3g | %.0f |\n", $1, $2, pt / $2, $3, $4, $5, $6, $7 }'
echo
echo "Protocol: $WINDOWS windows of 257 bytes, stride 256, scoring all, offset 1: $SCORED scored bytes of"
echo "austen_val.txt; $EVAL_RANKS MPI rank(s); calibration $CALIB_WINDOWS x 256 bytes of austen_train.txt."
echo "fp32 checkpoint: $PT_BYTES bytes (stat). ppl ± is llama.cpp's ppl_stderr of the baseline."

# ---- the goals ----
field() { jq -r ".$2" "$WORK/$1.json"; }
verdict() { # verdict WHAT AWK_CONDITION VALUES...
  local what=$1 cond=$2; shift 2
  if awk "BEGIN { exit !($cond) }"; then echo "- PASS: $what"; else echo "- FAIL: $what"; fi
}
echo
echo "Goals:"
fp16=$(field fp16 ppl_change_pct); int8=$(field int8 ppl_change_pct)
gptq=$(field gptq-int4 perplexity); rtn=$(field int4-g32 perplexity)
rtn_sym=$(field rtn-int4-g32-sym perplexity); rtn_asym=$(field rtn-int4-g32-asym perplexity)
ssm_change=$(field ssm-mixed ppl_change_pct); ssm_bytes=$(field ssm-mixed model_file_bytes)
ssm_ratio=$(awk -v pt="$PT_BYTES" -v b="$ssm_bytes" 'BEGIN { printf "%.3f", pt / b }')
verdict "fp16 change $(printf %+.5f "$fp16")% (goal |change| < 0.1%)" "$fp16 < 0.1 && $fp16 > -0.1"
verdict "int8 change $(printf %+.4f "$int8")% (goal |change| < 1%)" "$int8 < 1 && $int8 > -1"
verdict "gptq-int4 (g32) ppl $gptq < int4-g32 (RTN, g32) ppl $rtn" "$gptq < $rtn"
verdict "gptq-int4 (g32) ppl $gptq < the same map with RTN int4 g32: symmetric $rtn_sym, asymmetric $rtn_asym" \
  "$gptq < $rtn_sym && $gptq < $rtn_asym"
verdict "ssm-mixed $ssm_ratio x the .pt's file bytes (goal >= 4x)" "$ssm_ratio >= 4"
verdict "ssm-mixed change $(printf %+.4f "$ssm_change")% (goal <= 3%)" "$ssm_change <= 3"
echo
echo "seed-mixed on itera_lite_micro_distilled.pt: $MOE_ROWS layers.N.moe rows ($MOE_STORED stored, $MOE_EXPERTS expert"
echo "matrices), $MOE_BAD not fp32 or changed; file $MICRO_PT -> $MICRO_H5 bytes (stat):" \
  "$(awk -v a="$MICRO_PT" -v b="$MICRO_H5" 'BEGIN { printf "%.3fx", a / b }') measured vs the seed's claimed 2.27x;" \
  "tensor bytes $MICRO_TBEFORE -> $MICRO_TAFTER ($(awk -v a="$MICRO_TBEFORE" -v b="$MICRO_TAFTER" 'BEGIN { printf "%.3fx", a / b }'))."
verdict "seed-mixed keeps all MoE tensors fp32 on the micro checkpoint" "$MOE_ROWS > 0 && $MOE_BAD == 0"
