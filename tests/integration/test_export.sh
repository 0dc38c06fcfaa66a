#!/usr/bin/env bash
# test_export.sh - squeeze-export on the bundled Itera model compressed with ggml formats:
# the GGUF is laid out as the format's definition says (parsed here in Python, independently of
# squeeze's reader), its block tensors are the model artifact's bytes, squeeze reads it back with
# identical tensors and the same NLL; the safetensors folder holds every tensor (parsed from the
# format's definition) with the values squeeze computes with; the record's sha256 and bytes are
# the file's; bad inputs exit 2/3 naming what is wrong and leave no file.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MODEL=$DATA/bundled/itera_tiny_bytes.safetensors

cat > "$WORK/run.yaml" <<EOF
model:
  checkpoint: $MODEL
data:
  tokenizer: bytes
  evaluation: $DATA/bundled/austen_val.txt
evaluate:
  window_length: 64
  max_windows: 6
  kernels: dequantized   # both files through fp32 weights: the same NLL to the last bit
EOF
cat > "$WORK/map.yaml" <<'EOF'
rules:
  - pattern: "layers.*.ssm.in_proj.weight"
    format: q8_0
  - pattern: "layers.*.ssm.ssm.delta_proj.weight"
    format: q4_k
  - pattern: "layers.*.ssm.out_proj.weight"
    format: q6_k
  - pattern: "layers.*.moe.**.w1.weight"
    format: q4_0
  - pattern: "layers.*.moe.**.w2.weight"
    format: nf4
default: fp16
EOF

"$BUILD/squeeze-export" --help | grep -q "exit status" || fail "--help"
"$BUILD/squeeze-compress" --config "$WORK/run.yaml" --model "$MODEL" --map "$WORK/map.yaml" \
  --out "$WORK/model.h5" 2> "$WORK/compress.log" || { cat "$WORK/compress.log"; fail compress; }
"$BUILD/squeeze-export" --config "$WORK/run.yaml" --model "$WORK/model.h5" --format gguf \
  --out "$WORK/model.gguf" --record "$WORK/record.json" --variant mixed 2> "$WORK/export.log" \
  || { cat "$WORK/export.log"; fail "export gguf"; }
grep -q "copied" "$WORK/export.log" || fail "export logged no counts"
"$BUILD/squeeze-export" --config "$WORK/run.yaml" --model "$WORK/model.h5" --format safetensors \
  --out "$WORK/st" 2> "$WORK/export_st.log" || { cat "$WORK/export_st.log"; fail "export safetensors"; }

# The same NLL and the same tensors, read back from the GGUF.
for m in model.h5 model.gguf; do
  "$BUILD/squeeze-evaluate" --config "$WORK/run.yaml" --model "$WORK/$m" --out "$WORK/ev_$m.h5" --json \
    > "$WORK/ev_$m.json" 2> "$WORK/ev_$m.log" || { cat "$WORK/ev_$m.log"; fail "evaluate $m"; }
done

$PY - "$WORK" <<'EOF'
import hashlib, json, os, struct, sys
import h5py, numpy as np
work = sys.argv[1]
bad = []
def check(c, what):
    if not c: bad.append(what)

# ---- GGUF, parsed from the format's definition (ggml docs/gguf.md) ----
blob = open(os.path.join(work, "model.gguf"), "rb").read()
at = 0
def take(fmt):
    global at
    v = struct.unpack_from("<" + fmt, blob, at); at += struct.calcsize("<" + fmt); return v[0]
def string():
    global at
    n = take("Q"); s = blob[at:at + n].decode(); at += n; return s
SIZES = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
def value(t):
    if t == 8: return string()
    if t == 9:
        et, n = take("I"), take("Q"); return [value(et) for _ in range(n)]
    return take(SIZES[t])
check(blob[:4] == b"GGUF", "magic"); at = 4
check(take("I") == 3, "version 3")
n_tensors, n_kv = take("q"), take("q")
kv = {}
for _ in range(n_kv):
    k = string(); t = take("I"); kv[k] = (t, value(t))
check(kv["general.architecture"] == (8, "itera"), "architecture itera")
check(kv["general.alignment"] == (4, 32), "general.alignment u32 32")
check(kv["general.name"][1] == "mixed", "general.name is the variant")
infos = []
for _ in range(n_tensors):
    name = string(); nd = take("I"); ne = [take("q") for _ in range(nd)]; t = take("I"); off = take("Q")
    infos.append((name, ne, t, off))
data0 = (at + 31) // 32 * 32
check(all(off % 32 == 0 for _, _, _, off in infos), "offsets aligned to 32")
BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34), 2: (32, 18), 3: (32, 20), 12: (256, 144), 14: (256, 210)}
types = {}
for name, ne, t, off in infos:
    qk, bb = BLOCK[t]
    nbytes = ne[0] // qk * bb * int(np.prod(ne[1:], dtype=np.int64))
    check(data0 + off + nbytes <= len(blob), f"{name} inside the file")
    types[name] = (t, blob[data0 + off:data0 + off + nbytes], ne)

with h5py.File(os.path.join(work, "model.h5"), "r") as f:
    tensors = f["model/tensors"]
    names = [n for n in tensors]
    check(set(names) == set(types), f"every tensor written once: {set(names) ^ set(types)}")
    for n in names:
        obj = tensors[n]
        fmt = obj.attrs["format"]
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        t, payload, ne = types[n]
        shape = list(obj.attrs["shape"])
        check(ne == shape[::-1], f"{n}: ne {ne} is the reversed shape {shape}")
        if fmt in ("q8_0", "q4_0", "q4_1", "q4_k", "q6_k"):
            want = {"q8_0": 8, "q4_0": 2, "q4_1": 3, "q4_k": 12, "q6_k": 14}[fmt]
            check(t == want, f"{n}: {fmt} stored as ggml type {t}")
            check(payload == obj["blocks"][()].tobytes(), f"{n}: GGUF bytes are the stored blocks")
        elif fmt == "fp16":
            check(t == 1 and payload == obj[()].tobytes(), f"{n}: fp16 copied as F16")
        elif fmt == "fp32":
            check(t == 0 and payload == obj[()].astype("<f4").tobytes(), f"{n}: fp32 copied as F32")
        elif fmt == "nf4":
            check(t == 0, f"{n}: nf4 converted to F32")

rec = json.load(open(os.path.join(work, "record.json")))
check(rec["sha256"] == hashlib.sha256(blob).hexdigest(), "record sha256 is the file's")
check(rec["bytes_on_disk"] == len(blob), "record bytes_on_disk is the file's size")
check(rec["copied"] + rec["converted"] + rec["not_written"] == rec["tensors"] == len(names), "record counts")
check(rec["converted"] == sum(1 for r in rec["tensor_log"] if r["format"] == "nf4"), "nf4 tensors converted")
check("squeeze only" in rec["readers"], "record says no other runtime reads itera")

# ---- evaluation through the GGUF: same tensors, same NLL ----
a = json.load(open(os.path.join(work, "ev_model.h5.json"))); b = json.load(open(os.path.join(work, "ev_model.gguf.json")))
check(a["model_tensors_sha256"] == b["model_tensors_sha256"], "GGUF reads back the same tensors")
check(a["mean_nll"] == b["mean_nll"], f"same NLL {a['mean_nll']} vs {b['mean_nll']}")

# ---- safetensors folder, parsed from the format's definition ----
st = open(os.path.join(work, "st", "model.safetensors"), "rb").read()
n = struct.unpack("<Q", st[:8])[0]; header = json.loads(st[8:8 + n])
cfg = json.load(open(os.path.join(work, "st", "config.json")))
check(cfg["model_type"] == "itera", "config.json model_type")
with h5py.File(os.path.join(work, "ev_model.h5.h5"), "r") as f:
    pass
check(set(k for k in header if k != "__metadata__") == set(names), "safetensors holds every tensor")
dt = {"F32": "<f4", "F16": "<f2"}
with h5py.File(os.path.join(work, "model.h5"), "r") as f:
    for k, info in header.items():
        if k == "__metadata__": continue
        a0, a1 = info["data_offsets"]
        arr = np.frombuffer(st[8 + n + a0:8 + n + a1], dtype=dt[info["dtype"]]).reshape(info["shape"])
        fmt = f["model/tensors"][k].attrs["format"]
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        check(info["dtype"] == ("F16" if fmt == "fp16" else "F32"), f"{k}: {fmt} as {info['dtype']}")
        if fmt == "fp16":
            check(np.array_equal(arr, f["model/tensors"][k][()].view("<f2")), f"{k}: fp16 values kept")
if bad:
    print("FAIL:", *bad, sep="\n  "); sys.exit(1)
print("export checks passed:", len(names), "tensors")
EOF

# Bad input: a family GGUF cannot hold is named with the format; an unknown format is a usage error;
# a model that is not a model is refused; nothing is left behind.
set +e
"$BUILD/squeeze-export" --config "$WORK/run.yaml" --model "$WORK/model.h5" --format onnx --out "$WORK/x.onnx" 2> "$WORK/e1.log"
rc=$?; [ $rc -eq 2 ] || fail "unknown format exit $rc"
grep -q "onnx" "$WORK/e1.log" || fail "unknown format message"
"$BUILD/squeeze-export" --config "$WORK/run.yaml" --model "$WORK/ev_model.h5.h5" --format gguf --out "$WORK/x.gguf" 2> "$WORK/e2.log"
rc=$?; [ $rc -eq 3 ] || fail "evaluation artifact as model: exit $rc"
grep -q "evaluation" "$WORK/e2.log" || fail "wrong-kind message"
head -c 1000 "$WORK/model.gguf" > "$WORK/cut.gguf"
"$BUILD/squeeze-evaluate" --config "$WORK/run.yaml" --model "$WORK/cut.gguf" --out "$WORK/x.h5" 2> "$WORK/e3.log"
rc=$?; [ $rc -eq 3 ] || fail "truncated GGUF: exit $rc"
grep -q "cut.gguf" "$WORK/e3.log" || { cat "$WORK/e3.log"; fail "truncated GGUF message names the file"; }
set -e
# The driver step: `squeeze export CONFIG` exports the report's recommendation into the run folder.
cat > "$WORK/q8.yaml" <<'EOF2'
default: q8_0
EOF2
cat > "$WORK/q4k.yaml" <<'EOF2'
default: q4_k
EOF2
austen_config "$WORK/drive.yaml" "$DATA/bundled/itera_tiny_bytes.pt" 0.01 0.1
cat >> "$WORK/drive.yaml" <<EOF2
run: drive
output_root: $WORK/results
calibrate:
  windows: 2
  window_length: 32
evaluate:
  window_length: 64
  max_windows: 4
targets:
  compression: 1.5
  quality: 50
sweep:
  grid:
    compress.recipe: [$WORK/q8.yaml, $WORK/q4k.yaml]
  names: [q8, q4k]
EOF2
"$BUILD/squeeze" run "$WORK/drive.yaml" > "$WORK/drive.log" 2>&1 || { cat "$WORK/drive.log"; fail "squeeze run"; }
rec=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["recommended"])' "$WORK/results/drive/report/report.json")
"$BUILD/squeeze" export "$WORK/drive.yaml" > "$WORK/drive_export.out" 2> "$WORK/drive_export.log" \
  || { cat "$WORK/drive_export.log"; fail "squeeze export"; }
[ -s "$WORK/results/drive/export/$rec/drive-$rec.gguf" ] || fail "squeeze export did not write the recommended $rec"
grep -q "\"variant\": \"$rec\"" "$WORK/results/drive/export/$rec/export-gguf.json" || fail "record names the variant"
"$BUILD/squeeze" export "$WORK/drive.yaml" --format safetensors > /dev/null 2> "$WORK/drive_export_st.log" \
  || { cat "$WORK/drive_export_st.log"; fail "squeeze export --format safetensors"; }
# The report, rewritten by each export, shows a section per exported file with its record's numbers.
$PY - "$WORK/results/drive" "$rec" <<'EOF2' || fail "the report's exports section"
import hashlib, json, os, sys
run, rec = sys.argv[1], sys.argv[2]
report = json.load(open(os.path.join(run, "report", "report.json")))
md = open(os.path.join(run, "report", "report.md")).read()
html = open(os.path.join(run, "report", "report.html")).read()
bad = []
exports = {(e["variant"], e["format"]): e for e in report["exports"]}
if set(exports) != {(rec, "gguf"), (rec, "safetensors")}: bad.append(f"report.json exports {sorted(exports)}")
for fmt in ("gguf", "safetensors"):
    record = json.load(open(os.path.join(run, "export", rec, f"export-{fmt}.json")))
    e = exports.get((rec, fmt), {})
    data = open(record["file"], "rb").read()
    for k in ("sha256", "bytes_on_disk", "tensor_bytes", "tensors", "copied", "converted", "not_written", "file"):
        if e.get(k) != record[k]: bad.append(f"{fmt}: report.json {k} {e.get(k)} != record {record[k]}")
    if record["sha256"] != hashlib.sha256(data).hexdigest() or record["bytes_on_disk"] != len(data):
        bad.append(f"{fmt}: the record is not the file")
    counted = {}
    for row in record["tensor_log"]:
        if row["target"] and row["conversion"]: counted[row["conversion"]] = counted.get(row["conversion"], 0) + 1
    shown = {c["conversion"]: c["tensors"] for c in e.get("conversions", [])}
    if any(counted.get(c) != n for c, n in shown.items()) or sum(shown.values()) + e.get("other_conversions", 0) != record["converted"]:
        bad.append(f"{fmt}: conversions {shown} vs the record's {counted}")
    if f"### {rec} as {fmt}" not in md or record["sha256"] not in md or f"{record['bytes_on_disk']} bytes on disk" not in md:
        bad.append(f"{fmt}: report.md has no section with the record's sha256 and bytes")
    if f'data-variant="{rec}" data-format="{fmt}"' not in html or record["sha256"] not in html:
        bad.append(f"{fmt}: report.html has no card for the export")
    if "present with the recorded size" not in e.get("file_state", ""): bad.append(f"{fmt}: file state {e.get('file_state')}")
print("\n".join(bad) or "report shows both exports")
sys.exit(1 if bad else 0)
EOF2
set +e
"$BUILD/squeeze" export "$WORK/drive.yaml" --variant nosuch 2> "$WORK/e4.log"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "q8, q4k" "$WORK/e4.log" || { cat "$WORK/e4.log"; fail "unknown variant: exit $rc, names the variants"; }

ls "$WORK" | grep -q "tmp" && fail "a temporary file was left: $(ls "$WORK")"
[ ! -e "$WORK/x.gguf" ] && [ ! -e "$WORK/x.onnx" ] || fail "a partial export was left"
echo "PASS"
