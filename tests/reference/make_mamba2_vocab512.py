#!/usr/bin/python3
"""make_mamba2_vocab512.py - a Mamba-2 that the bundled 512-token tokenizer fits, for llama.cpp.

    make_mamba2_vocab512.py OUT_DIR     writes OUT_DIR/model.safetensors and OUT_DIR/config.json

tests/data/golden/mamba2_random (2 layers, d 32, 8 heads of 8, 2 groups, state 6: squeeze's Mamba-2
forward matches PyTorch on it, tests/reference/mamba_ref.py) has a vocabulary of 43, and llama.cpp
takes a GGUF only with a tokenizer whose size is the embedding's.  This copies it with the embedding
(tied head) grown to 512 rows, the new rows drawn from numpy's legacy RandomState(512) (a stream
numpy keeps fixed) at the standard deviation of the existing rows, so the GGUF can carry
tests/data/bundled/bpe512/tokenizer.json.  Written by make_llama_wide.py's safetensors writer (the
format's definition): the same bytes on every machine.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_llama_wide import read_safetensors, write_safetensors  # noqa: E402  (the same writer: the same bytes)

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "golden")
VOCAB = 512


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    names, tensors = read_safetensors(os.path.join(SRC, "mamba2_random.safetensors"))
    emb = tensors["backbone.embeddings.weight"]
    rng = np.random.RandomState(VOCAB)
    extra = (rng.standard_normal((VOCAB - emb.shape[0], emb.shape[1])) * emb.std()).astype(np.float32)
    tensors["backbone.embeddings.weight"] = np.concatenate([emb, extra])
    write_safetensors(os.path.join(out_dir, "model.safetensors"), names, tensors)
    cfg = json.load(open(os.path.join(SRC, "mamba2_random.config.json")))
    cfg["vocab_size"] = VOCAB
    json.dump(cfg, open(os.path.join(out_dir, "config.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
