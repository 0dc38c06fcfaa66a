#!/usr/bin/env bash
# prune_table.sh - structured pruning measured on the bundled models: one `squeeze run` per model
# whose sweep crosses pruning amounts with formats (docs/config.md, "sweep"), then a Markdown
# table read from each run's report.json and the artifacts (docs/results.md holds a run of it).
#
#   scripts/prune_table.sh [-b BUILD_DIR] [-w WORK_DIR] [-m MAX_WINDOWS]
#
# Models (tests/data/bundled, docs/default-models.md):
#   llama_tiny         FFN (SwiGLU) channels 0 / 12.5 / 25 / 50 %, query heads 50 % (one of the
#                      two in each KV group; smaller fractions round down to none)   (BPE 512 tokenizer)
#   itera_tiny_bytes   FFN channels and MoE experts 0 / 12.5 / 25 / 50 %   (bytes)
#   transformer_tiny_bytes   attention heads 25 / 50 % (1 and 2 of 4 per layer)   (bytes)
#   mamba_tiny         nothing squeeze may prune: no FFN, no experts; its SSM dimensions are
#                      refused by the guard (the exit status and reason are printed)
# each amount followed by fp32 (pruning alone), nf4, int4-g32 (round-to-nearest int4) and
# gptq-int4 (GPTQ on the pruned tensors with the carried X^T X, docs/precision-maps.md).
# Amounts are floor(fraction x size) per layer: 12.5 % of Itera's 4 experts removes none.
#
# Protocol: evaluation on the first quarter of tests/data/bundled/austen_val.txt, MAX_WINDOWS
# (default 48) windows of 128 tokens (129 for the BPE model, so 128 are scored), scoring all;
# calibration 16 windows of 128 tokens from the first 2 % of austen_train.txt with X^T X of every
# linear.  Figures: size = stat() of compress/<variant>/model.h5; perplexity, its change against
# the fp32 baseline and KL(fp32 || variant) per token from report.json (which reads the
# evaluation artifacts); Pareto = the report's size/quality Pareto front over every variant of
# that model's run (pruned or not).
#
# Exit status: 0 done, 1 a run failed, 2 usage.
set -euo pipefail
export LC_ALL=C

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SQ_BUILD_DIR:-$SRC/build}
WORK=""
MAX_WINDOWS=48
PY=${SQ_PYTHON:-/usr/bin/python3}
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while getopts "b:w:m:h" opt; do
  case $opt in
    b) BUILD=$OPTARG ;;
    w) WORK=$OPTARG ;;
    m) MAX_WINDOWS=$OPTARG ;;
    *) usage ;;
  esac
done
[[ $MAX_WINDOWS =~ ^[1-9][0-9]*$ ]] || usage
for p in squeeze squeeze-compress; do
  [[ -x $BUILD/$p ]] || { echo "prune_table: $BUILD/$p not built (-b BUILD_DIR)" >&2; exit 2; }
done
[[ -n $WORK ]] || WORK=$(mktemp -d)
mkdir -p "$WORK"
DATA=$SRC/tests/data/bundled
FORMATS="[fp32, nf4, int4-g32, gptq-int4]"

config() { # name checkpoint tokenizer window prune-list
  cat > "$WORK/$1.yaml" <<YAML
run: $1
output_root: $WORK/results
model:
  checkpoint: $2
data:
  tokenizer: $3
  calibration: {path: $DATA/austen_train.txt, end: 0.02}
  evaluation: {path: $DATA/austen_val.txt, end: 0.25}
calibrate:
  windows: 16
  window_length: 128
  hessian: ["**.weight"]
evaluate:
  window_length: $4
  max_windows: $MAX_WINDOWS
compress:
  recipe: fp32
targets:
  compression: 3.0
  quality: 5.0
sweep:
  grid:
    compress.prune: $5
    compress.recipe: $FORMATS
YAML
}
config prune-llama "$DATA/llama_tiny/model.safetensors" "$DATA/bpe512/tokenizer.json" 129 \
  "[{}, {ffn-channels: 0.125}, {ffn-channels: 0.25}, {ffn-channels: 0.5}, {heads: 0.5}]"
config prune-itera "$DATA/itera_tiny_bytes.pt" bytes 128 \
  "[{}, {ffn-channels: 0.125}, {ffn-channels: 0.25}, {ffn-channels: 0.5}, {experts: 0.125}, {experts: 0.25}, {experts: 0.5}]"
config prune-transformer "$DATA/transformer_tiny_bytes.pt" bytes 128 "[{}, {heads: 0.25}, {heads: 0.5}]"

echo "load before: $(uptime)" >&2
for run in prune-llama prune-itera prune-transformer; do
  start=$(date +%s)
  "$BUILD/squeeze" run "$WORK/$run.yaml" > "$WORK/$run.log" 2>&1 || { tail -20 "$WORK/$run.log" >&2; exit 1; }
  echo "$run: squeeze run $WORK/$run.yaml in $(( $(date +%s) - start )) s; load: $(uptime)" >&2
done

# mamba_tiny: what a prune rule meets (exit status and the first error line)
config prune-mamba "$DATA/mamba_tiny/model.safetensors" "$DATA/bpe512/tokenizer.json" 129 "[{}]"
MAMBA=""
for target in ffn-channels experts ssm-state ssm-conv ssm-inner; do
  printf 'prune:\n  - target: %s\n    fraction: 0.25\ndefault: fp32\n' "$target" > "$WORK/mamba-$target.yaml"
  set +e
  "$BUILD/squeeze-compress" --config "$WORK/prune-mamba.yaml" --model "$DATA/mamba_tiny/model.safetensors" \
    --map "$WORK/mamba-$target.yaml" --out "$WORK/mamba-$target.h5" 2> "$WORK/mamba-$target.log"
  rc=$?
  set -e
  reason=$(grep -m1 "error:" "$WORK/mamba-$target.log" | sed 's/.*error: [^:]*:[0-9]*:[0-9]*: //')
  MAMBA+="$target	$rc	$reason
"
done

$PY - "$WORK/results" "$MAMBA" <<'PY'
import json, os, sys
root, mamba = sys.argv[1], sys.argv[2]
print("| model | pruned | format | size on disk (B) | perplexity | change vs fp32 | KL (nats/token) | Pareto |")
print("|---|---|---|---:|---:|---:|---:|---|")
order = {"fp32": 0, "nf4": 1, "int4-g32": 2, "gptq-int4": 3}
joined = []
for run, model in (("prune-llama", "llama_tiny"), ("prune-itera", "itera_tiny_bytes"),
                   ("prune-transformer", "transformer_tiny_bytes")):
    report = json.load(open(f"{root}/{run}/report/report.json"))
    base = report["baseline"]["measured"]
    print(f"| {model} | baseline | fp32 (squeeze's copy) | {os.stat(f'{root}/{run}/inspect/inspect.h5').st_size:,} "
          f"(checkpoint {report['size_baseline']['file_bytes']:,}) | {base['perplexity']:.3f} | | | |")
    rows = []
    for v in report["variants"]:
        if "measured" not in v:
            print(f"| {model} | {v['name']} | | failed: {v.get('failed_stage', '?')} | | | | |")
            continue
        prune_part, recipe = v["name"].rsplit("_", 1)
        pruning = v["model"]["pruning"]
        amount = pruning["amounts"] if pruning else "none"
        if pruning and pruning["channels_removed"] == 0 and pruning["experts_removed"] == 0 \
                and pruning["heads_removed"] == 0:
            amount += " (removes none: floor of the fraction)"
        size = os.stat(f"{root}/{run}/compress/{v['name']}/model.h5").st_size
        m = v["measured"]
        rows.append((0 if not pruning else 1, prune_part, order.get(recipe, 9), recipe, amount, size,
                     m["perplexity"], m["ppl_change_pct"], m.get("kl_divergence"), v["derived"]["pareto"]))
        if pruning and v["derived"]["pareto"]:
            joined.append(f"{model} {v['name']}")
    def amount_key(row):  # unpruned first, then FFN channels, heads, experts, each by amount, then format
        part = row[1]
        kind = 0 if not row[0] else 1 if part.startswith("ffn") else 2 if part.startswith("heads") else 3
        return (kind, float(part.lstrip("abcdefghijklmnopqrstuvwxyz-") or 0), row[2])
    rows.sort(key=amount_key)
    for _, _, _, recipe, amount, size, ppl, change, kl, pareto in rows:
        print(f"| {model} | {amount} | {recipe} | {size:,} | {ppl:.3f} | {change:+.2f}% | "
              f"{'' if kl is None else f'{kl:.4f}'} | {'yes' if pareto else ''} |")
print()
print("mamba_tiny (exit status of squeeze-compress with a 25 % rule, and its reason):")
print()
print("| target | exit | reason |")
print("|---|---:|---|")
for line in mamba.strip().splitlines():
    target, rc, reason = line.split("\t")
    print(f"| {target} | {rc} | {reason} |")
print()
print("Pruned variants on the Pareto front: " + (", ".join(joined) if joined else "none"))
PY
echo "load after: $(uptime)" >&2
