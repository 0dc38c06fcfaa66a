#!/usr/bin/env bash
# test_inspect.sh - squeeze-inspect on the real Itera-Lite micro checkpoint: the
# facts of docs/itera-lite.md 1.1-1.5 (config, 293,656 parameters, the tied head),
# every tensor accounted for, the inspect artifact readable by h5dump and h5py
# with the tied tensors stored once, config and flags steering the
# recommendation, and bad inputs refused with exit 3 (2 for usage) and no
# artifact left behind.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

INSPECT=$BUILD/squeeze-inspect
cd "$WORK"

[ -x "$INSPECT" ] || fail "$INSPECT is not built"
[ -f "$MICRO" ] || fail "$MICRO is missing (tests/data/README.md)"

# ---------------------------------------------------------------- the facts (--json)
"$INSPECT" "$MICRO" --json > facts.json 2> json.log || fail "squeeze-inspect --json exited $?: $(cat json.log)"
$PY - "$MICRO" facts.json <<'PY' || fail "the --json facts are wrong"
import json, os, sys
micro, path = sys.argv[1], sys.argv[2]
f = json.load(open(path))
def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")
c = f["config"]
check("family", f["family"], "itera")
check("vocab_size", c["vocab_size"], 2000)
check("hidden_size", c["hidden_size"], 64)
check("num_layers", c["num_layers"], 3)
check("ssm_state_size", c["ssm_state_size"], 8)
check("ssm_conv_kernel", c["ssm_conv_kernel"], 4)
check("num_experts", c["num_experts"], 4)
check("expert_size", c["expert_size"], 32)
check("moe_layers", c["moe_layers"], [1])
check("max_seq_length", c["max_seq_length"], 128)
check("parameters", f["parameters"], 293656)            # itera-lite.md 1.5: sum(p.numel()), head once
check("state_dict_elements", f["state_dict_elements"], 421660)  # head twice + the expert_counts buffer
check("aliases", f["aliases"], [{"name": "lm_head.weight", "alias_of": "embedding.weight"}])
check("tensor_count", f["tensor_count"], 61)             # itera-lite.md 1.3: micro has 61 keys
check("file_bytes", f["file_bytes"], os.path.getsize(micro))
# every tensor accounted for: in a group, a buffer, or listed as ungrouped
a = f["accounting"]
check("accounting adds up", a["in_groups"] + a["buffers"] + a["ungrouped"], a["tensors"])
check("ungrouped", f["ungrouped"], [])
check("buffers", [b["name"] for b in f["buffers"]], ["layers.1.moe.layer.router.expert_counts"])
check("groups sum to the total", sum(g["parameters"] for g in f["groups"]), f["parameters"])
groups = {g["group"]: g["parameters"] for g in f["groups"]}
check("embedding group", groups["embedding"], 2000 * 64)
check("moe-expert group", groups["moe-expert"], 4 * 2 * 32 * 64)
check("head group (tied: counted under embedding)", groups["head"], 0)
# tensor bytes: the stored tensors in their dtype, the tied head once
check("tensor_bytes", f["tensor_bytes"], sum(t["stored_bytes"] for t in f["tensors"]))
check("tensor_bytes value", f["tensor_bytes"], 4 * (421660 - 2000 * 64))
lm = [t for t in f["tensors"] if t["name"] == "lm_head.weight"][0]
check("lm_head shape", lm["shape"], [2000, 64])
check("lm_head alias_of", lm["alias_of"], "embedding.weight")
check("lm_head group", lm["group"], "head")
check("meta keys", [m["key"] for m in f["meta"]], ["compression_ratio"])
r = f["recommendation"]
check("architecture", r["architecture"], "ssm")
check("default hardware", r["target_hardware"], "gpu")
check("default quality", r["quality_constraint_pct"], 3.0)
check("first technique for a small SSM on GPU", r["recommended"][0]["technique"], "mixed-precision")
if "pruning" not in [x["technique"] for x in r["avoided"]]:
    sys.exit("pruning of an SSM should be advised against")
if not r["caveats"]:
    sys.exit("no caveats")
PY

# ---------------------------------------------------------------- the text report
"$INSPECT" "$MICRO" > report.txt 2> text.log || fail "squeeze-inspect exited $?: $(cat text.log)"
for want in "lm_head.weight -> embedding.weight" "293,656" "Family itera" "layers.1.moe.layer.router.expert_counts [4] f32" \
  "Accounting: 61 tensors = 60 in parameter groups (1 alias) + 1 buffer + 0 without group" \
  "compression_ratio = 3.80886" "1. mixed-precision"; do
  grep -qF -- "$want" report.txt || fail "text report lacks '$want'"
done

# ---------------------------------------------------------------- the artifact (--out)
"$INSPECT" "$MICRO" --out inspect.h5 --key plan-key-1 > /dev/null 2> out.log || fail "--out exited $?: $(cat out.log)"
[ -f inspect.h5 ] || fail "no inspect.h5"
ls | grep -q '\.tmp\.' && fail "a temporary file was left behind"
h5dump inspect.h5 > dump.txt 2>&1 || fail "h5dump cannot read inspect.h5"
grep -q 'GROUP "inspect"' dump.txt || fail "h5dump shows no /inspect group"
$PY - inspect.h5 "$MICRO" <<'PY' || fail "the inspect artifact is wrong"
import h5py, json, os, sys
f = h5py.File(sys.argv[1], "r")
def s(v): return v.decode() if isinstance(v, bytes) else v
for name in ["squeeze_artifact", "schema_version", "created_utc", "squeeze_version", "config_sha256", "inputs",
             "mpi_ranks", "host", "plan_key"]:
    if name not in f.attrs:
        sys.exit(f"root attribute {name} missing")
assert s(f.attrs["squeeze_artifact"]) == "inspect", f.attrs["squeeze_artifact"]
assert f.attrs["schema_version"] == 1
assert f.attrs["mpi_ranks"] == 1
assert s(f.attrs["plan_key"]) == "plan-key-1"
assert sys.argv[2] in s(f.attrs["inputs"]), "the checkpoint is not listed as input"
t = f["model/tensors"]
# the tied head is one object with two names: stored once
assert t["lm_head.weight"].id == t["embedding.weight"].id, "lm_head.weight is a copy, not a hard link"
assert h5py.h5o.get_info(t["lm_head.weight"].id).rc == 2
assert len(t) == 61 and f["model"].attrs["tensor_count"] == 61
assert s(f["model"].attrs["family"]) == "itera"
assert json.loads(s(f["model"].attrs["config_json"]))["vocab_size"] == 2000
assert s(f["model"].attrs["aliases"]) == "lm_head.weight=embedding.weight\n"
e = t["embedding.weight"]
assert e.shape == (2000, 64) and e.dtype == "float32" and s(e.attrs["format"]) == "fp32"
assert t["layers.0.ssm.conv1d.weight"].shape == (128, 1, 4)
# the baseline is the checkpoint's weights: stored bytes once, without the alias
stored = sum(t[n].size * t[n].dtype.itemsize for n in t if n != "lm_head.weight")
i = f["inspect"]
assert stored == i.attrs["tensor_bytes"], (stored, i.attrs["tensor_bytes"])
assert i.attrs["parameter_count"] == 293656 and i.attrs["parameters"] == 293656
assert i.attrs["params_embedding"] == 128000 and i.attrs["params_head"] == 0 and i.attrs["params_attention"] == 0
assert "params_buffer" not in i.attrs
assert s(i.attrs["family"]) == "itera"
assert i.attrs["file_bytes"] == os.path.getsize(sys.argv[2])
names = [s(x) for x in i["tensors/name"][()]]
assert len(names) == 61 and names[-1] == "lm_head.weight"
assert s(i["tensors/alias_of"][-1]) == "embedding.weight"
assert sum(i["tensors/stored_bytes"][()]) == i.attrs["tensor_bytes"]
assert sum(i["groups/parameters"][()]) == 293656
assert [s(x) for x in i["buffers"][()]] == ["layers.1.moe.layer.router.expert_counts"]
assert len(i["ungrouped"]) == 0
assert [s(x) for x in i["meta/key"][()]] == ["compression_ratio"]
rec = i["recommendation"]
assert s(rec["technique"][0]) == "mixed-precision"
assert "mixed-precision" in s(rec.attrs["text"])
assert json.loads(s(i.attrs["report_json"]))["parameters"] == 293656
PY

# The inspect artifact is itself a model input: read back through the loader.
"$INSPECT" inspect.h5 --json > again.json 2> again.log || fail "inspect of inspect.h5 exited $?: $(cat again.log)"
$PY - again.json <<'PY' || fail "inspect.h5 read back differs"
import json, sys
f = json.load(open(sys.argv[1]))
assert f["format"] == "squeeze-hdf5", f["format"]
assert f["parameters"] == 293656 and f["tensor_count"] == 61
assert f["aliases"] == [{"name": "lm_head.weight", "alias_of": "embedding.weight"}]
assert f["tensor_bytes"] == 4 * (421660 - 2000 * 64)
PY

# ---------------------------------------------------------------- extra tensors: never dropped
# The same model as safetensors (no sharing there: the head is an untied copy),
# plus an int64 step counter and a float tensor that no family names.
$PY - inspect.h5 extra.safetensors <<'PY'
import h5py, json, struct, sys
import numpy as np
f = h5py.File(sys.argv[1], "r")
arrays = {name: f["model/tensors"][name][()] for name in f["model/tensors"]}
arrays["training.step"] = np.array([2**53 + 1], dtype=np.int64)
arrays["extra.weight"] = np.arange(4, dtype=np.float32).reshape(2, 2)
header, blobs, offset = {}, [], 0
for name, a in arrays.items():
    raw = np.ascontiguousarray(a).tobytes()
    header[name] = {"dtype": {"float32": "F32", "int64": "I64"}[str(a.dtype)], "shape": list(a.shape),
                    "data_offsets": [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
text = json.dumps(header).encode()
with open(sys.argv[2], "wb") as out:
    out.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
PY
"$INSPECT" extra.safetensors --json --out extra.h5 > extra.json 2> extra.log || fail "extra tensors: exit $?: $(cat extra.log)"
grep -q "training.step" extra.log || fail "the ungrouped tensors are not named in the log"
$PY - extra.json extra.h5 <<'PY' || fail "extra tensors were not accounted for"
import h5py, json, sys
f = json.load(open(sys.argv[1]))
assert f["format"] == "safetensors", f["format"]
assert sorted(f["ungrouped"]) == ["extra.weight", "training.step"], f["ungrouped"]
a = f["accounting"]
assert a["ungrouped"] == 2 and a["in_groups"] + a["buffers"] + a["ungrouped"] == a["tensors"] == 63, a
assert f["aliases"] == [], f["aliases"]          # safetensors has no sharing: the head is a copy
# the untied head is counted now, the float extra too, the int64 counter is not a parameter
assert f["parameters"] == 293656 + 2000 * 64 + 4, f["parameters"]
h = h5py.File(sys.argv[2], "r")
step = h["model/tensors/training.step"]
assert step.dtype == "int64" and step[0] == 2**53 + 1, (step.dtype, step[()])   # raw: every bit kept
assert step.attrs["format"] == b"raw" and step.attrs["original_dtype"] == b"i64"
assert h["model/tensors/extra.weight"].shape == (2, 2)
assert len(h["model/tensors"]) == 63
assert sorted(x.decode() for x in h["inspect/ungrouped"][()]) == ["extra.weight", "training.step"]
PY

# ---------------------------------------------------------------- config and flags
cat > run.yaml <<YAML
model:
  checkpoint: $MICRO
inspect:
  target_hardware: cpu
targets:
  quality: 10
YAML
"$INSPECT" --config run.yaml --json > cpu.json 2> cpu.log || fail "--config exited $?: $(cat cpu.log)"
"$INSPECT" --config run.yaml --target-hardware edge --quality-constraint 20 --json > edge.json 2>> cpu.log ||
  fail "flags over --config exited $?"
$PY - cpu.json edge.json <<'PY' || fail "config or flags did not steer the recommendation"
import json, sys
cpu = json.load(open(sys.argv[1]))["recommendation"]
edge = json.load(open(sys.argv[2]))["recommendation"]
assert cpu["target_hardware"] == "cpu" and cpu["quality_constraint_pct"] == 10, cpu
assert cpu["quality_class"] == "<10%"
first = [x["technique"] for x in cpu["recommended"]]
assert first[0] in ("fp32", "distillation"), first           # the seed: FP32 or distillation on CPU
assert "mixed-precision" in [x["technique"] for x in cpu["avoided"]]
assert edge["target_hardware"] == "edge" and edge["quality_constraint_pct"] == 20, edge
assert "int8" in [x["technique"] for x in edge["recommended"]][:2], edge["recommended"]  # the seed: INT8 on edge
PY

# ---------------------------------------------------------------- bad input: exit 3, no artifact
expect_exit() { # code what command...
  local want=$1 what=$2 got=0
  shift 2
  "$@" > bad.out 2> bad.log || got=$?
  [ "$got" = "$want" ] || fail "$what: exit $got, want $want ($(cat bad.log))"
  grep -q "error" bad.log || fail "$what: no error message"
  [ ! -e bad.h5 ] || fail "$what: an artifact was left behind"
  ! ls | grep -q '\.tmp\.' || fail "$what: a temporary file was left behind"
}
expect_exit 3 "missing file" "$INSPECT" "$WORK/no-such.pt" --out bad.h5
grep -q "no-such.pt" bad.log || fail "the missing-file message does not name the file"

head -c 600000 "$MICRO" > truncated.pt
expect_exit 3 "truncated checkpoint" "$INSPECT" truncated.pt --out bad.h5

printf 'this is not a checkpoint\n' > notes.txt
expect_exit 3 "text file" "$INSPECT" notes.txt --out bad.h5

# A valid safetensors file whose keys belong to no family.
$PY - random.safetensors <<'PY'
import json, struct, sys
tensors = {"encoder.blob.%d.kernel" % i: [4, 4] for i in range(3)}
header, offset = {}, 0
for name, shape in tensors.items():
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 64]}
    offset += 64
text = json.dumps(header).encode()
with open(sys.argv[1], "wb") as out:
    out.write(struct.pack("<Q", len(text)) + text + bytes(offset))
PY
expect_exit 3 "unknown family" "$INSPECT" random.safetensors --out bad.h5
for want in itera itera-transformer encoder.blob.0.kernel "expects keys" "layers.0.ssm.in_proj.weight"; do
  grep -q "$want" bad.log || fail "the unknown-family message does not mention '$want': $(cat bad.log)"
done
expect_exit 3 "unknown --family" "$INSPECT" "$MICRO" --family mamba9 --out bad.h5
grep -q "itera" bad.log || fail "the unknown --family message does not list the families"

# ---------------------------------------------------------------- usage and config: exit 2
expect_exit 2 "unknown option" "$INSPECT" "$MICRO" --frobnicate --out bad.h5
expect_exit 2 "bad hardware" "$INSPECT" "$MICRO" --target-hardware tpu --out bad.h5
expect_exit 2 "bad quality" "$INSPECT" "$MICRO" --quality-constraint lots --out bad.h5
expect_exit 2 "no checkpoint" "$INSPECT" --out bad.h5
printf 'inspect:\n  target_hardwar: gpu\n' > typo.yaml
expect_exit 2 "unknown config key" "$INSPECT" "$MICRO" --config typo.yaml --out bad.h5
grep -q "typo.yaml:2" bad.log || fail "the config error does not name file:line"

# ---------------------------------------------------------------- odd checkpoints say what they are
# Written by PyTorch itself (tests/reference/make_odd_checkpoints.py) from the micro model.
ODD=$DATA/checkpoints
# A torch dynamic-INT8 model: one message saying what it is, its packed int8 weights read and
# dequantized exactly as PyTorch's Tensor.dequantize(), the family recognised.
"$INSPECT" "$ODD/itera_micro_dynamic_int8.pt" --out dyn.h5 > dyn.txt 2> dyn.log \
  || fail "the dynamic-int8 model: exit $?: $(cat dyn.log)"
[ "$(grep -c 'dynamic-quantized model' dyn.log)" = 1 ] || fail "no single message for the dynamic-int8 model: $(cat dyn.log)"
grep -q "22 Linear layers hold packed int8 weights (per_tensor_affine and per_channel_affine)" dyn.log \
  || fail "the message does not count the packed layers and name their schemes: $(cat dyn.log)"
! grep -q "not a tensor" dyn.log || fail "the packed parameters are reported one by one: $(grep -c 'not a tensor' dyn.log) lines"
$PY - dyn.h5 "$ODD/itera_micro_dynamic_int8.ref.json" <<'PY' || fail "the dequantized int8 weights differ from PyTorch's"
import json, sys, h5py, numpy as np
f, ref = h5py.File(sys.argv[1], "r"), json.load(open(sys.argv[2]))
assert f["inspect"].attrs["parameters"] == 293656, f["inspect"].attrs["parameters"]
def tensor(name):
    group = f["model/tensors"] if "model/tensors" in f else f["model"]
    for key in (name, name.replace(".", "/")):
        if key in group:
            return group[key][()]
    raise KeyError(name)
for name, want in ref["weights"].items():
    w = tensor(name)
    assert list(w.shape) == want["shape"], (name, w.shape)
    assert np.allclose(w.flatten()[:8], want["first"], rtol=0, atol=1e-7), (name, w.flatten()[:8], want["first"])
    assert np.allclose(w.flatten()[-8:], want["last"], rtol=0, atol=1e-7), (name, w.flatten()[-8:], want["last"])
    assert abs(float(w.astype(np.float64).sum()) - want["sum"]) < 1e-4, (name, w.sum(), want["sum"])
schemes = sorted({w["qscheme"] for w in ref["weights"].values()})
assert schemes == ["torch.per_channel_affine", "torch.per_tensor_affine"], schemes
print("dynamic int8: weights equal PyTorch's dequantize() for", len(ref["weights"]), "tensors (per tensor and per channel)")
PY
# A wrapper's "model." on every key: stripped, with a log line.
"$INSPECT" "$ODD/itera_micro_prefixed.pt" --json > prefixed.json 2> prefixed.log \
  || fail "the prefixed model: exit $?: $(cat prefixed.log)"
grep -q "starts with 'model.'.*stripped that prefix, and family itera" prefixed.log \
  || fail "no log line about the stripped prefix: $(cat prefixed.log)"
$PY - prefixed.json <<'PY' || fail "the prefixed model is not the micro model"
import json, sys
f = json.load(open(sys.argv[1]))
assert f["family"] == "itera" and f["parameters"] == 293656, (f["family"], f["parameters"])
PY
# A 'quantization_info' entry: a warning that the weights may be fake-quantized.
"$INSPECT" "$ODD/itera_micro_quant_info.pt" --out qinfo.h5 > /dev/null 2> qinfo.log || fail "quantization_info: exit $?"
grep -q "warning: .*'quantization_info' entry .*may be fake-quantized" qinfo.log \
  || fail "no warning about quantization_info: $(cat qinfo.log)"

echo "test_inspect: all checks passed"
