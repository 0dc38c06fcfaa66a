"""itera_ref.py - PyTorch reference of the two Itera-Lite model families.

Written from docs/itera-lite.md (section 1.2-1.6), which describes the original
repository (github.com/CisnerosCodes/Itera-Lite, MIT, commit 00d4535):

  IteraLite      SSM + MoE model (models/itera_lite.py, ssm.py, moe.py)
  Transformer    the baseline (models/transformer_baseline.py)

The module trees reproduce the original state_dict key names and order exactly,
so a real checkpoint loads with strict=True.  forward(ids) returns logits
[B, T, V] with eval semantics: there is no dropout anywhere (the original's
dropouts are identity at eval), so train mode computes the same function and
training code can use these classes directly.

Used by tests/reference/make_golden.py (golden logits for the C forward pass)
and by the training script of the bundled default models.  Run it as a script
to check it against the real distilled micro checkpoint:

  /usr/bin/python3 tests/reference/itera_ref.py \
      --checkpoint tests/data/itera-lite/itera_lite_micro_distilled.pt \
      --text tests/data/itera-lite/tinystories_train.txt \
      --tokenizer tests/data/itera-lite/tokenizer_2000.json

itera-lite.md section 0.2: t+2 perplexity about 2.42, t+1 about 915.
"""

import argparse
import ast
import json
import math
import re
from dataclasses import dataclass, field
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------

@dataclass
class IteraConfig:
    """IteraLiteConfig (itera-lite.md 1.1), the fields the forward pass uses."""
    vocab: int = 2000
    hidden: int = 64          # d
    layers: int = 3           # L
    state: int = 8            # N, ssm_state_size
    conv: int = 4             # K, ssm_conv_kernel
    expand: int = 2           # e, d_inner = e * d
    experts: int = 4          # E
    expert_size: int = 32     # f
    top_k: int = 2
    moe_layers: List[int] = field(default_factory=lambda: [1])
    max_seq: int = 128        # S
    eps: float = 1e-5         # final norm (layer_norm_eps); block norms are always 1e-5

    @property
    def d_inner(self) -> int:
        return self.expand * self.hidden


@dataclass
class TransformerConfig:
    """get_transformer_tiny_config (itera-lite.md 1.6)."""
    vocab: int = 8000
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    ffn_size: int = 512
    max_seq: int = 128
    eps: float = 1e-5
    head_dim: int = 0         # 0: hidden // heads; a model with pruned heads keeps its own


# --------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------

class Expert(nn.Module):
    """moe.py Expert: w2(GELU_erf(w1(x))), no biases (itera-lite.md 1.4 step 3)."""

    def __init__(self, d: int, f: int):
        super().__init__()
        self.w1 = nn.Linear(d, f, bias=False)
        self.w2 = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.w2(F.gelu(self.w1(x)))  # F.gelu default = exact erf form


# --------------------------------------------------------------------------
# IteraLite (SSM + MoE)
# --------------------------------------------------------------------------

class S4Kernel(nn.Module):
    """ssm.py S4Kernel(di, N): shared N-vector state, scalar delta per step (1.4 step 2)."""

    def __init__(self, di: int, n: int):
        super().__init__()
        # Registration order = saved key order: A_log, B, C, D, delta_proj.
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)))
        self.B = nn.Parameter(torch.randn(n, di) / math.sqrt(di))
        self.C = nn.Parameter(torch.randn(di, n) / math.sqrt(n))
        self.D = nn.Parameter(torch.ones(di))
        self.delta_proj = nn.Linear(di, di, bias=True)

    def forward(self, a):  # a [B, T, di]
        bsz, steps, _ = a.shape
        # delta[t] = mean_j softplus(delta_proj(a[t]))_j  (beta 1, threshold 20)
        delta = F.softplus(self.delta_proj(a)).mean(dim=-1)          # [B, T]
        A = -torch.exp(self.A_log)                                   # [N]
        dA = torch.exp(delta.unsqueeze(-1) * A)                      # [B, T, N]  ZOH for A
        dBx = delta.unsqueeze(-1) * torch.matmul(a, self.B.t())      # [B, T, N]  Euler: dB = delta*B
        s = a.new_zeros(bsz, self.A_log.shape[0])                    # state reset every call
        states = []
        for t in range(steps):                                       # s = exp(dA) * s + delta * (B a)
            s = dA[:, t] * s + dBx[:, t]
            states.append(s)
        S = torch.stack(states, dim=1)                               # [B, T, N]
        return torch.matmul(S, self.C.t()) + self.D * a              # y = C s + D * a (updated s)


class SSMBlock(nn.Module):
    def __init__(self, cfg: IteraConfig):
        super().__init__()
        d, di = cfg.hidden, cfg.d_inner
        self.in_proj = nn.Linear(d, 2 * di, bias=False)
        self.conv1d = nn.Conv1d(di, di, cfg.conv, padding=cfg.conv - 1, groups=di, bias=True)
        self.ssm = S4Kernel(di, cfg.state)
        self.out_proj = nn.Linear(di, d, bias=False)
        self.norm = nn.LayerNorm(d, eps=1e-5)  # PyTorch default, not the config's eps

    def forward(self, x):  # x [B, T, d]
        steps = x.shape[1]
        r = x
        h = self.norm(x)
        u, g = self.in_proj(h).chunk(2, dim=-1)                      # signal first, gate second
        u = self.conv1d(u.transpose(1, 2))[:, :, :steps].transpose(1, 2)  # causal depthwise conv
        a = F.silu(u)
        y = self.ssm(a)
        return r + self.out_proj(y * F.silu(g))


class Router(nn.Module):
    def __init__(self, d: int, e: int):
        super().__init__()
        self.gate = nn.Linear(d, e, bias=False)
        # Training EMA of expert use; unused at inference, but saved in the state_dict.
        self.register_buffer("expert_counts", torch.zeros(e))

    def forward(self, x):
        return self.gate(x)


class MixtureOfExperts(nn.Module):
    def __init__(self, cfg: IteraConfig):
        super().__init__()
        self.top_k = cfg.top_k
        self.router = Router(cfg.hidden, cfg.experts)
        self.experts = nn.ModuleList([Expert(cfg.hidden, cfg.expert_size) for _ in range(cfg.experts)])
        self.norm = nn.LayerNorm(cfg.hidden, eps=1e-5)

    def forward(self, x):
        hn = self.norm(x)
        logits = self.router(hn)                                     # [B, T, E]
        top_v, top_i = torch.topk(logits, self.top_k, dim=-1)        # sorted descending
        top_g = F.softmax(top_v, dim=-1)                             # softmax over the k selected only
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):                    # gate multiplies after w2
            weight = (top_g * (top_i == e)).sum(dim=-1, keepdim=True)  # [B, T, 1], 0 if not routed
            routed = weight.squeeze(-1) != 0
            if routed.any():
                y = torch.zeros_like(x)
                y[routed] = expert(hn[routed])
                out = out + y * weight
        # Load-balance aux loss (training only, 1.4): 0.01 * (std(p)/(mean(p)+1e-6))^2
        p = F.softmax(logits, dim=-1).reshape(-1, logits.shape[-1]).mean(dim=0)
        self.aux_loss = 0.01 * (p.std() / (p.mean() + 1e-6)) ** 2
        return x + out


class MoELayer(nn.Module):
    """Dense FFN layer or MoE layer; the attribute names give the saved keys."""

    def __init__(self, cfg: IteraConfig, use_moe: bool):
        super().__init__()
        self.use_moe = use_moe
        if use_moe:
            self.layer = MixtureOfExperts(cfg)
        else:
            self.norm = nn.LayerNorm(cfg.hidden, eps=1e-5)
            self.ffn = Expert(cfg.hidden, cfg.expert_size)

    def forward(self, x):
        if self.use_moe:
            return self.layer(x)
        return x + self.ffn(self.norm(x))


class EmbeddedLM(nn.Module):
    """What Itera-Lite and its Transformer baseline share around their layers: token plus learned
    position embeddings in, a LayerNorm and an lm_head tied to the embedding out.  The layers are
    made by body() between the embeddings and the norm (the order their parameters are created
    and saved in) and kept as the attribute body_name."""

    def __init__(self, cfg, body_name, body):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab, cfg.hidden)
        self.position_embedding = nn.Embedding(cfg.max_seq, cfg.hidden)
        setattr(self, body_name, body())
        self.norm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.lm_head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)
        self.lm_head.weight = self.embedding.weight                   # tied
        nn.init.normal_(self.embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.02)

    def embed(self, ids):  # ids [B, T] -> [B, T, hidden]
        steps = ids.shape[1]
        assert steps <= self.cfg.max_seq, f"window {steps} > max_seq {self.cfg.max_seq}"
        pos = torch.arange(steps, device=ids.device)
        return self.embedding(ids) + self.position_embedding(pos)

    def head(self, x):  # [B, T, hidden] -> logits [B, T, V]
        return self.lm_head(self.norm(x))


class IteraLite(EmbeddedLM):
    def __init__(self, cfg: IteraConfig):
        super().__init__(cfg, "layers", lambda: nn.ModuleList([
            nn.ModuleDict({"ssm": SSMBlock(cfg), "moe": MoELayer(cfg, i in cfg.moe_layers)})
            for i in range(cfg.layers)
        ]))

    def forward(self, ids):  # ids [B, T] -> logits [B, T, V]
        x = self.embed(ids)
        for layer in self.layers:
            x = layer["ssm"](x)
            x = layer["moe"](x)
        return self.head(x)

    def aux_loss(self):
        """Sum of the MoE load-balance losses of the last forward (0 without MoE layers)."""
        total = 0.0
        for layer in self.layers:
            if layer["moe"].use_moe:
                total = total + layer["moe"].layer.aux_loss
        return total


# --------------------------------------------------------------------------
# Transformer baseline
# --------------------------------------------------------------------------

class Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        assert cfg.head_dim or cfg.hidden % cfg.heads == 0, "hidden must be a multiple of heads"
        self.heads = cfg.heads
        self.hd = cfg.head_dim or cfg.hidden // cfg.heads
        width = self.heads * self.hd                                  # hidden, unless heads were pruned
        mask = torch.tril(torch.ones(cfg.max_seq, cfg.max_seq)).view(1, 1, cfg.max_seq, cfg.max_seq)
        self.register_buffer("causal_mask", mask)                    # saved before qkv (buffer first)
        self.qkv = nn.Linear(cfg.hidden, 3 * width, bias=False)
        self.out_proj = nn.Linear(width, cfg.hidden, bias=False)

    def forward(self, x):
        bsz, steps, d = x.shape
        hd, width = self.hd, self.heads * self.hd
        q, k, v = self.qkv(x).split(width, dim=-1)                   # q | k | v along the output dim
        q, k, v = (t.view(bsz, steps, self.heads, hd).transpose(1, 2) for t in (q, k, v))
        scores = torch.matmul(q, k.transpose(-2, -1)) * hd ** -0.5
        scores = scores.masked_fill(self.causal_mask[:, :, :steps, :steps] == 0, float("-inf"))
        att = torch.matmul(F.softmax(scores, dim=-1), v)             # [B, H, T, hd]
        return self.out_proj(att.transpose(1, 2).reshape(bsz, steps, width))


class TransformerBlock(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.attention = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.ffn = Expert(cfg.hidden, cfg.ffn_size)

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class Transformer(EmbeddedLM):
    def __init__(self, cfg: TransformerConfig):
        super().__init__(cfg, "blocks", lambda: nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg.layers)]))

    def forward(self, ids):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def aux_loss(self):
        return 0.0


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------

def state_dict_of(obj):
    """The state_dict inside a loaded checkpoint (wrapper dict or raw state_dict)."""
    if isinstance(obj, dict) and "model_state_dict" in obj:
        return obj["model_state_dict"]
    return obj


def heads_from_meta(obj) -> Optional[int]:
    """num_heads / n_heads from a checkpoint's 'config' entry (dict or printed dict)."""
    if not isinstance(obj, dict) or "config" not in obj:
        return None
    conf = obj["config"]
    if not isinstance(conf, dict):
        conf = getattr(conf, "__dict__", None) or {}
        if not conf:
            m = re.search(r"['\"]?n(?:um)?_heads['\"]?\s*[:=]\s*(\d+)", str(obj["config"]))
            return int(m.group(1)) if m else None
    for key in ("num_heads", "n_heads"):
        if key in conf:
            return int(conf[key])
    return None


def infer_itera_config(sd) -> IteraConfig:
    """From shapes alone, as the original loaders did (itera-lite.md 3.7)."""
    vocab, d = sd["embedding.weight"].shape
    layers = 0
    while f"layers.{layers}.ssm.in_proj.weight" in sd:
        layers += 1
    moe = [i for i in range(layers) if f"layers.{i}.moe.layer.router.gate.weight" in sd]
    if moe:
        experts = sd[f"layers.{moe[0]}.moe.layer.router.gate.weight"].shape[0]
        f = sd[f"layers.{moe[0]}.moe.layer.experts.0.w1.weight"].shape[0]
    else:
        experts = 0
        f = sd["layers.0.moe.ffn.w1.weight"].shape[0]
    dense = [i for i in range(layers) if i not in moe]
    if dense:
        f = sd[f"layers.{dense[0]}.moe.ffn.w1.weight"].shape[0]
    di = sd["layers.0.ssm.ssm.D"].shape[0]
    return IteraConfig(
        vocab=vocab, hidden=d, layers=layers,
        state=sd["layers.0.ssm.ssm.B"].shape[0],
        conv=sd["layers.0.ssm.conv1d.weight"].shape[2],
        expand=di // d, experts=experts, expert_size=f, top_k=2, moe_layers=moe,
        max_seq=sd["position_embedding.weight"].shape[0])


def infer_transformer_config(sd, heads: Optional[int]) -> TransformerConfig:
    if heads is None:
        raise ValueError("the transformer's head count is not in its shapes: pass heads=")
    vocab, d = sd["embedding.weight"].shape
    layers = 0
    while f"blocks.{layers}.attention.qkv.weight" in sd:
        layers += 1
    hd = sd["blocks.0.attention.qkv.weight"].shape[0] // 3 // heads
    return TransformerConfig(vocab=vocab, hidden=d, layers=layers, heads=heads,
                             ffn_size=sd["blocks.0.ffn.w1.weight"].shape[0],
                             max_seq=sd["position_embedding.weight"].shape[0],
                             head_dim=0 if hd * heads == d else hd)


def model_from_state_dict(sd, heads: Optional[int] = None):
    """Builds the right family from a state_dict and loads it (strict)."""
    sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    if "blocks.0.attention.qkv.weight" in sd:
        model = Transformer(infer_transformer_config(sd, heads))
    else:
        model = IteraLite(infer_itera_config(sd))
    if "lm_head.weight" not in sd:
        sd["lm_head.weight"] = sd["embedding.weight"]
    model.load_state_dict(sd, strict=True)
    return model.eval()


def load_checkpoint(path: str, heads: Optional[int] = None):
    """Loads a .pt written by the original repo or by save_checkpoint()."""
    obj = torch.load(path, map_location="cpu")
    if heads is None:
        heads = heads_from_meta(obj)
    return model_from_state_dict(state_dict_of(obj), heads)


def save_checkpoint(model, path: str, **extra):
    """{'model_state_dict', 'config'} as the original repo's Phase 7/8 scripts save them.
    The config is a plain dict (its printed repr is what squeeze's readers show)."""
    cfg = dict(model.cfg.__dict__)
    if not cfg.get("head_dim", 1):
        del cfg["head_dim"]  # the original repo's config has no head_dim
    if isinstance(model, Transformer):
        cfg["num_heads"] = cfg["heads"]
    obj = {"model_state_dict": model.state_dict(), "config": cfg}
    obj.update(extra)
    torch.save(obj, path)


# --------------------------------------------------------------------------
# Word tokenizer and perplexity (itera-lite.md 2.1-2.3)
# --------------------------------------------------------------------------

def word_ids(text: str, tokenizer_path: str) -> List[int]:
    """FrequencyTokenizer: lower(), whitespace split, unknown -> 1."""
    with open(tokenizer_path) as fh:
        tok = json.load(fh)
    table = tok.get("token_to_id") or tok.get("token2id")
    return [table.get(w, 1) for w in text.lower().split()]


@torch.no_grad()
def perplexities(model, ids: List[int], window: int = 128):
    """(t+1 ppl, t+2 ppl) over non-overlapping windows of `window` tokens: every
    window predicts its own next (t+1) and next-but-one (t+2) tokens."""
    nll1 = nll2 = 0.0
    n1 = n2 = 0
    for start in range(0, len(ids) - 2, window):
        chunk = torch.tensor(ids[start:start + window]).unsqueeze(0)
        if chunk.shape[1] < 3:
            break
        logp = F.log_softmax(model(chunk).double(), dim=-1)[0]
        tgt = chunk[0]
        nll1 -= logp[:-1].gather(1, tgt[1:, None]).sum().item()
        nll2 -= logp[:-2].gather(1, tgt[2:, None]).sum().item()
        n1 += tgt.shape[0] - 1
        n2 += tgt.shape[0] - 2
    return math.exp(nll1 / n1), math.exp(nll2 / n2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--heads", type=int)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_checkpoint(args.checkpoint, args.heads)
    print(model.cfg)
    with open(args.text, encoding="utf-8") as fh:
        text = fh.read()
    val = text[int(0.9 * len(text)):]                                # Phase 4 split (2.2)
    ids = word_ids(val, args.tokenizer)
    ppl1, ppl2 = perplexities(model, ids)
    print(f"val tokens {len(ids)}  t+1 ppl {ppl1:.2f}  t+2 ppl {ppl2:.4f}")


if __name__ == "__main__":
    main()
