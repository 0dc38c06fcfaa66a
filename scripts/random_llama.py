#!/usr/bin/python3
"""random_llama.py - a random-initialised Llama for the benchmarks, as transformers writes one:
model.safetensors (fp32; norms 1, every other weight N(0, 0.02^2)) and config.json, tied head.

    random_llama.py OUT_DIR DIM LAYERS HEADS KV_HEADS FFN VOCAB SEED

Prints the parameter count.  Used by scripts/bench_llama100m.sh and scripts/bench_llama_cpp.sh.
"""
import json
import struct
import sys

import numpy as np


def main():
    out = sys.argv[1]
    d, L, H, KV, F, V, seed = (int(a) for a in sys.argv[2:9])
    hd = d // H
    rng = np.random.default_rng(seed)
    shapes = {"model.embed_tokens.weight": (V, d)}
    for i in range(L):
        p = f"model.layers.{i}."
        shapes.update({p + "input_layernorm.weight": (d,), p + "self_attn.q_proj.weight": (H * hd, d),
                       p + "self_attn.k_proj.weight": (KV * hd, d), p + "self_attn.v_proj.weight": (KV * hd, d),
                       p + "self_attn.o_proj.weight": (d, H * hd), p + "post_attention_layernorm.weight": (d,),
                       p + "mlp.gate_proj.weight": (F, d), p + "mlp.up_proj.weight": (F, d),
                       p + "mlp.down_proj.weight": (d, F)})
    shapes["model.norm.weight"] = (d,)
    header, offset = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(f"{out}/model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for shape in shapes.values():
            a = np.ones(shape, "<f4") if len(shape) == 1 else rng.standard_normal(shape, dtype=np.float32) * 0.02
            f.write(a.astype("<f4").tobytes())
    json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": d,
               "intermediate_size": F, "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": KV,
               "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 2048, "vocab_size": V,
               "tie_word_embeddings": True}, open(f"{out}/config.json", "w"))
    print(f"random Llama: {sum(int(np.prod(s)) for s in shapes.values()):,} parameters, {offset:,} bytes of fp32")


if __name__ == "__main__":
    main()
