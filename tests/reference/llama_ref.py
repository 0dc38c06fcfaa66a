"""llama_ref.py - PyTorch reference of the Llama family, in both published forms.

Written from the public definitions, not from squeeze's C code:

  Meta form   github.com/meta-llama/llama, llama/model.py (and Karpathy's
              llama2.c model.py, which copies it): RMSNorm, rotary embedding
              applied to adjacent pairs (x[2i], x[2i+1]) through
              torch.view_as_complex, grouped-query attention by repeat_kv,
              SwiGLU feed-forward w2(silu(w1 x) * w3 x).
              Keys: tok_embeddings.weight, layers.N.attention.{wq,wk,wv,wo}.weight,
              layers.N.feed_forward.{w1,w2,w3}.weight, layers.N.attention_norm.weight,
              layers.N.ffn_norm.weight, norm.weight, output.weight.
  HF form     transformers' modeling_llama.py (LlamaForCausalLM): the same network
              with rotate_half RoPE (x[i] paired with x[i + hd/2]); HF checkpoints
              store wq/wk with their rows permuted so that both forms compute the
              same function (convert_llama_weights_to_hf.py, permute()).
              Keys: model.embed_tokens.weight, model.layers.N.self_attn.{q,k,v,o}_proj.weight,
              model.layers.N.mlp.{gate,up,down}_proj.weight,
              model.layers.N.{input,post_attention}_layernorm.weight, model.norm.weight,
              lm_head.weight (absent when tie_word_embeddings).
  llama2.c    the legacy .bin of llama2.c export.py (legacy_export): a header of
              7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size
              (negative when the classifier is not shared), seq_len), then fp32:
              tok_embeddings, attention_norm x L, wq x L, wk x L, wv x L, wo x L,
              ffn_norm x L, w1 x L, w2 x L, w3 x L, norm, freqs_cos[:seq_len],
              freqs_sin[:seq_len], and output.weight when not shared.  Meta layout.

The model class keeps its weights in the Meta layout; forward(ids, rope="meta")
runs the Meta form, forward(ids, rope="hf") runs the HF form on the permuted
q/k weights, so a test of both against each other is built in (check_forms).
"""

import json
import math
import os
import struct
import sys
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import randomise_parameters  # noqa: E402
from golden_io import read_safetensors, save_safetensors  # noqa: E402,F401  (re-exported)


@dataclass
class LlamaConfig:
    vocab: int = 256
    dim: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    hidden: int = 384           # SwiGLU inner size
    max_seq: int = 256
    eps: float = 1e-5
    theta: float = 10000.0
    tied: bool = True
    hd: int = 0                 # head size; 0: dim // heads (a pruned model keeps its own)

    @property
    def head_dim(self):
        return self.hd or self.dim // self.heads


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hd = cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.heads * hd, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.kv_heads * hd, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.kv_heads * hd, bias=False)
        self.wo = nn.Linear(cfg.heads * hd, cfg.dim, bias=False)


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.hidden, bias=False)
        self.w2 = nn.Linear(cfg.hidden, cfg.dim, bias=False)
        self.w3 = nn.Linear(cfg.dim, cfg.hidden, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = Attention(cfg)
        self.feed_forward = FeedForward(cfg)
        self.attention_norm = RMSNorm(cfg.dim, cfg.eps)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.eps)


def meta_rope(x, theta):
    """llama/model.py apply_rotary_emb: pairs (2i, 2i+1) as complex numbers times
    exp(i t theta^(-2i/hd)).  x is [B, T, H, hd]."""
    B, T, H, hd = x.shape
    freqs = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64)[: hd // 2] / hd))
    angles = torch.outer(torch.arange(T, dtype=torch.float64), freqs)
    rot = torch.polar(torch.ones_like(angles), angles).to(torch.complex128 if x.dtype == torch.float64
                                                          else torch.complex64)
    xc = torch.view_as_complex(x.reshape(B, T, H, hd // 2, 2).contiguous())
    return torch.view_as_real(xc * rot.view(1, T, 1, hd // 2)).reshape(B, T, H, hd)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def hf_rope(x, theta):
    """modeling_llama.py apply_rotary_pos_emb: x * cos + rotate_half(x) * sin with
    cos/sin of emb = cat(freqs, freqs).  x is [B, T, H, hd]."""
    B, T, H, hd = x.shape
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(x.dtype).view(1, T, 1, hd), emb.sin().to(x.dtype).view(1, T, 1, hd)
    return x * cos + rotate_half(x) * sin


def hf_permute(w, heads):
    """convert_llama_weights_to_hf.py permute(): Meta rows -> HF rows for wq/wk."""
    rows, cols = w.shape
    return w.view(heads, rows // heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


class Llama(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.dim, cfg.eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab, bias=False)
        if cfg.tied:
            self.output.weight = self.tok_embeddings.weight

    def forward(self, ids, rope="meta"):
        cfg = self.cfg
        B, T = ids.shape
        hd, H, KV = cfg.head_dim, cfg.heads, cfg.kv_heads
        x = self.tok_embeddings(ids)
        mask = torch.full((T, T), float("-inf"), dtype=x.dtype).triu(1)
        for layer in self.layers:
            a = layer.attention
            h = layer.attention_norm(x)
            if rope == "meta":
                q = meta_rope(a.wq(h).view(B, T, H, hd), cfg.theta)
                k = meta_rope(a.wk(h).view(B, T, KV, hd), cfg.theta)
            else:
                q = hf_rope(F.linear(h, hf_permute(a.wq.weight, H)).view(B, T, H, hd), cfg.theta)
                k = hf_rope(F.linear(h, hf_permute(a.wk.weight, KV)).view(B, T, KV, hd), cfg.theta)
            v = a.wv(h).view(B, T, KV, hd)
            k = k.repeat_interleave(H // KV, dim=2)  # repeat_kv
            v = v.repeat_interleave(H // KV, dim=2)
            q, k, v = (t.transpose(1, 2) for t in (q, k, v))
            scores = q @ k.transpose(2, 3) / math.sqrt(hd) + mask
            out = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
            x = x + a.wo(out)
            x = x + layer.feed_forward(layer.ffn_norm(x))
        return self.output(self.norm(x))


def randomise(model, seed):
    """Weights far from their init, so every tensor visibly changes the logits."""
    randomise_parameters(model, seed, [(r"norm\.weight$", 0.3, 1.0), (r"embeddings", 0.7, 0.0)])
    return model


# ---------------------------------------------------------------- namings
def meta_state(model):
    """The Meta/llama2.c keys; output.weight left out when tied."""
    out = OrderedDict()
    for k, v in model.state_dict().items():
        if k == "output.weight" and model.cfg.tied:
            continue
        out[k] = v.detach().float().contiguous()
    return out


# Per layer: (Meta key, HF key, the head count whose rows HF permutes or None), in HF's order.
LAYER_KEYS = (
    ("attention.wq.weight", "self_attn.q_proj.weight", "heads"),
    ("attention.wk.weight", "self_attn.k_proj.weight", "kv_heads"),
    ("attention.wv.weight", "self_attn.v_proj.weight", None),
    ("attention.wo.weight", "self_attn.o_proj.weight", None),
    ("feed_forward.w1.weight", "mlp.gate_proj.weight", None),
    ("feed_forward.w3.weight", "mlp.up_proj.weight", None),
    ("feed_forward.w2.weight", "mlp.down_proj.weight", None),
    ("attention_norm.weight", "input_layernorm.weight", None),
    ("ffn_norm.weight", "post_attention_layernorm.weight", None),
)


def renamed(sd, cfg, to_hf):
    """Meta-named tensors -> HF names (to_hf, q/k rows permuted), or back; a tied head is
    left out towards HF and filled in from the embedding towards Meta."""
    pairs = [("tok_embeddings.weight", "model.embed_tokens.weight", None)]
    pairs += [(f"layers.{i}.{meta}", f"model.layers.{i}.{hf}", heads)
              for i in range(cfg.layers) for meta, hf, heads in LAYER_KEYS]
    pairs += [("norm.weight", "model.norm.weight", None)]
    out = OrderedDict()
    for meta, hf, heads in pairs:
        heads = getattr(cfg, heads) if heads else None
        if to_hf:
            out[hf] = hf_permute(sd[meta], heads) if heads else sd[meta]
        else:
            out[meta] = hf_unpermute(sd[hf], heads) if heads else sd[hf]
    if to_hf and not cfg.tied:
        out["lm_head.weight"] = sd["output.weight"]
    if not to_hf:
        out["output.weight"] = sd["model.embed_tokens.weight"] if cfg.tied else sd["lm_head.weight"]
    return out


def hf_state(model):
    out = renamed(model.state_dict(), model.cfg, to_hf=True)
    return OrderedDict((k, v.detach().float().contiguous()) for k, v in out.items())


def hf_config(cfg):
    """config.json as transformers writes it for LlamaForCausalLM (the fields squeeze reads)."""
    return OrderedDict(
        architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=cfg.dim,
        intermediate_size=cfg.hidden, num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads,
        num_key_value_heads=cfg.kv_heads, rms_norm_eps=cfg.eps, rope_theta=cfg.theta,
        max_position_embeddings=cfg.max_seq, vocab_size=cfg.vocab, tie_word_embeddings=cfg.tied,
        hidden_act="silu", torch_dtype="float32", **({"head_dim": cfg.hd} if cfg.hd else {}))



def save_hf(model, path, config_path):
    save_safetensors(path, hf_state(model), {"format": "pt"})
    with open(config_path, "w") as f:
        json.dump(hf_config(model.cfg), f, indent=2)
        f.write("\n")


def save_meta(model, path, metadata=None):
    save_safetensors(path, meta_state(model), metadata)


def save_llama2c(model, path):
    """llama2.c export.py legacy_export, byte for byte in its order."""
    cfg = model.cfg
    sd = model.state_dict()
    hd = cfg.head_dim
    with open(path + ".tmp", "wb") as f:
        vocab = cfg.vocab if cfg.tied else -cfg.vocab
        f.write(struct.pack("7i", cfg.dim, cfg.hidden, cfg.layers, cfg.heads, cfg.kv_heads, vocab, cfg.max_seq))

        def put(t):
            f.write(t.detach().float().contiguous().numpy().astype("<f4").tobytes())
        put(sd["tok_embeddings.weight"])
        for key in ("attention_norm.weight", "attention.wq.weight", "attention.wk.weight", "attention.wv.weight",
                    "attention.wo.weight", "ffn_norm.weight", "feed_forward.w1.weight", "feed_forward.w2.weight",
                    "feed_forward.w3.weight"):
            for i in range(cfg.layers):
                put(sd[f"layers.{i}.{key}"])
        put(sd["norm.weight"])
        freqs = 1.0 / (cfg.theta ** (torch.arange(0, hd, 2)[: hd // 2].float() / hd))
        angles = torch.outer(torch.arange(cfg.max_seq).float(), freqs)
        put(torch.cos(angles))
        put(torch.sin(angles))
        if not cfg.tied:
            put(sd["output.weight"])
    os.replace(path + ".tmp", path)


def check_forms(model, ids):
    """The Meta form and the HF form on permuted weights are the same function."""
    with torch.no_grad():
        a, b = model(ids, rope="meta"), model(ids, rope="hf")
    return (a - b).abs().max().item()



def hf_unpermute(w, heads):
    """Inverse of hf_permute: HF rows -> Meta rows."""
    rows, cols = w.shape
    return w.view(heads, 2, rows // heads // 2, cols).transpose(1, 2).reshape(rows, cols)


def load_hf(path, cfg):
    """A Llama (Meta layout inside) from HF-named tensors."""
    model = Llama(cfg)
    model.load_state_dict(meta_from_hf(read_safetensors(path), cfg))
    return model


def meta_from_hf(sd, cfg):
    """HF-named tensors -> the Meta state dict of a Llama(cfg)."""
    return renamed(sd, cfg, to_hf=False)
