#!/usr/bin/python3
"""make_mamba2_vocab512.py - a Mamba-2 that the bundled 512-token tokenizer fits, for llama.cpp.

    make_mamba2_vocab512.py OUT_DIR     writes OUT_DIR/model.safetensors and OUT_DIR/config.json

tests/data/golden/mamba2_random (2 layers, d 32, 8 heads of 8, 2 groups, state 6: squeeze's Mamba-2
forward matches PyTorch on it, tests/reference/mamba_ref.py) has a vocabulary of 43, and llama.cpp
takes a GGUF only with a tokenizer whose size is the embedding's.  This copies it with the embedding
(tied head) grown to 512 rows, the new rows drawn from numpy's legacy RandomState(512) (a stream
numpy keeps fixed) at the standard deviation of the existing rows, so the GGUF can carry
tests/data/bundled/bpe512/tokenizer.json.  Written from the safetensors definition: the same bytes on
every machine.
"""
import json
import os
import struct
import sys

import numpy as np

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "golden")
VOCAB = 512


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    blob = open(os.path.join(SRC, "mamba2_random.safetensors"), "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    names = [k for k in header if k != "__metadata__"]
    tensors = {}
    for name in names:
        info = header[name]
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        tensors[name] = np.frombuffer(blob[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"])
    emb = tensors["backbone.embeddings.weight"]
    rng = np.random.RandomState(VOCAB)
    extra = (rng.standard_normal((VOCAB - emb.shape[0], emb.shape[1])) * emb.std()).astype(np.float32)
    tensors["backbone.embeddings.weight"] = np.concatenate([emb, extra])
    out, offset, chunks = {}, 0, []
    for name in names:
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        out[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(data)
    text = json.dumps(out, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    cfg = json.load(open(os.path.join(SRC, "mamba2_random.config.json")))
    cfg["vocab_size"] = VOCAB
    json.dump(cfg, open(os.path.join(out_dir, "config.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
