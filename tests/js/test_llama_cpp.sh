#!/usr/bin/env bash
# test_llama_cpp.sh - squeeze's exports checked live by the reference runtimes in tests/js/node_modules
# (registered by CMake only when scripts/setup.sh installed them; their committed outputs are checked
# without npm by tests/integration/test_gguf_llama.sh):
#  - llama.cpp (node-llama-cpp's prebuilt CPU libraries, never downloaded or built) loads the bundled
#    Llama exported as F32, F16, Q8_0 and Q4_0 (and the widened Llama of make_llama_wide.py as Q4_K
#    and Q6_K), and its mean NLL over 8 windows of 64 tokens (context 65, F32 KV cache) equals
#    squeeze's evaluation of the same variant (packed kernels) within 1e-4 relative for F32/F16,
#    1e-5 for Q4_0, 1e-4 for Q8_0 and 3e-4 for Q4_K/Q6_K (docs/export.md says why);
#  - ggml's own quantize_row_*_ref (libggml-base.so of the same package) writes the bytes committed
#    in tests/data/quant/ggml, which squeeze's formats reproduce (test_quant_ggml);
#  - @huggingface/gguf parses every GGUF squeeze exports (these four, Q4_K/Q6_K/Q4_1 llama files and
#    an itera file) with the tensor names, shapes and types squeeze wrote.
set -euo pipefail
. "$(dirname "$0")/../integration/lib.sh"
JS=$(cd "$(dirname "$0")" && pwd)
MODEL=$DATA/bundled/llama_tiny/model.safetensors
[ -d "$JS/node_modules/node-llama-cpp" ] || fail "tests/js/node_modules is missing: run scripts/setup.sh"

$PY "$JS/../reference/ggml_libggml_check.py" \
  "$JS/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so" || fail "ggml's reference quantizers"

llama_cpp_configs "$MODEL" "$WORK/tokens.u16"
for f in fp32 fp16 q8_0 q4_0 q4_k q6_k q4_1; do
  echo "default: $f" > "$WORK/$f.yaml"
  "$BUILD/squeeze-compress" --config "$WORK/export.yaml" --model "$MODEL" --map "$WORK/$f.yaml" \
    --out "$WORK/$f.h5" 2> "$WORK/$f.log" || { cat "$WORK/$f.log"; fail "compress $f"; }
  "$BUILD/squeeze-export" --config "$WORK/export.yaml" --model "$WORK/$f.h5" --format gguf --out "$WORK/$f.gguf" \
    2>> "$WORK/$f.log" || { cat "$WORK/$f.log"; fail "export $f"; }
done
# an itera GGUF too (squeeze's own architecture: parsed, not run)
cat > "$WORK/itera.yaml" <<EOF
model:
  checkpoint: $DATA/bundled/itera_tiny_bytes.safetensors
data:
  tokenizer: bytes
EOF
"$BUILD/squeeze-export" --config "$WORK/itera.yaml" --model "$DATA/bundled/itera_tiny_bytes.safetensors" \
  --format gguf --out "$WORK/itera.gguf" 2> "$WORK/itera.log" || { cat "$WORK/itera.log"; fail "export itera"; }

# the same tokens for both: llama.cpp's tokenization of the validation text with the exported tokenizer
(cd "$JS" && node tokenize.mjs "$WORK/fp32.gguf" "$DATA/bundled/austen_val.txt" 4000 "$WORK/tokens.u16") > /dev/null
for f in fp32 fp16 q8_0 q4_0; do
  (cd "$JS" && node llama_nll.mjs "$WORK/$f.gguf" "$WORK/tokens.u16" 64 8) > "$WORK/$f.llama.json" \
    || fail "llama.cpp could not run $f.gguf"
  "$BUILD/squeeze-evaluate" --config "$WORK/eval.yaml" --model "$WORK/$f.h5" --out "$WORK/ev_$f.h5" --json \
    > "$WORK/$f.squeeze.json" 2> "$WORK/ev_$f.log" || { cat "$WORK/ev_$f.log"; fail "evaluate $f"; }
done
# the widened Llama (rows of whole 256-value super-blocks) as Q4_K and Q6_K: llama.cpp against
# squeeze's packed k-quant kernels (Q8_K activations, as ggml)
/usr/bin/python3 "$JS/../reference/make_llama_wide.py" "$WORK/wide"
sed -e "s#$MODEL#$WORK/wide/model.safetensors#" "$WORK/export.yaml" > "$WORK/wide.export.yaml"
for f in q4_k q6_k; do
  "$BUILD/squeeze-compress" --config "$WORK/wide.export.yaml" --model "$WORK/wide/model.safetensors" \
    --map "$WORK/$f.yaml" --out "$WORK/wide_$f.h5" 2> "$WORK/wide_$f.log" || { cat "$WORK/wide_$f.log"; fail "compress wide $f"; }
  "$BUILD/squeeze-export" --config "$WORK/wide.export.yaml" --model "$WORK/wide_$f.h5" --format gguf \
    --out "$WORK/wide_$f.gguf" 2>> "$WORK/wide_$f.log" || { cat "$WORK/wide_$f.log"; fail "export wide $f"; }
  (cd "$JS" && node llama_nll.mjs "$WORK/wide_$f.gguf" "$WORK/tokens.u16" 64 8) > "$WORK/wide_$f.llama.json" \
    || fail "llama.cpp could not run wide_$f.gguf"
  "$BUILD/squeeze-evaluate" --config "$WORK/eval.yaml" --model "$WORK/wide_$f.h5" --out "$WORK/ev_wide_$f.h5" --json \
    > "$WORK/wide_$f.squeeze.json" 2> "$WORK/ev_wide_$f.log" || { cat "$WORK/ev_wide_$f.log"; fail "evaluate wide $f"; }
done
for g in fp32 fp16 q8_0 q4_0 q4_k q6_k q4_1 itera; do
  (cd "$JS" && node parse_gguf.mjs "$WORK/$g.gguf") > "$WORK/$g.parse.json" || fail "@huggingface/gguf cannot parse $g.gguf"
done

$PY - "$WORK" <<'EOF'
import json, os, sys
import h5py
work = sys.argv[1]
bad = []
def check(c, what):
    print(("ok   " if c else "FAIL ") + what)
    if not c: bad.append(what)
for f, tol in {"fp32": 1e-4, "fp16": 1e-4, "q8_0": 1e-4, "q4_0": 1e-5, "wide_q4_k": 3e-4, "wide_q6_k": 3e-4}.items():
    l = json.load(open(os.path.join(work, f + ".llama.json"))); s = json.load(open(os.path.join(work, f + ".squeeze.json")))
    rel = abs(l["mean_nll"] - s["mean_nll"]) / l["mean_nll"]
    check(l["scored_tokens"] == s["scored_tokens"] and rel <= tol,
          f"{f}: llama.cpp {l['mean_nll']:.9f} squeeze {s['mean_nll']:.9f} over {s['scored_tokens']} tokens: rel {rel:.2e} <= {tol:g}")
GGML = {"Q8_0": 8, "Q4_0": 2, "Q4_1": 3, "Q4_K": 12, "Q6_K": 14, "F32": 0, "F16": 1}
for g in ["fp32", "fp16", "q8_0", "q4_0", "q4_k", "q6_k", "q4_1", "itera"]:
    p = json.load(open(os.path.join(work, g + ".parse.json")))
    rec = json.load(open(os.path.join(work, g + ".gguf.export.json")))
    written = {r["target"]: r for r in rec["tensor_log"] if r["target"]}
    got = {t["name"]: t for t in p["tensors"]}
    check(set(got) == set(written), f"{g}: @huggingface/gguf lists the {len(written)} tensors squeeze wrote")
    check(all(GGML[written[n]["stored_as"].upper()] == got[n]["dtype"] for n in got if written[n]["stored_as"].upper() in GGML),
          f"{g}: every tensor has the ggml type squeeze recorded")
    check(p["metadata"]["general.architecture"] == ("itera" if g == "itera" else "llama"), f"{g}: architecture")
if bad:
    sys.exit(1)
EOF
echo PASS
