#!/usr/bin/env bash
# make_llama_cpp_golden.sh - llama.cpp's own numbers for squeeze's GGUF exports of the bundled Llama,
# committed so that tests/integration/test_gguf_llama.sh checks squeeze against llama.cpp without npm.
#
#   tests/reference/make_llama_cpp_golden.sh BUILD_DIR
#
# Needs tests/js/node_modules (scripts/setup.sh with Node.js >= 20). For the bundled Llama as F32,
# F16, Q8_0 and Q4_0, the bundled Mamba as F32 and Q8_0, and the widened Llama whose rows are whole
# k-quant super-blocks (tests/reference/make_llama_wide.py) as F32, Q4_K, Q6_K and a Q4_K_M-like mix
# (tests/data/gguf/llama_wide_mix.yaml), and a random Mamba-2 with the bundled tokenizer
# (tests/reference/make_mamba2_vocab512.py) as F32 and Q8_0: compresses the model with `default: <format>` (or the mix),
# exports the GGUF (general.name "llama_tiny" / "mamba_tiny" / "llama_wide"), and records
# its sha256 (the golden applies to exactly these bytes), what
# @huggingface/gguf parses, and llama.cpp's NLL per window (tests/js/llama_nll.mjs: window 64,
# context 65, F32 KV cache) on the first tokens of tests/data/bundled/austen_val.txt as llama.cpp
# tokenizes them with the exported tokenizer (tests/js/tokenize.mjs) -> tests/data/gguf/.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: make_llama_cpp_golden.sh BUILD_DIR}" && pwd)
DATA=$SRC/tests/data
OUT=$DATA/gguf
JS=$SRC/tests/js
[ -d "$JS/node_modules/node-llama-cpp" ] || { echo "tests/js/node_modules missing: run scripts/setup.sh" >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$OUT"
CASES="fp32 fp16 q8_0 q4_0 mamba_fp32 mamba_q8_0 mamba2_fp32 mamba2_q8_0 wide_fp32 wide_q4_k wide_q6_k wide_mix"
/usr/bin/python3 "$SRC/tests/reference/make_llama_wide.py" "$W/llama_wide"
/usr/bin/python3 "$SRC/tests/reference/make_mamba2_vocab512.py" "$W/mamba2"
for c in $CASES; do
  case $c in
    mamba_*) m=mamba_tiny; f=${c#mamba_}; ckpt=$DATA/bundled/mamba_tiny/model.safetensors ;;
    mamba2_*) m=mamba2_random; f=${c#mamba2_}; ckpt=$W/mamba2/model.safetensors ;;
    wide_*) m=llama_wide; f=${c#wide_}; ckpt=$W/llama_wide/model.safetensors ;;
    *) m=llama_tiny; f=$c; ckpt=$DATA/bundled/llama_tiny/model.safetensors ;;
  esac
  cat > "$W/$c.export.yaml" <<EOF2
run: $m
model:
  checkpoint: $ckpt
data:
  tokenizer: $DATA/bundled/bpe512/tokenizer.json
EOF2
  if [ "$f" = mix ]; then cp "$DATA/gguf/llama_wide_mix.yaml" "$W/$c.yaml"; else echo "default: $f" > "$W/$c.yaml"; fi
  "$BUILD/squeeze-compress" --config "$W/$c.export.yaml" --model "$ckpt" \
    --map "$W/$c.yaml" --out "$W/$c.h5" 2> "$W/$c.log"
  "$BUILD/squeeze-export" --config "$W/$c.export.yaml" --model "$W/$c.h5" --format gguf --out "$W/$c.gguf" \
    --variant $m 2>> "$W/$c.log"
done
(cd "$JS" && node tokenize.mjs "$W/fp32.gguf" "$DATA/bundled/austen_val.txt" 4000 "$OUT/austen_val_4000.u16") >&2
for f in $CASES; do
  (cd "$JS" && node llama_nll.mjs "$W/$f.gguf" "$OUT/austen_val_4000.u16" 64 8) > "$W/$f.nll.json"
  (cd "$JS" && node parse_gguf.mjs "$W/$f.gguf") > "$W/$f.parse.json"
done
/usr/bin/python3 - "$W" "$OUT/llama_cpp_reference.json" $CASES <<'EOF2'
import hashlib, json, sys
w, out, cases = sys.argv[1], sys.argv[2], sys.argv[3:]
ref = {"origin": "tests/reference/make_llama_cpp_golden.sh: llama.cpp via node-llama-cpp 3.22.1 "
                 "(@node-llama-cpp/linux-x64 prebuilt CPU libraries), @huggingface/gguf 0.4.6",
       "tokens": "austen_val_4000.u16", "window_length": 64, "windows": 8, "types": {}}
for f in cases:
    blob = open(f"{w}/{f}.gguf", "rb").read()
    nll = json.load(open(f"{w}/{f}.nll.json"))
    parse = json.load(open(f"{w}/{f}.parse.json"))
    ref["types"][f] = {"gguf_sha256": hashlib.sha256(blob).hexdigest(), "gguf_bytes": len(blob),
                       "llama_cpp_mean_nll": nll["mean_nll"], "scored_tokens": nll["scored_tokens"],
                       "llama_cpp_window_nll_sums": [x["nll_sum"] for x in nll["per_window"]],
                       "huggingface_gguf": {"architecture": parse["metadata"]["general.architecture"],
                                            "tensors": {t["name"]: [t["shape"], t["dtype"]] for t in parse["tensors"]}}}
json.dump(ref, open(out, "w"), indent=1)
print(json.dumps({f: v["llama_cpp_mean_nll"] for f, v in ref["types"].items()}))
EOF2
