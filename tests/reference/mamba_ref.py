"""mamba_ref.py - PyTorch reference of the Mamba family (Mamba-1 and Mamba-2), sequential scan.

Written from the public definitions, not from squeeze's C code:

  Mamba-1   Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
            Spaces", Algorithm 2; the reference selective_scan_ref of
            github.com/state-spaces/mamba (mamba_ssm/ops/selective_scan_interface.py) and
            the slow path of transformers' MambaMixer (modeling_mamba.py).  Per layer:
            residual + mixer(RMSNorm(x)); mixer: in_proj -> (x, z); x = silu(causal
            depthwise conv1d(x) + b); x_proj(x) -> (dt [R], B [N], C [N]);
            dt = softplus(dt_proj(dt) + bias); A = -exp(A_log) [di, N];
            h_t = exp(dt A) h_{t-1} + dt B_t x_t; y_t = h_t C_t + D x_t;
            out_proj(y * silu(z)).
            Keys (HF MambaForCausalLM): backbone.embeddings.weight,
            backbone.layers.N.norm.weight, backbone.layers.N.mixer.{in_proj.weight,
            conv1d.weight, conv1d.bias, x_proj.weight, dt_proj.weight, dt_proj.bias, A_log, D,
            out_proj.weight}, backbone.norm_f.weight; lm_head tied (left out).
  Mamba-2   Dao & Gu 2024, "Transformers are SSMs" (SSD), the Mamba2 layer of
            mamba_ssm/modules/mamba2_simple.py and transformers' Mamba2Mixer.torch_forward:
            in_proj -> (z [di], xBC [di + 2 G N], dt [H]); xBC = silu(conv1d(xBC) + b);
            split x [H, P], B [G, N], C [G, N] (head h uses group h / (H / G));
            dt = softplus(dt + dt_bias); A = -exp(A_log) [H];
            S_t = exp(dt A) S_{t-1} + dt x_t B_t^T  ([P, N] per head); y_t = S_t C_t + D x_t;
            y = RMSNormGated(y, z) = GroupRMSNorm(y * silu(z)) * w (norm_before_gate=False,
            group size di / G, as mamba_ssm's RMSNormGated); out_proj(y).
            Keys (HF Mamba2ForCausalLM): as Mamba-1 but the mixer has in_proj.weight,
            conv1d.weight, conv1d.bias, dt_bias, A_log, D, norm.weight, out_proj.weight.

The scans are plain Python loops over time: slow and obviously right.  The
RMSNorm eps is config.layer_norm_epsilon for the block norms, norm_f and the
gated norm alike.
"""

import json
import math
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import randomise_parameters  # noqa: E402
from golden_io import read_safetensors, save_safetensors  # noqa: E402,F401  (re-exported)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def causal_conv(x, weight, bias):
    """Depthwise causal conv1d: x [B, T, C], weight [C, 1, K], bias [C]."""
    K = weight.shape[-1]
    y = F.conv1d(x.transpose(1, 2), weight, bias, padding=K - 1, groups=x.shape[-1])[..., : x.shape[1]]
    return y.transpose(1, 2)


@dataclass
class MambaDims:
    """What Mamba-1 and Mamba-2 configs share."""
    vocab: int = 256
    d_model: int = 64
    layers: int = 2
    d_inner: int = 128
    state: int = 16
    conv: int = 4


@dataclass
class Mamba1Config(MambaDims):
    dt_rank: int = 4
    eps: float = 1e-5


def parallel_scan(a, b):
    """h_t = a_t h_{t-1} + b_t along dim 1 (h_{-1} = 0) by Hillis-Steele doubling: log2(T)
    elementwise steps instead of T.  For training only (scripts/train_family_models.py);
    the goldens use the sequential loop."""
    T, k = a.shape[1], 1
    while k < T:
        b = torch.cat([b[:, :k], b[:, k:] + a[:, k:] * b[:, :-k]], dim=1)
        a = torch.cat([a[:, :k], a[:, k:] * a[:, :-k]], dim=1)
        k *= 2
    return b


class Mamba1Mixer(nn.Module):
    parallel = False  # set True on the class to train with parallel_scan

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.in_proj = nn.Linear(c.d_model, 2 * c.d_inner, bias=False)
        self.conv1d = nn.Conv1d(c.d_inner, c.d_inner, c.conv, groups=c.d_inner, padding=c.conv - 1, bias=True)
        self.x_proj = nn.Linear(c.d_inner, c.dt_rank + 2 * c.state, bias=False)
        self.dt_proj = nn.Linear(c.dt_rank, c.d_inner, bias=True)
        A = torch.arange(1, c.state + 1, dtype=torch.float32).repeat(c.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(c.d_inner))
        self.out_proj = nn.Linear(c.d_inner, c.d_model, bias=False)

    def forward(self, h):
        c = self.c
        x, z = self.in_proj(h).chunk(2, dim=-1)
        x = F.silu(causal_conv(x, self.conv1d.weight, self.conv1d.bias))
        dt, B, C = torch.split(self.x_proj(x), [c.dt_rank, c.state, c.state], dim=-1)
        dt = F.softplus(self.dt_proj(dt))                      # [b, T, di]
        A = -torch.exp(self.A_log)                             # [di, N]
        if Mamba1Mixer.parallel:
            states = parallel_scan(torch.exp(dt[..., None] * A), dt[..., None] * B[:, :, None, :] * x[..., None])
            y = (states * C[:, :, None, :]).sum(-1) + self.D * x
            return self.out_proj(y * F.silu(z))
        state = torch.zeros(h.shape[0], c.d_inner, c.state, dtype=h.dtype)
        ys = []
        for t in range(h.shape[1]):
            dA = torch.exp(dt[:, t, :, None] * A)              # [b, di, N]
            dBx = dt[:, t, :, None] * B[:, t, None, :] * x[:, t, :, None]
            state = dA * state + dBx
            ys.append((state * C[:, t, None, :]).sum(-1) + self.D * x[:, t])
        y = torch.stack(ys, dim=1)
        return self.out_proj(y * F.silu(z))


class Block(nn.Module):
    def __init__(self, c, mixer):
        super().__init__()
        self.norm = nn.Parameter(torch.ones(c.d_model))
        self.mixer = mixer


class Mamba1(nn.Module):
    version = 1
    mixer_class = Mamba1Mixer

    def __init__(self, c: Mamba1Config, init=False):
        super().__init__()
        self.cfg = c
        self.embeddings = nn.Embedding(c.vocab, c.d_model)
        self.layers = nn.ModuleList(Block(c, self.mixer_class(c)) for _ in range(c.layers))
        self.norm_f = nn.Parameter(torch.ones(c.d_model))
        if init:
            mamba_init(self)

    def forward(self, ids):
        c = self.cfg
        x = self.embeddings(ids)
        for layer in self.layers:
            x = x + layer.mixer(rmsnorm(x, layer.norm, c.eps))
        return F.linear(rmsnorm(x, self.norm_f, c.eps), self.embeddings.weight)


@dataclass
class Mamba2Config(MambaDims):
    heads: int = 8          # H; head_dim P = d_inner / H
    groups: int = 1         # G
    eps: float = 1e-5


class Mamba2Mixer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        conv_dim = c.d_inner + 2 * c.groups * c.state
        self.in_proj = nn.Linear(c.d_model, c.d_inner + conv_dim + c.heads, bias=False)
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, c.conv, groups=conv_dim, padding=c.conv - 1, bias=True)
        self.dt_bias = nn.Parameter(torch.zeros(c.heads))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, c.heads + 1, dtype=torch.float32)))
        self.D = nn.Parameter(torch.ones(c.heads))
        self.norm = nn.Parameter(torch.ones(c.d_inner))
        self.out_proj = nn.Linear(c.d_inner, c.d_model, bias=False)

    def forward(self, h):
        c = self.c
        b, T, _ = h.shape
        H, G, N, P = c.heads, c.groups, c.state, c.d_inner // c.heads
        z, xBC, dt = torch.split(self.in_proj(h), [c.d_inner, c.d_inner + 2 * G * N, H], dim=-1)
        xBC = F.silu(causal_conv(xBC, self.conv1d.weight, self.conv1d.bias))
        x, B, C = torch.split(xBC, [c.d_inner, G * N, G * N], dim=-1)
        x = x.reshape(b, T, H, P)
        B = B.reshape(b, T, G, N).repeat_interleave(H // G, dim=2)  # [b, T, H, N]
        C = C.reshape(b, T, G, N).repeat_interleave(H // G, dim=2)
        dt = F.softplus(dt + self.dt_bias)                          # [b, T, H]
        A = -torch.exp(self.A_log)                                   # [H]
        S = torch.zeros(b, H, P, N, dtype=h.dtype)
        ys = []
        for t in range(T):
            dA = torch.exp(dt[:, t] * A)                             # [b, H]
            S = dA[:, :, None, None] * S + (dt[:, t, :, None, None] * x[:, t, :, :, None] * B[:, t, :, None, :])
            ys.append((S * C[:, t, :, None, :]).sum(-1) + self.D[None, :, None] * x[:, t])
        y = torch.stack(ys, dim=1).reshape(b, T, c.d_inner)
        g = (y * F.silu(z)).reshape(b, T, G, c.d_inner // G)         # gate, then norm per group
        g = g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + c.eps)
        return self.out_proj(g.reshape(b, T, c.d_inner) * self.norm)


class Mamba2(Mamba1):
    """Mamba1's model around Mamba-2 mixers (the forward pass is the same); c is a Mamba2Config."""
    version = 2
    mixer_class = Mamba2Mixer


def mamba_init(model):
    """N(0, 0.02) matrices and embedding, out_proj scaled by 1/sqrt(2 layers) (mamba_ssm
    _init_weights); dt biases so that softplus gives dt in [1e-3, 1e-1] log-uniformly."""
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and "conv1d" not in name:
                std = 0.02 / math.sqrt(2 * model.cfg.layers) if "out_proj" in name else 0.02
                p.copy_(torch.randn(p.shape, generator=gen) * std)
            if name.endswith("dt_proj.bias") or name.endswith("dt_bias"):
                dt = torch.exp(torch.rand(p.shape, generator=gen) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
                p.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus


def randomise(model, seed):
    """Weights far from their init, so that every tensor visibly changes the logits."""
    randomise_parameters(model, seed, [(r"norm(_f)?$", 0.3, 1.0), (r"bias$", 0.5, -1.0), (r"A_log$", 0.7, 0.0),
                                       (r"\.D$", 1.0, 0.0), (r"embeddings", 0.7, 0.0)])
    return model


# ---------------------------------------------------------------- namings and files
def hf_state(model, prefix="backbone."):
    """HF key names; the tied head is left out.  prefix "" gives the names without backbone."""
    out = OrderedDict()
    out[prefix + "embeddings.weight"] = model.embeddings.weight
    for i, layer in enumerate(model.layers):
        p = f"{prefix}layers.{i}."
        out[p + "norm.weight"] = layer.norm
        for name, t in layer.mixer.named_parameters():
            key = name if "." in name else name
            if name == "norm":
                key = "norm.weight"
            out[p + "mixer." + key] = t
    out[prefix + "norm_f.weight"] = model.norm_f
    return OrderedDict((k, v.detach().float().contiguous()) for k, v in out.items())


def hf_config(model):
    c = model.cfg
    if model.version == 1:
        return OrderedDict(
            architectures=["MambaForCausalLM"], model_type="mamba", hidden_size=c.d_model, intermediate_size=c.d_inner,
            state_size=c.state, conv_kernel=c.conv, time_step_rank=c.dt_rank, num_hidden_layers=c.layers,
            layer_norm_epsilon=c.eps, vocab_size=c.vocab, use_bias=False, use_conv_bias=True,
            tie_word_embeddings=True, torch_dtype="float32")
    return OrderedDict(
        architectures=["Mamba2ForCausalLM"], model_type="mamba2", hidden_size=c.d_model, expand=c.d_inner // c.d_model,
        state_size=c.state, conv_kernel=c.conv, num_heads=c.heads, head_dim=c.d_inner // c.heads, n_groups=c.groups,
        num_hidden_layers=c.layers, layer_norm_epsilon=c.eps, vocab_size=c.vocab, use_bias=False,
        use_conv_bias=True, tie_word_embeddings=True, torch_dtype="float32")



def save_hf(model, path, config_path, prefix="backbone."):
    save_safetensors(path, hf_state(model, prefix), {"format": "pt"})
    with open(config_path, "w") as f:
        json.dump(hf_config(model), f, indent=2)
        f.write("\n")



def load_hf(path, config_path):
    with open(config_path) as f:
        c = json.load(f)
    if c["model_type"] == "mamba":
        model = Mamba1(Mamba1Config(vocab=c["vocab_size"], d_model=c["hidden_size"], layers=c["num_hidden_layers"],
                                    d_inner=c["intermediate_size"], state=c["state_size"], conv=c["conv_kernel"],
                                    dt_rank=c["time_step_rank"], eps=c["layer_norm_epsilon"]))
    else:
        model = Mamba2(Mamba2Config(vocab=c["vocab_size"], d_model=c["hidden_size"], layers=c["num_hidden_layers"],
                                    d_inner=c["expand"] * c["hidden_size"], state=c["state_size"], conv=c["conv_kernel"],
                                    heads=c["num_heads"], groups=c["n_groups"], eps=c["layer_norm_epsilon"]))
    sd = read_safetensors(path)
    prefix = "backbone." if "backbone.embeddings.weight" in sd else ""
    mine = hf_state(model, prefix)
    assert list(sd) == list(mine), f"{path}: keys differ"
    with torch.no_grad():
        model.embeddings.weight.copy_(sd[prefix + "embeddings.weight"])
        model.norm_f.copy_(sd[prefix + "norm_f.weight"])
        for i, layer in enumerate(model.layers):
            p = f"{prefix}layers.{i}."
            layer.norm.copy_(sd[p + "norm.weight"])
            for name, t in layer.mixer.named_parameters():
                t.copy_(sd[p + "mixer." + ("norm.weight" if name == "norm" else name)])
    return model
