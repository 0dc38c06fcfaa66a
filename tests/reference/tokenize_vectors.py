#!/usr/bin/python3
"""Expected token ids for tests/unit/test_tokenize.c, from Itera-Lite's own
definitions (docs/itera-lite.md 2.1-2.2):

  FrequencyTokenizer / SimpleTokenizer(level='word'):
      [token_to_id.get(w, 1) for w in text.lower().split()]
  SimpleTokenizer(level='char'):
      [token2id.get(c, 1) for c in list(text)]

and the Phase 4 validation split `text[int(0.9 * len(text)):]` of
tinystories_train.txt.  Run it to regenerate the numbers the test asserts:

  /usr/bin/python3 tests/reference/tokenize_vectors.py
"""
import json
import os

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "itera-lite")

# The samples the C test encodes (kept in sync by hand with test_tokenize.c).
WORD_SAMPLE = "Once upon a time, there was a little Fox.\n\tThe  BEAR\u00a0ran away!"
CHAR_SAMPLE = "The fox, Hi-q\u00e9"


def load(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        tok = json.load(f)
    return tok.get("token_to_id") or tok.get("token2id")


def words(table, text):
    return [table.get(w, 1) for w in text.lower().split()]


def chars(table, text):
    return [table.get(c, 1) for c in list(text)]


def main():
    t2000, quality, tiny = load("tokenizer_2000.json"), load("tokenizer_quality.json"), load("tokenizer_tiny.json")
    print("vocab sizes (max id + 1):", max(t2000.values()) + 1, max(quality.values()) + 1, max(tiny.values()) + 1)
    print("word sample, tokenizer_2000:   ", words(t2000, WORD_SAMPLE))
    print("word sample, tokenizer_quality:", words(quality, WORD_SAMPLE))
    print("char sample, tokenizer_tiny:   ", chars(tiny, CHAR_SAMPLE))
    with open(os.path.join(DATA, "tinystories_train.txt"), encoding="utf-8") as f:
        text = f.read()
    cut = int(0.9 * len(text))
    for name, table in (("tokenizer_2000", t2000), ("tokenizer_quality", quality)):
        train, val = words(table, text[:cut]), words(table, text[cut:])
        print(f"{name}: train {len(train)} tokens ({train.count(1)} unk), val {len(val)} tokens "
              f"({val.count(1)} unk), val first 8 {val[:8]}, val last {val[-1]}, sum {sum(val)}")
    val = chars(tiny, text[cut:])
    print(f"tokenizer_tiny on val: {len(val)} tokens ({val.count(1)} unk), sum {sum(val)}")
    print("characters", len(text), "cut", cut)


if __name__ == "__main__":
    main()
