"""gpt2_bytes.py - GPT-2's byte-level alphabet and pre-tokenizer split, shared by
the scripts that train, apply and re-export the bundled BPE tokenizer
(scripts/train_bpe_tokenizer.py, scripts/train_family_models.py,
tests/reference/make_llama2c_tokenizer.py).  Standard library only.
"""
import re

# GPT-2's pre-tokenizer regex with standard-library classes: Python's re module has
# no \p{L} or \p{N}, so letters are [^\W\d_] and numbers \d.
CHUNK = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's byte -> printable character map (openai/gpt-2 src/encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def unicode_to_bytes():
    """The inverse map: printable character -> byte."""
    return {c: b for b, c in bytes_to_unicode().items()}
