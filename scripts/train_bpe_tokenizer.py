#!/usr/bin/env python3
"""train_bpe_tokenizer.py - train a small GPT-2-style byte-level BPE tokenizer
and write it as a Hugging Face tokenizer.json (standard library only).

    scripts/train_bpe_tokenizer.py [--vocab 512] [--train tests/data/bundled/austen_train.txt]
                                   [--out tests/data/bundled/bpe512/tokenizer.json]

The file it writes is the same shape as GPT-2's tokenizer.json
(https://huggingface.co/openai-community/gpt2/blob/main/tokenizer.json):
a BPE model over GPT-2's byte-to-unicode alphabet, a ByteLevel pre-tokenizer
with GPT-2's regex (use_regex: true, no prefix space), ByteLevel post-processor
and decoder, merges as "a b" strings in rank order, and one special token
<|endoftext|> as the last id.  Ids 0..255 are the 256 bytes in byte order (id b
is byte b), so a byte-level model's ids carry over; ids 256.. are the merges,
in the order they were learned; the special token comes last.

Training is the textbook algorithm (Sennrich et al. 2016, "Neural Machine
Translation of Rare Words with Subword Units", as in GPT-2): pre-tokenize the
text into chunks, count them, and repeatedly merge the most frequent adjacent
pair of symbols inside the chunks.  Ties go to the pair whose symbols come first
in id order, so the result is deterministic.  Python's re module has no \\p{L}
or \\p{N}, so training splits with the nearest standard-library classes
(letters = [^\\W\\d_], numbers = \\d); that only shapes which merges are learnt,
the tokenizer itself is defined by the file (GPT-2's exact regex).
"""
import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "reference"))
from gpt2_bytes import CHUNK, bytes_to_unicode  # noqa: E402

SPECIAL = "<|endoftext|>"


def train(text, n_merges):
    words = collections.Counter(chunk.encode("utf-8") for chunk in CHUNK.findall(text))
    # Each distinct chunk as a list of symbol ids (bytes first), with its count.
    corpus = [(list(word), count) for word, count in words.items()]
    merges = []
    next_id = 256
    for _ in range(n_merges):
        pairs = collections.Counter()
        for symbols, count in corpus:
            for a, b in zip(symbols, symbols[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        a, b = best
        for symbols, _count in corpus:
            i = 0
            while i < len(symbols) - 1:
                if symbols[i] == a and symbols[i + 1] == b:
                    symbols[i:i + 2] = [next_id]
                i += 1
        next_id += 1
    return merges


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab", type=int, default=512, help="vocabulary size, special token included")
    parser.add_argument("--train", default=os.path.join(root, "tests/data/bundled/austen_train.txt"))
    parser.add_argument("--out", default=os.path.join(root, "tests/data/bundled/bpe512/tokenizer.json"))
    args = parser.parse_args()
    if args.vocab < 258:
        sys.exit("--vocab must be at least 258 (256 bytes, one merge, the special token)")

    with open(args.train, encoding="utf-8") as f:
        text = f.read()
    merges = train(text, args.vocab - 256 - 1)

    byte_char = bytes_to_unicode()
    strings = [byte_char[b] for b in range(256)]
    for a, b in merges:
        strings.append(strings[a] + strings[b])
    vocab = {s: i for i, s in enumerate(strings)}
    if len(vocab) != len(strings):
        sys.exit("internal error: two merges produced the same token")
    special_id = len(strings)
    vocab[SPECIAL] = special_id

    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": special_id, "content": SPECIAL, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": dict(byte_level, trim_offsets=False),
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [strings[a] + " " + strings[b] for a, b in merges],
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print(f"{args.out}: {len(vocab)} tokens ({len(merges)} merges) from {len(text)} characters of {args.train}")


if __name__ == "__main__":
    main()
