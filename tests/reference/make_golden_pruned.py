"""make_golden_pruned.py - golden logits of pruned models, from PyTorch references of the
pruned architectures.

For each case squeeze-compress prunes a committed checkpoint with a committed recipe
(tests/data/golden/pruned/<name>.prune.yaml, fp32 so nothing but the pruning changes the
weights) and writes the pruned model artifact tests/data/golden/pruned/<name>.h5.  This script then
builds the pruned model independently: it reads only *which* heads, k/v heads, experts and
channels the artifact's /pruning record names, drops them from the ORIGINAL checkpoint's
weights with its own slicing, builds the reference model of the smaller architecture
(itera_ref.py, llama_ref.py; head counts, head size and sizes from the sliced shapes) and
computes float64 logits.  The golden file (golden_io.py layout) names the pruned artifact
as its checkpoint, so tests/unit/test_forward.c runs squeeze's forward pass of the artifact
against these logits (1e-4); tests/integration/test_prune.sh compresses again and checks
that squeeze still writes the same pruned tensors.

Cases:
  pruned_transformer_heads  random_transformer.pt (3 heads of 16): 1 head per layer
                            (multi-head attention: the head with its k and v)
  pruned_llama_heads_ffn    llama_gqa_hf (HF names, GQA 8/4): 4 query heads per layer, one
                            per KV group, and a quarter of the SwiGLU channels
  pruned_llama_groups       llama_gqa_meta (Meta names, GQA 8/4): 1 whole KV group per layer
  pruned_micro_experts      the Itera-Lite micro model: 1 expert per MoE layer by routing counts
                            (calibrated as test_prune.sh calibrates it), then a quarter of the
                            FFN/expert channels
  pruned_mamba1_forced      mamba1_random (Mamba-1, d_inner 48, state 5): 8 inner channels and 1
                            state dimension per layer, past the SSM guard (force: true)
Without --calibration the heads and channels are scored by weight norm (deterministic).

  /usr/bin/python3 tests/reference/make_golden_pruned.py --build build
"""

import argparse
import json
import os
import re
import subprocess
import sys
from collections import OrderedDict

import h5py
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import itera_ref as R  # noqa: E402
import llama_ref as L  # noqa: E402
import mamba_ref as M  # noqa: E402
from golden_io import DATA, read_safetensors, seeded_windows, write_golden  # noqa: E402

KINDS = ("row", "column", "expert", "head", "kv-head")

CASES = {
    "pruned_transformer_heads": ("golden/random_transformer.pt", "prune:\n  - target: heads\n    count: 1\n"),
    "pruned_llama_heads_ffn": ("golden/llama_gqa_hf.safetensors",
                               "prune:\n  - target: heads\n    count: 4\n    unit: query-heads\n"
                               "  - target: ffn-channels\n    fraction: 0.25\n"),
    "pruned_llama_groups": ("golden/llama_gqa_meta.safetensors",
                            "prune:\n  - target: heads\n    count: 1\n    unit: kv-groups\n"),
    "pruned_micro_experts": ("itera-lite/itera_lite_micro_distilled.pt",
                             "prune:\n  - target: experts\n    count: 1\n"
                             "  - target: ffn-channels\n    fraction: 0.25\n"),
    "pruned_mamba1_forced": ("golden/mamba1_random.safetensors",
                             "prune:\n  - target: ssm-inner\n    count: 8\n    force: true\n"
                             "  - target: ssm-state\n    count: 1\n    force: true\n"),
}

# The calibration of test_prune.sh's micro.yaml (same windows, so the same routing counts).
MICRO_CONFIG = """model:
  checkpoint: {data}/itera-lite/itera_lite_micro_distilled.pt
data:
  tokenizer: {data}/itera-lite/tokenizer_2000.json
  calibration: {data}/itera-lite/tinystories_train.txt
  evaluation: {{path: {data}/itera-lite/tinystories_train.txt, start: 0.9}}
calibrate:
  windows: 8
  window_length: 64
"""


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return done


def squeeze_prune(build, name, source, recipe, work):
    """Writes pruned/<name>.prune.yaml and squeeze's pruned artifact pruned/<name>.h5 (fp32)."""
    golden = os.path.join(DATA, "golden", "pruned")
    recipe_path = os.path.join(golden, name + ".prune.yaml")
    with open(recipe_path, "w") as f:
        f.write(f"description: \"{name}: pruning only (fp32), for the reference of the pruned architecture\"\n")
        f.write(recipe + "default: fp32\n")
    config = os.path.join(work, name + ".yaml")
    with open(config, "w") as f:
        if name == "pruned_micro_experts":
            f.write(MICRO_CONFIG.format(data=DATA))
        else:
            f.write(f"model:\n  checkpoint: {os.path.join(DATA, source)}\n")
    cmd = [os.path.join(build, "squeeze-compress"), "--config", config, "--model", os.path.join(DATA, source),
           "--map", recipe_path, "--out", os.path.join(golden, name + ".h5")]
    if name == "pruned_micro_experts":
        cal = os.path.join(work, "micro-cal.h5")
        run([os.path.join(build, "squeeze-calibrate"), "--config", config, "--model", os.path.join(DATA, source),
             "--out", cal])
        cmd += ["--calibration", cal]
    run(cmd)
    out = os.path.join(golden, name + ".h5")
    # the artifact is committed: paths relative to the source tree, no host name
    with h5py.File(out, "r+") as f:
        for group in (f, f["pruning"], f["accounting"]):
            for key, value in group.attrs.items():
                if isinstance(value, bytes) and (DATA.encode() in value or key == "host"):
                    text = "" if key == "host" else value.decode().replace(DATA, "tests/data")
                    group.attrs[key] = text.replace("tests/data/golden/pruned/.work/", "")
    return out


def removals(artifact):
    """[(tensor, kind, index)] in the order squeeze applied them, and the artifact's config."""
    with h5py.File(artifact, "r") as f:
        g = f["pruning"]
        names = [x.decode() for x in g["tensors"][()]]
        lines = [(names[t], KINDS[k], int(i)) for t, k, i in zip(g["tensor"][()], g["removed"][()], g["index"][()])]
        cfg = json.loads(f["model"].attrs["config_json"])
    return lines, cfg


def keep(n, gone):
    return [i for i in range(n) if i not in gone]


def head_rows(heads, hd, offset=0):
    return [offset + h * hd + r for h in heads for r in range(hd)]


def drop(sd, lines, head_dim):
    """The state dict with what the record names removed (a new dict; sd is not changed)."""
    sd = OrderedDict((k, v.clone()) for k, v in sd.items())
    by_tensor = OrderedDict()
    for tensor, kind, index in lines:
        by_tensor.setdefault((tensor, kind), set()).add(index)
    # experts first (the channel records that follow name the renumbered experts)
    for (tensor, kind), gone in by_tensor.items():
        if kind != "expert":
            continue
        del sd[tensor]
    experts = [(t, i) for (t, k), idx in by_tensor.items() if k == "expert" for i in idx]
    for prefix in sorted({re.sub(r"experts\.\d+\..*", "", t) for t, _ in experts}):
        gone = {i for t, i in experts if t.startswith(prefix)}
        ids = sorted({int(m.group(1)) for k in sd for m in [re.match(re.escape(prefix) + r"experts\.(\d+)\.", k)] if m})
        renamed = OrderedDict()
        for k, v in sd.items():
            m = re.match(re.escape(prefix) + r"experts\.(\d+)\.(.*)", k)
            renamed[f"{prefix}experts.{ids.index(int(m.group(1)))}.{m.group(2)}" if m else k] = v
        sd = renamed
        assert not gone & set(ids), (prefix, gone, ids)
    for (tensor, kind), gone in by_tensor.items():
        w = sd.get(tensor)
        if kind == "expert":
            continue
        if kind == "row":
            sd[tensor] = w[keep(w.shape[0], gone)]
        elif kind == "column":
            sd[tensor] = w[:, keep(w.shape[1], gone)]
        elif kind == "kv-head":
            sd[tensor] = w[head_rows(keep(w.shape[0] // head_dim, gone), head_dim)]
        elif tensor.endswith("attention.qkv.weight"):  # fused q | k | v: the head's rows of each
            width = w.shape[0] // 3
            kept = keep(width // head_dim, gone)
            sd[tensor] = w[sum((head_rows(kept, head_dim, part * width) for part in range(3)), [])]
        elif re.search(r"(o_proj|wo|out_proj)\.weight$", tensor):
            sd[tensor] = w[:, head_rows(keep(w.shape[1] // head_dim, gone), head_dim)]
        else:  # q
            sd[tensor] = w[head_rows(keep(w.shape[0] // head_dim, gone), head_dim)]
    return sd


def itera_case(name, source, artifact, lines, cfg):
    obj = torch.load(os.path.join(DATA, source), map_location="cpu")
    heads = R.heads_from_meta(obj)
    sd = R.state_dict_of(obj)
    hd = sd["embedding.weight"].shape[1] // heads if heads else 0
    pruned = drop(sd, lines, hd)
    new_heads = None
    if heads:
        new_heads = pruned["blocks.0.attention.qkv.weight"].shape[0] // 3 // hd
    model = R.model_from_state_dict(pruned, new_heads)
    if isinstance(model, R.IteraLite):
        assert model.cfg.experts == cfg["num_experts"] and model.cfg.expert_size == cfg["expert_size"], cfg
        model.cfg.top_k = cfg["top_k"]
    else:
        assert model.cfg.heads == cfg["num_heads"] and model.cfg.head_dim == cfg["head_dim"], (model.cfg, cfg)
    ref = model.double().eval()
    family = "itera-transformer" if new_heads else "itera"
    vocab, max_seq = model.cfg.vocab, model.cfg.max_seq
    return write_golden(os.path.join(DATA, "golden", name + ".h5"), artifact, family, new_heads or 0,
                        seeded_windows(name, vocab, (min(64, max_seq), min(9, max_seq))), lambda ids: ref(ids)[0],
                        "tests/reference/make_golden_pruned.py (itera_ref.py of the pruned weights, float64)")


def llama_case(name, source, artifact, lines, cfg):
    path = os.path.join(DATA, source)
    with open(os.path.splitext(path)[0] + ".config.json") as f:
        c = json.load(f)
    hd = c["hidden_size"] // c["num_attention_heads"]
    sd = drop(read_safetensors(path), lines, hd)
    hf = "model.embed_tokens.weight" in sd
    q = sd["model.layers.0.self_attn.q_proj.weight" if hf else "layers.0.attention.wq.weight"]
    k = sd["model.layers.0.self_attn.k_proj.weight" if hf else "layers.0.attention.wk.weight"]
    gate = sd["model.layers.0.mlp.gate_proj.weight" if hf else "layers.0.feed_forward.w1.weight"]
    lc = L.LlamaConfig(vocab=c["vocab_size"], dim=c["hidden_size"], layers=c["num_hidden_layers"],
                       heads=q.shape[0] // hd, kv_heads=k.shape[0] // hd, hidden=gate.shape[0],
                       max_seq=c["max_position_embeddings"], eps=c["rms_norm_eps"], theta=c["rope_theta"],
                       tied=c["tie_word_embeddings"], hd=hd)
    assert (lc.heads, lc.kv_heads, lc.hidden) == (cfg["num_heads"], cfg["num_kv_heads"], cfg["ffn_size"]), (lc, cfg)
    model = L.Llama(lc)
    if hf:
        model.load_state_dict(L.meta_from_hf(sd, lc))
    else:
        if lc.tied:
            sd["output.weight"] = sd["tok_embeddings.weight"]
        model.load_state_dict(sd)
    ref = model.double().eval()
    rope = "hf" if hf else "meta"
    return write_golden(os.path.join(DATA, "golden", name + ".h5"), artifact, "llama", lc.heads,
                        seeded_windows(name, lc.vocab, (min(40, lc.max_seq), min(9, lc.max_seq))),
                        lambda ids: ref(ids, rope=rope)[0],
                        f"tests/reference/make_golden_pruned.py (llama_ref.py of the pruned weights, {rope} RoPE, "
                        "float64)")


def mamba_case(name, source, artifact, lines, cfg):
    path = os.path.join(DATA, source)
    config = os.path.splitext(path)[0] + ".config.json"
    with open(config) as f:
        c = json.load(f)
    sd = drop(read_safetensors(path), lines, 0)
    prefix = "backbone." if "backbone.embeddings.weight" in sd else ""
    c["intermediate_size"] = sd[prefix + "layers.0.mixer.D"].shape[0]
    c["state_size"] = sd[prefix + "layers.0.mixer.A_log"].shape[1]
    assert (c["intermediate_size"], c["state_size"]) == (cfg["d_inner"], cfg["ssm_state_size"]), (c, cfg)
    work = os.path.join(DATA, "golden", "pruned", ".work")
    M.save_safetensors(os.path.join(work, name + ".safetensors"), sd)
    with open(os.path.join(work, name + ".config.json"), "w") as f:
        json.dump(c, f)
    model = M.load_hf(os.path.join(work, name + ".safetensors"), os.path.join(work, name + ".config.json"))
    ref = model.double().eval()
    return write_golden(os.path.join(DATA, "golden", name + ".h5"), artifact, "mamba", 0,
                        seeded_windows(name, c["vocab_size"], (40, 9)), lambda ids: ref(ids)[0],
                        "tests/reference/make_golden_pruned.py (mamba_ref.py of the pruned weights, Mamba-1, float64)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="squeeze's build directory (squeeze-compress)")
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="only these (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = os.path.join(DATA, "golden", "pruned", ".work")
    os.makedirs(work, exist_ok=True)
    for name in args.case or CASES:
        source, recipe = CASES[name]
        artifact = squeeze_prune(os.path.abspath(args.build), name, source, recipe, work)
        lines, cfg = removals(artifact)
        make = mamba_case if "mamba" in source else llama_case if source.endswith(".safetensors") else itera_case
        logits = make(name, source, artifact, lines, cfg)
        print(f"{name}: {len(lines)} removals, {os.path.getsize(artifact)} B artifact, "
              f"logit range [{logits.min().item():.3f}, {logits.max().item():.3f}]")
    for f in os.listdir(work):
        os.remove(os.path.join(work, f))
    os.rmdir(work)


if __name__ == "__main__":
    main()
