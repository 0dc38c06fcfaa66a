#!/usr/bin/env python3
"""make_llama2c_tokenizer.py - write a small tokenizer in llama2.c's
tokenizer.bin layout (tests/data/tokenizers/llama2c/tokenizer.bin) for the
tokenizer.bin tests.  Standard library only, deterministic.

    python3 tests/reference/make_llama2c_tokenizer.py

Layout as llama2.c's tokenizer.py writes it from a SentencePiece model
(karpathy/llama2.c, tokenizer.py export): int32 max_token_length, then per
token float32 score, int32 length, bytes.  Ids 0..2 are <unk>, "\\n<s>\\n",
"\\n</s>\\n"; 3..258 the byte tokens <0x00>..<0xFF> (llama2.c's byte fallback
adds 3 to a byte); then single characters (tab, newline, printable ASCII and a
few non-ASCII ones); then the merged tokens of tests/data/bundled/bpe512 in
merge order, as raw bytes.  Scores: 0 for all but the merged tokens; merge r
scores -(r // 2), so pairs of merges tie (llama2.c then takes the leftmost
pair), and the last merge scores -1e10, which llama2.c never merges.
"""
import json
import os
import struct

from gpt2_bytes import unicode_to_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
EXTRA_CHARS = ["é", "’", "—", "“", "”", "日", "本"]


def main():
    with open(os.path.join(DATA, "bundled", "bpe512", "tokenizer.json"), encoding="utf-8") as f:
        bpe = json.load(f)
    decode = unicode_to_bytes()
    tokens = [(b"<unk>", 0.0), (b"\n<s>\n", 0.0), (b"\n</s>\n", 0.0)]
    tokens += [(b"<0x%02X>" % b, 0.0) for b in range(256)]
    singles = [bytes([b]) for b in [9, 10] + list(range(32, 127))] + [c.encode("utf-8") for c in EXTRA_CHARS]
    tokens += [(s, 0.0) for s in singles]
    merges = bpe["model"]["merges"]
    for rank, merge in enumerate(merges):
        merged = bytes(decode[c] for c in merge.replace(" ", ""))
        score = -1e10 if rank == len(merges) - 1 else -float(rank // 2)
        tokens.append((merged, score))
    seen = set()
    for text, _ in tokens:
        assert text not in seen, text
        seen.add(text)
    out = os.path.join(DATA, "tokenizers", "llama2c", "tokenizer.bin")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        f.write(struct.pack("<i", max(len(t) for t, _ in tokens)))
        for text, score in tokens:
            f.write(struct.pack("<fi", score, len(text)))
            f.write(text)
    print(f"{out}: {len(tokens)} tokens")


if __name__ == "__main__":
    main()
