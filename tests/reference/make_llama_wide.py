#!/usr/bin/python3
"""make_llama_wide.py - the bundled Llama widened so that every linear row is whole k-quant
super-blocks (256 values): hidden 128 -> 256, heads 4/2 -> 8/4 (head_dim 32), FFN 384 -> 512.

    make_llama_wide.py OUT_DIR      writes OUT_DIR/model.safetensors and OUT_DIR/config.json

Q4_K and Q6_K store a row in super-blocks of 256 values; tests/data/bundled/llama_tiny's rows are
128 and 384 long, so its k-quant maps fall back to Q4_1 / Q8_0.  Instead of committing another
12 MB checkpoint, this builds one deterministically from llama_tiny's trained weights: the trained
values keep their places (hidden dims 0..127, heads 0..3 / kv heads 0..1, FFN channels 0..383) and
every new entry is drawn from numpy's legacy RandomState(20261206) (whose stream numpy keeps fixed)
times 0.02, in tensor order.  RMSNorm weights are divided by sqrt(2) and rms_norm_eps halved, so
that the trained half of the stream is normalised as before while the new half stays small: the
widened model still predicts the text (its NLL is llama_tiny's plus what the small new weights add),
which makes the comparison with llama.cpp a comparison on meaningful logits.  GQA keeps its
grouping (query head h reads kv head h // 2 in both), RoPE's head_dim stays 32.

The safetensors file is written from the format's definition (8-byte header length, JSON header,
raw little-endian data), so the bytes and every later export of them are the same on every machine.
"""
import json
import os
import struct
import sys

import numpy as np

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "bundled", "llama_tiny")
SEED, SCALE = 20261206, 0.02
D0, D1, H0, H1, KV0, KV1, F0, F1, HD = 128, 256, 4, 8, 2, 4, 384, 512, 32


def read_safetensors(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"]).copy()
    return [k for k in header if k != "__metadata__"], out


def write_safetensors(path, names, tensors):
    header, offset, chunks = {}, 0, []
    for name in names:
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def widen(rng, old, shape, place):
    """A new tensor of `shape`: small random values, the old tensor at `place` (a tuple of index arrays)."""
    new = (rng.standard_normal(shape) * SCALE).astype(np.float32)
    new[np.ix_(*place)] = old
    return new


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    names, w = read_safetensors(os.path.join(SRC, "model.safetensors"))
    cfg = json.load(open(os.path.join(SRC, "config.json")))
    assert (cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["intermediate_size"]) == \
        (D0, H0, KV0, F0)
    rng = np.random.RandomState(SEED)
    hid, ffn = np.arange(D0), np.arange(F0)
    q_rows, kv_rows = np.arange(H0 * HD), np.arange(KV0 * HD)  # the trained heads come first
    out = {}
    for name in names:
        t = w[name]
        if name.endswith("norm.weight"):
            new = np.full(D1, 1.0, np.float32)
            new[:D0] = t
            out[name] = (new / np.float32(np.sqrt(2.0))).astype(np.float32)
        elif name == "model.embed_tokens.weight" or name == "lm_head.weight":
            out[name] = widen(rng, t, (t.shape[0], D1), (np.arange(t.shape[0]), hid))
        elif name.endswith("q_proj.weight"):
            out[name] = widen(rng, t, (H1 * HD, D1), (q_rows, hid))
        elif name.endswith(("k_proj.weight", "v_proj.weight")):
            out[name] = widen(rng, t, (KV1 * HD, D1), (kv_rows, hid))
        elif name.endswith("o_proj.weight"):
            out[name] = widen(rng, t, (D1, H1 * HD), (hid, q_rows))
        elif name.endswith(("gate_proj.weight", "up_proj.weight")):
            out[name] = widen(rng, t, (F1, D1), (ffn, hid))
        elif name.endswith("down_proj.weight"):
            out[name] = widen(rng, t, (D1, F1), (hid, ffn))
        else:
            raise SystemExit(f"make_llama_wide.py: no rule for {name} {t.shape}")
    write_safetensors(os.path.join(out_dir, "model.safetensors"), [n for n in names], out)
    cfg.update(hidden_size=D1, num_attention_heads=H1, num_key_value_heads=KV1, intermediate_size=F1,
               rms_norm_eps=cfg["rms_norm_eps"] / 2)
    json.dump(cfg, open(os.path.join(out_dir, "config.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
