#!/usr/bin/env bash
# test_compress.sh - squeeze-compress with every recipe on the real Itera-Lite micro checkpoint:
# the accounting adds up to the checkpoint's tensor bytes, every tensor has a row, tied tensors are
# stored once, full-precision tensors stay fp32, the seed-mixed map keeps every MoE tensor in fp32
# (and its measured ratio is printed next to the seed's claimed 2.27x); the compressed model runs
# (calibrate reads it back); bad inputs exit 2 or 3 with a message naming the place, and leave no
# artifact.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MODEL=$MICRO
COMPRESS=$BUILD/squeeze-compress
RECIPES=$SRC/configs/recipes

micro_config "$WORK/run.yaml"
cat >> "$WORK/run.yaml" <<EOF
calibrate:
  windows: 8
  window_length: 64
  hessian: ["**.weight"]
compress:
  recipe: nf4
EOF

# A calibration with X^T X for every linear (gptq-int4 needs it; the others use absmax/percentiles).
"$BUILD/squeeze-calibrate" --config "$WORK/run.yaml" --model "$MODEL" --out "$WORK/cal.h5" 2> "$WORK/cal.log"

for recipe in fp16 bf16 int8 nf4 nf4-double int4-g32 gptq-int4 seed-mixed ssm-mixed; do
  "$COMPRESS" --config "$WORK/run.yaml" --model "$MODEL" --calibration "$WORK/cal.h5" \
    --map "$RECIPES/$recipe.yaml" --out "$WORK/$recipe.h5" --json > "$WORK/$recipe.json" 2> "$WORK/$recipe.log" \
    || { cat "$WORK/$recipe.log"; echo "FAIL: recipe $recipe"; exit 1; }
  grep -q "per format:" "$WORK/$recipe.log" || { echo "FAIL: $recipe printed no accounting table"; exit 1; }
  grep -q "bytes on disk (stat)" "$WORK/$recipe.log" || { echo "FAIL: $recipe logged no measured size"; exit 1; }
done

$PY - "$WORK" "$MODEL" <<'EOF'
import json, os, sys, h5py, numpy as np
work, model = sys.argv[1], sys.argv[2]
fail = []
def check(cond, what):
    if not cond:
        fail.append(what)
def text(values):
    return [v.decode() if isinstance(v, bytes) else v for v in values]

INPUT_TENSOR_BYTES = 1174640  # 61 f32 tensors, lm_head shares embedding's storage (itera-lite.md 1.3)
expect = {  # recipe: formats that must appear for layers.0.ssm.in_proj.weight / embedding.weight
    "fp16": ("fp16", "fp16"), "bf16": ("bf16", "bf16"), "int8": ("int8", "int8"),
    "nf4": ("nf4", "nf4"), "nf4-double": ("nf4", "nf4"), "int4-g32": ("int4", "int4"),
    "gptq-int4": ("gptq", "int8"), "seed-mixed": ("fp16", "int8"), "ssm-mixed": ("nf4", "int8"),
}
input_size = os.stat(model).st_size
for recipe, (proj_format, emb_format) in expect.items():
    f = h5py.File(f"{work}/{recipe}.h5", "r")
    acc = f["accounting"]
    names, formats, rules = text(acc["name"][()]), text(acc["format"][()]), text(acc["rule"][()])
    before, after = acc["bytes_before"][()], acc["bytes_after"][()]
    row = {n: i for i, n in enumerate(names)}
    check(f.attrs["squeeze_artifact"] in (b"model", "model"), f"{recipe}: kind")
    check(len(names) == 61, f"{recipe}: 61 rows, got {len(names)}")
    check(int(before.sum()) == INPUT_TENSOR_BYTES, f"{recipe}: before adds up ({before.sum()})")
    check(int(acc.attrs["bytes_before"]) == int(before.sum()), f"{recipe}: total before")
    check(int(acc.attrs["bytes_after"]) == int(after.sum()), f"{recipe}: total after")
    check(int(acc["format_tensors"][()].sum()) == 61, f"{recipe}: per-format counts cover every row")
    check(int(acc["format_bytes_after"][()].sum()) == int(after.sum()), f"{recipe}: per-format bytes")
    # tied: one row 'alias' with 0 bytes, one stored object under two names
    check(rules[row["lm_head.weight"]] == "alias" and after[row["lm_head.weight"]] == 0, f"{recipe}: alias row")
    t = f["model/tensors"]
    check(t["lm_head.weight"] == t["embedding.weight"], f"{recipe}: lm_head is a hard link to embedding")
    check(formats[row["layers.0.ssm.in_proj.weight"]] == proj_format, f"{recipe}: in_proj is {proj_format}")
    check(formats[row["embedding.weight"]] == emb_format, f"{recipe}: embedding is {emb_format}")
    # full precision stays fp32 under every recipe (no recipe names these)
    for name in ("layers.0.ssm.ssm.A_log", "layers.1.ssm.ssm.D", "layers.2.ssm.conv1d.weight", "norm.weight",
                 "layers.0.ssm.ssm.delta_proj.bias"):
        check(formats[row[name]] == "fp32" and rules[row[name]] == "kept: full precision", f"{recipe}: {name} kept")
        check(after[row[name]] == before[row[name]], f"{recipe}: {name} bytes unchanged")
    check(rules[row["layers.1.moe.layer.router.expert_counts"]] == "raw", f"{recipe}: buffer raw")
    # the stored bytes are the accounting's: every tensor's datasets add up to its row
    stored = 0
    for name in names:
        if rules[row[name]] == "alias":
            continue
        obj = t[name]
        if isinstance(obj, h5py.Dataset):
            nbytes = obj.size * obj.dtype.itemsize
        else:
            nbytes = sum(d.size * d.dtype.itemsize for d in obj.values())
        check(nbytes == after[row[name]], f"{recipe}: {name} stored {nbytes} vs accounted {after[row[name]]}")
        stored += nbytes
    size = os.stat(f"{work}/{recipe}.h5").st_size
    check(size >= stored, f"{recipe}: file holds its tensors")
    # --json: the same numbers as the artifact and stat(), the map and the source model's identity
    summary = json.load(open(f"{work}/{recipe}.json"))
    check(summary["output"] == f"{work}/{recipe}.h5", f"{recipe}: json output path")
    check(summary["file_bytes"] == size, f"{recipe}: json file_bytes {summary['file_bytes']} vs stat {size}")
    check(summary["input_file_bytes"] == input_size, f"{recipe}: json input_file_bytes")
    check(summary["tensor_count"] == len(names), f"{recipe}: json tensor_count")
    check(summary["tensor_bytes_before"] == int(before.sum()) == summary["input_tensor_bytes"],
          f"{recipe}: json bytes before")
    check(summary["tensor_bytes_after"] == int(after.sum()), f"{recipe}: json bytes after")
    check(summary["ratio_tensor_bytes"] == int(before.sum()) / int(after.sum()), f"{recipe}: json tensor ratio")
    check(summary["ratio_file_bytes"] == input_size / size, f"{recipe}: json file ratio")
    check([f["format"] for f in summary["formats"]] == text(acc["formats"][()]), f"{recipe}: json formats")
    check([f["tensors"] for f in summary["formats"]] == list(acc["format_tensors"][()]), f"{recipe}: json counts")
    check([f["bytes_after"] for f in summary["formats"]] == list(acc["format_bytes_after"][()]),
          f"{recipe}: json format bytes")
    check(summary["precision_map"]["source"].endswith(f"/{recipe}.yaml"), f"{recipe}: json map source")
    check(summary["precision_map"]["source"] == text([acc.attrs["precision_map"]])[0], f"{recipe}: json map = attr")
    identity = summary["source_model"]
    check(identity["family"] == "itera" and identity["model_tensor_count"] == 61, f"{recipe}: json source model")
    for key in ("family", "config_json", "model_tensors_sha256"):
        check(identity[key] == text([acc.attrs["source_" + key]])[0], f"{recipe}: /accounting@source_{key}")
        check(identity[key] == text([f["model"].attrs[key]])[0] if key != "model_tensors_sha256" else True,
              f"{recipe}: /model@{key} is the source's")
    print(f"{recipe:11s} tensor bytes {INPUT_TENSOR_BYTES} -> {int(after.sum()):8d} "
          f"({INPUT_TENSOR_BYTES / after.sum():.3f}x); file {input_size} -> {size:8d} bytes "
          f"(measured {input_size / size:.3f}x)")
    if recipe == "seed-mixed":
        moe = [n for n in t.keys() if ".moe." in n]
        check(len(moe) == 20, f"seed-mixed: 20 MoE-block tensors stored, got {len(moe)}")
        experts = [n for n in moe if ".experts." in n]
        check(len(experts) == 8, f"seed-mixed: 4 experts x 2 matrices, got {len(experts)}")
        for n in moe:
            check(formats[row[n]] == "fp32", f"seed-mixed: {n} fp32, got {formats[row[n]]}")
            check(after[row[n]] == before[row[n]], f"seed-mixed: {n} unchanged")
        check(t["layers.1.moe.layer.router.gate.weight"].shape == (4, 64), "seed-mixed: router gate [4, 64]")
        print(f"seed-mixed keeps all {len(moe)} MoE-block tensors ({len(experts)} expert matrices) in fp32; "
              f"measured file ratio {input_size / size:.3f}x vs the seed's claimed 2.27x")
if fail:
    print("FAIL:\n  " + "\n  ".join(fail))
    sys.exit(1)
EOF

# Calibration statistics reached the formats that use them.
grep -q "tensors quantized with calibration statistics" "$WORK/gptq-int4.log" || { echo "FAIL: gptq without stats"; exit 1; }

# The compressed model runs: calibrate reads it back and runs the forward pass on it.
"$BUILD/squeeze-calibrate" --config "$WORK/run.yaml" --model "$WORK/ssm-mixed.h5" --out "$WORK/cal-ssm.h5" 2> /dev/null \
  || { echo "FAIL: the ssm-mixed model does not run"; exit 1; }

# The recipe by name from the config (compress.recipe: nf4), and an inline precision map.
"$COMPRESS" --config "$WORK/run.yaml" --model "$MODEL" --out "$WORK/by-name.h5" 2> "$WORK/by-name.log"
grep -q "precision map .*configs/recipes/nf4.yaml" "$WORK/by-name.log" || { cat "$WORK/by-name.log"; echo "FAIL: recipe by name"; exit 1; }
cat > "$WORK/inline.yaml" <<EOF
model:
  checkpoint: $MODEL
compress:
  precision_map:
    rules:
      - pattern: [embedding.weight, lm_head.weight]
        format: int8
    default: fp16
EOF
"$COMPRESS" --config "$WORK/inline.yaml" --model "$MODEL" --out "$WORK/inline.h5" 2> "$WORK/inline.log"
$PY - "$WORK/inline.h5" <<'EOF'
import sys, h5py
acc = h5py.File(sys.argv[1], "r")["accounting"]
names = [n.decode() for n in acc["name"][()]]
fmt = dict(zip(names, [n.decode() for n in acc["format"][()]]))
rule = dict(zip(names, [n.decode() for n in acc["rule"][()]]))
assert fmt["embedding.weight"] == "int8" and fmt["layers.0.ssm.in_proj.weight"] == "fp16", fmt
assert rule["layers.0.ssm.in_proj.weight"] == "default", rule
assert fmt["layers.1.moe.layer.experts.3.w2.weight"] == "fp16", fmt
assert fmt["layers.1.ssm.ssm.A_log"] == "fp32" and rule["layers.1.ssm.ssm.A_log"] == "kept: full precision", rule
print("inline map ok")
EOF
# The seed's "> 30% fall to the default" warning, listing the tensors (35 of 59 here).
grep -q "fall to the default (fp16): check the patterns" "$WORK/inline.log" || { cat "$WORK/inline.log"; echo "FAIL: 30% warning"; exit 1; }
grep -q "^  layers.0.ssm.in_proj.weight" "$WORK/inline.log" || { echo "FAIL: warning lists the tensors"; exit 1; }

# Bad inputs: exit code, message, no artifact (nor temporary file) left behind.
expect_fail() { # code out pattern args...
  local code=$1 out=$2 pattern=$3
  shift 3
  expect "$code" "$pattern" "$out" "$COMPRESS" "$@" --out "$out"
}
cat > "$WORK/bad-format.yaml" <<'EOF'
rules:
  - pattern: embedding.weight
    format: int3
default: fp16
EOF
expect_fail 2 "$WORK/o1.h5" "bad-format.yaml:3:13: unknown format 'int3'" --map "$WORK/bad-format.yaml" --model "$MODEL"
cat > "$WORK/bad-option.yaml" <<'EOF'
default:
  format: int8
  block_size: 64
EOF
expect_fail 2 "$WORK/o2.h5" "bad-option.yaml:3:3: format 'int8' has no option 'block_size'" \
  --map "$WORK/bad-option.yaml" --model "$MODEL"
# The seed's own pattern: '*' no longer swallows "0.ssm", so it matches nothing and stops compress.
cat > "$WORK/no-match.yaml" <<'EOF'
rules:
  - pattern: "layers.*.ssm.in_proj.weight"
    format: fp16
  - pattern: "layers.*.ssm.A_log"
    format: fp16
default: fp16
EOF
expect_fail 2 "$WORK/o3.h5" "no-match.yaml:4:14: pattern 'layers.\*.ssm.A_log'" --map "$WORK/no-match.yaml" --model "$MODEL"
grep -q "with '\*\*' it would match 'layers.0.ssm.ssm.A_log'" "$WORK/expect.log" || { cat "$WORK/expect.log"; echo "FAIL: hint"; exit 1; }
# A calibration of another model (the models' random Itera fixture): exit 3, both named.
expect_fail 3 "$WORK/o4.h5" "belongs to another model" --map "$RECIPES/nf4.yaml" \
  --model "$DATA/golden/random_itera.pt" --calibration "$WORK/cal.h5"
grep -q "itera_lite_micro_distilled.pt = itera (vocab 2000" "$WORK/expect.log" && grep -q "random_itera.pt = itera (vocab" "$WORK/expect.log" \
  || { cat "$WORK/expect.log"; echo "FAIL: both models named"; exit 1; }
# gptq without X^T X
expect_fail 2 "$WORK/o5.h5" "needs the X^T X" --map "$RECIPES/gptq-int4.yaml" --model "$MODEL"
# a recipe that does not exist, and no map at all
sed 's/recipe: nf4/recipe: nf5/' "$WORK/run.yaml" > "$WORK/nf5.yaml"
expect_fail 2 "$WORK/o6.h5" "no recipe nf5.yaml" --config "$WORK/nf5.yaml" --model "$MODEL"
grep -v -e "recipe:" -e "^compress:" "$WORK/run.yaml" > "$WORK/nomap.yaml"
expect_fail 2 "$WORK/o7.h5" "no precision map" --config "$WORK/nomap.yaml" --model "$MODEL"
# a calibration artifact that is not one
expect_fail 3 "$WORK/o8.h5" "calibration" --map "$RECIPES/nf4.yaml" --model "$MODEL" --calibration "$WORK/nf4.h5"
# A tensor whose rows do not fit its format: int4 groups of 64 on rows of 32 go to int4's declared
# fallback (int8), said in the log and recorded in the accounting; the rest stays int4.
cat > "$WORK/int4-64.yaml" <<'YAML'
description: "int4 in groups of 64 for every linear"
rules:
  - pattern: "layers.*.{ssm.in_proj,ssm.out_proj,moe.ffn.w1,moe.ffn.w2}.weight"
    format: int4
    block_size: 64
default: fp16
YAML
"$COMPRESS" --map "$WORK/int4-64.yaml" --model "$MODEL" --out "$WORK/int4-64.h5" 2> "$WORK/int4-64.log" \
  || { cat "$WORK/int4-64.log"; echo "FAIL: int4 block 64 with rows of 32 did not fall back"; exit 1; }
grep -q "tensor 'layers.0.moe.ffn.w2.weight': rows of 32 values are not a multiple of int4's block_size 64; stored as int8, int4's declared fallback" \
  "$WORK/int4-64.log" || { cat "$WORK/int4-64.log"; echo "FAIL: the fallback is not logged"; exit 1; }
$PY - "$WORK/int4-64.h5" <<'PY' || { echo "FAIL: the fallback is not in the accounting"; exit 1; }
import sys, h5py
a = h5py.File(sys.argv[1], "r")["accounting"]
rows = {n.decode(): (f.decode(), o.decode()) for n, f, o in zip(a["name"][()], a["format"][()], a["options"][()])}
assert rows["layers.0.moe.ffn.w2.weight"] == ("int8", "fallback from int4: rows of 32 values are not a multiple of int4's block_size 64"), rows["layers.0.moe.ffn.w2.weight"]
assert rows["layers.0.moe.ffn.w1.weight"][0] == "int4", rows["layers.0.moe.ffn.w1.weight"]
print("int4 block 64: rows of 32 stored as int8 (the declared fallback), recorded in /accounting")
PY
echo "test_compress: ok"
