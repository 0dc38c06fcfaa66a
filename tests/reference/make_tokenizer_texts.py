#!/usr/bin/env python3
"""make_tokenizer_texts.py - write the generated texts of the tokenizer golden
tests (tests/data/tokenizers/texts/): runs of whitespace between words and
punctuation, and random code points from many scripts.  Deterministic (seeded).

    python3 tests/reference/make_tokenizer_texts.py

The other texts there are committed as they are (tests/data/README.md).
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "tokenizers", "texts")

WORDS = ["the", "The", "THE", "a", "of", "and", "Emma", "naïve", "don't", "it's", "42", "3.14", "x", "__init__",
         "foo_bar", "café", "日本", "😀", "Ωμέγα", "(", ")", ",", ".", "!?", "...", "--", "'", '"', "#", "{}", "==",
         "\\", "/", "<s>", "</s>", "<|endoftext|>", "über", "Straße", "한국어", "١٢٣", "ok"]
SPACES = [" ", "  ", "   ", "    ", "        ", "\t", "\t\t", " \t", "\n", "\n\n", "\n\n\n", " \n", "\n ", "  \n  ",
          "\r\n", "\r\n\r\n", "\r", "\u00a0", " \u00a0 ", "\u3000", "\u2003", "\u200b", "\ufeff", "\u2028",
          "\u0085", "\x0b", "\x0c", ""]

# Blocks assigned long ago (Unicode <= 6), so every Unicode version involved agrees on them.
BLOCKS = [(0x21, 0x7E), (0xA1, 0xFF), (0x100, 0x17F), (0x180, 0x24F), (0x300, 0x36F), (0x391, 0x3A1),
          (0x3A3, 0x3C9), (0x410, 0x44F), (0x5D0, 0x5EA), (0x621, 0x64A), (0x660, 0x669), (0x905, 0x939),
          (0x966, 0x96F), (0xE01, 0xE2E), (0x1E00, 0x1EFF), (0x2010, 0x2027), (0x2070, 0x209C),
          (0x2190, 0x21FF), (0x2200, 0x22FF), (0x3041, 0x3096), (0x30A1, 0x30FA), (0x4E00, 0x9FA5),
          (0xAC00, 0xD7A3), (0xFF01, 0xFF5E), (0x1F600, 0x1F64F), (0x1F300, 0x1F5FF)]


def whitespace_text(rng, n):
    out = []
    for _ in range(n):
        out.append(rng.choice(WORDS))
        out.append(rng.choice(SPACES))
    return "".join(out)


def unicode_text(rng, n):
    out = []
    while len(out) < n:
        lo, hi = rng.choice(BLOCKS)
        run = rng.randint(1, 12)
        out.extend(chr(rng.randint(lo, hi)) for _ in range(run))
        out.append(rng.choice([" ", " ", " ", "\n", "  ", ", ", ". ", "\t"]))
    return "".join(out)


def main():
    rng = random.Random(20261206)
    os.makedirs(OUT, exist_ok=True)
    for name, text in (("whitespace.txt", whitespace_text(rng, 6000)), ("unicode_mix.txt", unicode_text(rng, 16000))):
        path = os.path.join(OUT, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        print(f"{path}: {len(text.encode('utf-8'))} bytes")


if __name__ == "__main__":
    main()
