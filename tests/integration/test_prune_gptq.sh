#!/usr/bin/env bash
# test_prune_gptq.sh - pruning followed by GPTQ: the calibration statistics (per-column
# activation statistics and the X^T X that GPTQ needs) are taken on the unpruned model, and
# compress carries them through the pruning (compress.c pruned_stats): a down projection whose
# input channels were pruned gets the Hessian's rows and columns of the kept channels, a
# renumbered expert its old name's statistics.
#   - Llama, a quarter of the FFN channels (given as the run config's compress.prune, the form a
#     sweep varies), then gptq-int4: every reshaped tensor is quantized with statistics
#     (/pruning@stats_carried), and layer 0 - whose inputs pruning does not change - is stored
#     bit for bit as GPTQ stores it from a calibration run on the pruned model itself (the
#     independent reference of the sliced Hessian); pruned+gptq perplexity is finite and within
#     10% of pruned+fp32; /pruning and /accounting both record their step.
#   - a run config with compress.prune but no precision map is not an evaluate-only run:
#     squeeze check exits 2 asking for the map (pruning is never silently skipped).
#   - Itera-Lite micro: experts removed (the kept ones renumbered) and their FFN channels
#     pruned, then GPTQ: every reshaped or renamed tensor finds its statistics.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RECIPES=$SRC/configs/recipes
run() { # log-name command...
  local log=$WORK/$1.log
  shift
  "$@" 2> "$log" || { cat "$log"; fail "$*"; }
}

LLAMA=$DATA/bundled/llama_tiny/model.safetensors
common="data:
  tokenizer: $DATA/bundled/bpe512/tokenizer.json
  calibration: {path: $DATA/bundled/austen_train.txt, end: 0.01}
  evaluation: {path: $DATA/bundled/austen_val.txt, end: 0.2}
calibrate:
  windows: 4
  window_length: 64
  hessian: [\"**.weight\"]
evaluate:
  window_length: 65
  max_windows: 8"
printf 'model:\n  checkpoint: %s\n%s\n' "$LLAMA" "$common" > "$WORK/plain.yaml"
printf '%s\ncompress:\n  prune: {ffn-channels: 0.25}\n' "$(cat "$WORK/plain.yaml")" > "$WORK/pruned.yaml"
printf 'default: fp32\n' > "$WORK/fp32.yaml"

# pruning amounts without a precision map are not an evaluate-only run: check asks for the map
rc=0
"$BUILD/squeeze" check "$WORK/pruned.yaml" > "$WORK/check.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "no precision map: set compress.recipe" "$WORK/check.out" \
  || { cat "$WORK/check.out"; fail "check of pruning without a map: exit $rc"; }

# ---- Llama: prune a quarter of the FFN channels, then GPTQ -------------------------------------
run cal "$BUILD/squeeze-calibrate" --config "$WORK/plain.yaml" --model "$LLAMA" --out "$WORK/cal.h5"
run fp32 "$BUILD/squeeze-compress" --config "$WORK/pruned.yaml" --model "$LLAMA" --calibration "$WORK/cal.h5" \
  --map "$WORK/fp32.yaml" --out "$WORK/pruned-fp32.h5"
run gptq "$BUILD/squeeze-compress" --config "$WORK/pruned.yaml" --model "$LLAMA" --calibration "$WORK/cal.h5" \
  --map "$RECIPES/gptq-int4.yaml" --out "$WORK/pruned-gptq.h5"
grep -q "15 of the 15 tensors pruning reshaped or renamed that a format quantizes had their source's statistics" \
  "$WORK/gptq.log" || { cat "$WORK/gptq.log"; fail "not every reshaped tensor had its statistics"; }
# the reference: calibrate the pruned model itself, then GPTQ without pruning
run cal2 "$BUILD/squeeze-calibrate" --config "$WORK/plain.yaml" --model "$WORK/pruned-fp32.h5" --out "$WORK/cal2.h5"
run ref "$BUILD/squeeze-compress" --config "$WORK/plain.yaml" --model "$WORK/pruned-fp32.h5" \
  --calibration "$WORK/cal2.h5" --map "$RECIPES/gptq-int4.yaml" --out "$WORK/ref-gptq.h5"
for v in fp32 gptq; do
  run "ev-$v" "$BUILD/squeeze-evaluate" --config "$WORK/plain.yaml" --model "$WORK/pruned-$v.h5" \
    --out "$WORK/ev-$v.h5"
done
$PY - "$WORK" <<'PY'
import math, sys, h5py, numpy as np
w = sys.argv[1]
def datasets(path, prefix):
    out = {}
    with h5py.File(path, "r") as f:
        f["model"].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) and prefix in n else None)
    return out
carried, ref = datasets(f"{w}/pruned-gptq.h5", "layers.0."), datasets(f"{w}/ref-gptq.h5", "layers.0.")
down = [n for n in carried if "mlp.down_proj.weight/" in n]
assert len(down) == 3 and carried[down[0]].shape[0] == 128, down
assert set(carried) == set(ref), sorted(set(carried) ^ set(ref))
differ = [n for n in carried if not np.array_equal(carried[n], ref[n])]
assert not differ, ("layer 0 differs from GPTQ on the pruned model's own calibration", differ)
with h5py.File(f"{w}/pruned-gptq.h5", "r") as f:
    p, acc = f["pruning"], f["accounting"]
    assert p.attrs["stats_carried"] == 15 and p.attrs["channels_removed"] == 5 * 96, dict(p.attrs)
    amounts = p.attrs["amounts"]
    amounts = amounts.decode() if isinstance(amounts, bytes) else amounts
    assert amounts == "ffn-channels 25%", amounts
    rows = {n.decode() if isinstance(n, bytes) else n: fmt for n, fmt in zip(acc["name"][()], acc["format"][()])}
    fmt = rows["model.layers.0.mlp.down_proj.weight"]
    assert (fmt.decode() if isinstance(fmt, bytes) else fmt) == "gptq", fmt
ppl = {}
for v in ("fp32", "gptq"):
    with h5py.File(f"{w}/ev-{v}.h5", "r") as f:
        ppl[v] = float(f["evaluation"].attrs["perplexity"])
assert all(math.isfinite(x) and x > 1 for x in ppl.values()), ppl
change = 100.0 * (ppl["gptq"] / ppl["fp32"] - 1.0)
assert abs(change) <= 10.0, ("pruned+gptq vs pruned+fp32 perplexity", ppl)
print(f"llama ffn 25%: layer 0 ({len(carried)} datasets) equal to GPTQ on the pruned model's own calibration; "
      f"perplexity pruned+fp32 {ppl['fp32']:.4f}, pruned+gptq {ppl['gptq']:.4f} ({change:+.2f}%, bound 10%)")
PY

# ---- Itera-Lite micro: experts renumbered and their channels pruned, then GPTQ ------------------
micro_config "$WORK/micro.yaml" 0.9
cat >> "$WORK/micro.yaml" <<YAML
calibrate:
  windows: 8
  window_length: 64
  hessian: ["**.weight"]
compress:
  prune: {experts: 0.5, ffn-channels: 0.25}
evaluate:
  window_length: 65
  max_windows: 8
YAML
run mcal "$BUILD/squeeze-calibrate" --config "$WORK/micro.yaml" --model "$MICRO" --out "$WORK/mcal.h5"
run mgptq "$BUILD/squeeze-compress" --config "$WORK/micro.yaml" --model "$MICRO" --calibration "$WORK/mcal.h5" \
  --map "$RECIPES/gptq-int4.yaml" --out "$WORK/micro-gptq.h5"
line=$(grep "tensors pruning reshaped or renamed that a format quantizes" "$WORK/mgptq.log") || { cat "$WORK/mgptq.log"; fail "no statistics line"; }
echo "$line" | grep -Eq "info: ([0-9]+) of the \1 tensors" || fail "micro: not every reshaped tensor had statistics: $line"
run mev "$BUILD/squeeze-evaluate" --config "$WORK/micro.yaml" --model "$WORK/micro-gptq.h5" --out "$WORK/mev.h5"
$PY - "$WORK/micro-gptq.h5" "$WORK/mev.h5" <<'PY'
import json, math, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    p = dict(f["pruning"].attrs)
    cfg = json.loads(f["model"].attrs["config_json"])
    assert p["experts_removed"] > 0 and p["stats_carried"] > 0, dict(p)
with h5py.File(sys.argv[2], "r") as f:
    ppl = float(f["evaluation"].attrs["perplexity"])
assert math.isfinite(ppl) and ppl > 1, ppl
print(f"micro: {p['experts_removed']} experts and {p['channels_removed']} channels removed, "
      f"{p['stats_carried']} tensors with carried statistics, {cfg['num_experts']} experts left; "
      f"perplexity after GPTQ {ppl:.3f}")
PY
echo "ok"
