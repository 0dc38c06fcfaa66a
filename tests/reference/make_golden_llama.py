"""make_golden_llama.py - golden logits of the Llama family for the C forward pass test.

Same file layout as make_golden.py (tests/data/golden/<name>.h5: attrs checkpoint,
family, num_heads, windows; tokens_<w>, logits_<w>), computed in float64 by
llama_ref.py, which follows Meta's llama/model.py and transformers' modeling_llama.py.

Random cases (seeded; weights far from their init, llama_ref.randomise):
  llama_gqa_hf      GQA 8/4 heads, HF names (rotate-half RoPE, permuted q/k), tied
  llama_gqa_meta    the same weights under Meta names (adjacent-pair RoPE)
  llama_mha_meta    5/5 heads of size 6, untied head, Meta names, eps 1e-6
  llama_untied_hf   GQA 6/2 heads of size 6, untied head, rope_theta 500000, HF names
  llama2c_gqa       llama2.c legacy .bin, GQA 4/2, shared classifier
  llama2c_untied    llama2.c legacy .bin, 3/1 heads, negative vocab_size (own classifier)
The checkpoints are written beside the goldens (<name>.safetensors with
<name>.config.json, or <name>.bin).  The bundled model is a --case:
  /usr/bin/python3 tests/reference/make_golden_llama.py
  /usr/bin/python3 tests/reference/make_golden_llama.py --case llama_tiny=tests/data/bundled/llama_tiny
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref as L  # noqa: E402
from golden_io import golden_cases, seeded_windows, write_golden as write_file  # noqa: E402


def windows_for(name, vocab, max_seq):
    return seeded_windows(name, vocab, (min(40, max_seq), min(9, max_seq)))


def write_golden(out_dir, name, model, checkpoint, rope, made_by="tests/reference/make_golden_llama.py"):
    ref = model.double().eval()
    path = os.path.join(out_dir, name + ".h5")
    logits = write_file(path, checkpoint, "llama", model.cfg.heads, windows_for(name, model.cfg.vocab, model.cfg.max_seq),
                        lambda ids: ref(ids, rope=rope)[0], f"{made_by} (llama_ref.py, {rope} RoPE, float64)")
    model.float()
    print(f"{path}: {checkpoint}, {rope} RoPE, logit range [{logits.min().item():.3f}, {logits.max().item():.3f}]")


def write_case(out_dir, name, model, form):
    """model as the checkpoint <name> in form (hf or meta: .safetensors + .config.json; llama2c: .bin),
    then its golden (llama2.c's layout takes Meta's adjacent-pair RoPE)."""
    base = os.path.join(out_dir, name)
    if form == "llama2c":
        checkpoint = base + ".bin"
        L.save_llama2c(model, checkpoint)
    elif form == "hf":
        checkpoint = base + ".safetensors"
        L.save_hf(model, checkpoint, base + ".config.json")
    else:
        checkpoint = base + ".safetensors"
        L.save_meta(model, checkpoint)
        with open(base + ".config.json", "w") as f:
            json.dump(L.hf_config(model.cfg), f, indent=2)
    write_golden(out_dir, name, model, checkpoint, "hf" if form == "hf" else "meta")


# The random cases of the docstring: a seeded model of each config, written as each (name, form).
BUILTIN = [
    (dict(vocab=67, dim=64, layers=2, heads=8, kv_heads=4, hidden=96, max_seq=48, eps=1e-5, theta=10000.0, tied=True),
     21, [("llama_gqa_hf", "hf"), ("llama_gqa_meta", "meta")]),
    (dict(vocab=53, dim=30, layers=2, heads=5, kv_heads=5, hidden=44, max_seq=32, eps=1e-6, theta=10000.0, tied=False),
     22, [("llama_mha_meta", "meta")]),
    (dict(vocab=71, dim=36, layers=3, heads=6, kv_heads=2, hidden=52, max_seq=40, eps=1e-5, theta=500000.0,
          tied=False), 23, [("llama_untied_hf", "hf")]),
    (dict(vocab=61, dim=32, layers=2, heads=4, kv_heads=2, hidden=40, max_seq=24, eps=1e-5, theta=10000.0, tied=True),
     24, [("llama2c_gqa", "llama2c")]),
    (dict(vocab=45, dim=24, layers=2, heads=3, kv_heads=1, hidden=36, max_seq=20, eps=1e-5, theta=10000.0, tied=False),
     25, [("llama2c_untied", "llama2c")]),
]


def builtin(out_dir):
    for config, seed, writes in BUILTIN:
        model = L.randomise(L.Llama(L.LlamaConfig(**config)), seed=seed)
        if len(writes) > 1:  # one model under both namings: they must agree before either is written
            print(f"{writes[0][0]}: max |meta - hf| in float32 =",
                  L.check_forms(model, torch.randint(0, config["vocab"], (1, 30))))
        for name, form in writes:
            write_case(out_dir, name, model, form)


def bundled_case(out_dir, name, directory):
    """A bundled model directory: model.safetensors (HF names) + config.json, and model.bin."""
    with open(os.path.join(directory, "config.json")) as f:
        c = json.load(f)
    cfg = L.LlamaConfig(vocab=c["vocab_size"], dim=c["hidden_size"], layers=c["num_hidden_layers"],
                        heads=c["num_attention_heads"], kv_heads=c["num_key_value_heads"],
                        hidden=c["intermediate_size"], max_seq=c["max_position_embeddings"], eps=c["rms_norm_eps"],
                        theta=c["rope_theta"], tied=c["tie_word_embeddings"])
    model = L.load_hf(os.path.join(directory, "model.safetensors"), cfg)
    write_golden(out_dir, name, model, os.path.join(directory, "model.safetensors"), "hf")
    write_golden(out_dir, name + "_bin", model, os.path.join(directory, "model.bin"), "meta")


def main():
    out, cases = golden_cases(__doc__)
    torch.manual_seed(5)
    if not cases:
        builtin(out)
    for name, directory in cases:
        bundled_case(out, name, directory)


if __name__ == "__main__":
    main()
