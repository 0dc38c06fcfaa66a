#!/usr/bin/env bash
# llama2c_goldens.sh - golden encodings for squeeze's tokenizer.bin tests, made
# by llama2.c's own encode()/decode() (run.c), run by hand, never by CI:
#
#   git clone https://github.com/karpathy/llama2.c /tmp/llama2.c   # tested at 350e04f
#   LLAMA2C_DIR=/tmp/llama2.c tests/reference/llama2c_goldens.sh [tokenizer.bin]
#
# Writes tests/data/tokenizers/goldens/llama2c.txt.gz: for each chunk of each
# text (whole lines up to 1024 bytes; run.c's merge loop is quadratic)
# "chunk <file> <offset> <length> <ids> <sha256 of the decoded text>", then
# the ids.  The tokenizer defaults to tests/data/tokenizers/llama2c/tokenizer.bin
# (tests/reference/make_llama2c_tokenizer.py); with another file the goldens go
# to stdout instead.
set -euo pipefail
: "${LLAMA2C_DIR:?set LLAMA2C_DIR to a checkout of karpathy/llama2.c}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=$ROOT/tests/data
TOKENIZER=${1:-$DATA/tokenizers/llama2c/tokenizer.bin}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
gcc -O2 -I"$LLAMA2C_DIR" -o "$WORK/ref" "$ROOT/tests/reference/llama2c_encode_ref.c" -lm -lcrypto
# llama2.c does not store the vocabulary size: count the records.
VOCAB=$(python3 - "$TOKENIZER" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read(); o = 4; n = 0
while o < len(d):
    o += 8 + struct.unpack_from("<i", d, o + 4)[0]; n += 1
print(n)
PY
)
{
  echo "# llama2c: encodings by llama2.c run.c encode(bos=1, eos=0) ($(git -C "$LLAMA2C_DIR" rev-parse --short HEAD)), $VOCAB tokens"
  for name in bundled/austen_val.txt tokenizers/texts/code.txt tokenizers/texts/cjk.txt tokenizers/texts/edge_cases.txt \
              tokenizers/texts/whitespace.txt tokenizers/texts/unicode_mix.txt; do
    "$WORK/ref" "$TOKENIZER" "$VOCAB" "$name" "$DATA/$name"
  done
} > "$WORK/goldens.txt"
if [ $# -eq 0 ]; then
  gzip -9n < "$WORK/goldens.txt" > "$DATA/tokenizers/goldens/llama2c.txt.gz"
  awk '/^chunk/ {c[$2]++; t[$2] += $5} END {for (f in c) print f, c[f], "chunks,", t[f], "ids"}' "$WORK/goldens.txt"
else
  cat "$WORK/goldens.txt"
fi
