#!/usr/bin/env bash
# test_tokenizers.sh - the stages with tokenizer.json and tokenizer.bin files:
# a bundled byte-level model evaluated through a tokenizer.json that maps to
# its byte ids; bad tokenizer files and tokenizers whose vocabulary does not fit
# the model refused by evaluate and calibrate with exit 3, a message naming the
# file (and both numbers), and no artifact.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MODEL=$DATA/bundled/transformer_tiny_bytes.safetensors
BROKEN=$DATA/tokenizers/broken
cd "$WORK"
sq_mpi_env

head -c 20000 "$DATA/bundled/austen_val.txt" > val.txt

config() { # file tokenizer
  cat > "$1" <<YAML
model:
  checkpoint: $MODEL
data:
  tokenizer: $2
  evaluation: {path: $WORK/val.txt, format: text}
  calibration: {path: $WORK/val.txt, format: text}
evaluate: {window_length: 64, stride: 64, scoring: all}
calibrate: {window_length: 64, windows: 4}
YAML
}

# A tokenizer.json with no merges whose vocabulary is GPT-2's byte alphabet in
# byte order: it gives every byte its own id, as the bundled models were trained.
python3 - <<'PY'
import json
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
char = dict(zip(bs, cs))
level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
json.dump({"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": level,
           "post_processor": level, "decoder": level,
           "model": {"type": "BPE", "vocab": {chr(char[b]): b for b in range(256)}, "merges": []}},
          open("bytes_tokenizer.json", "w"), ensure_ascii=False)
PY

echo "== a tokenizer.json that encodes as bytes gives the bytes tokenizer's perplexity"
config bytes.yaml bytes
config json.yaml "$WORK/bytes_tokenizer.json"
"$BUILD/squeeze-evaluate" --config bytes.yaml --model "$MODEL" --out bytes.h5 --json > bytes.json 2> bytes.log \
  || { cat bytes.log >&2; fail "evaluate with the bytes tokenizer"; }
"$BUILD/squeeze-evaluate" --config json.yaml --model "$MODEL" --out json.h5 --json > json.json 2> json.log \
  || { cat json.log >&2; fail "evaluate with the tokenizer.json"; }
ppl() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["perplexity"])' "$1"; }
a=$(ppl bytes.json) b=$(ppl json.json)
[ "$a" = "$b" ] || fail "perplexity $a with bytes but $b with the equivalent tokenizer.json"

echo "== bad tokenizers: exit 3, the file named, no artifact"
for stage in evaluate calibrate; do
  config big.yaml "$DATA/bundled/bpe512/tokenizer.json"
  expect 3 "bpe512/tokenizer.json' has 512 ids (0..511) but model .*embedding has 256 rows" bad.h5 \
    "$BUILD/squeeze-$stage" --config big.yaml --model "$MODEL" --out bad.h5
  config bin.yaml "$DATA/tokenizers/llama2c/tokenizer.bin"
  expect 3 "tokenizer.bin' lists 618 tokens but model .* declares a vocabulary of 256" bad.h5 \
    "$BUILD/squeeze-$stage" --config bin.yaml --model "$MODEL" --out bad.h5
  for case in "not_json.json:not valid JSON at line 3" "unknown_model.json:model type \"Unigram\"" \
              "merge_unknown_token.json:names \"c\", which is not in the vocabulary" \
              "truncated_tokenizer.bin:run past the end of the file"; do
    file=${case%%:*} pattern=${case#*:}
    config broken.yaml "$BROKEN/$file"
    expect 3 "$BROKEN/$file.*$pattern" bad.h5 "$BUILD/squeeze-$stage" --config broken.yaml --model "$MODEL" --out bad.h5
  done
done
echo "PASS"
