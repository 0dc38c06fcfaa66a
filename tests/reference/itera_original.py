"""itera_original.py - the Itera-Lite module computed the way the original repository
computes it, for speed comparisons (scripts/bench_evaluate.sh); not a golden source.

docs/itera-lite.md (section 1.4) describes the original forward pass of
github.com/CisnerosCodes/Itera-Lite (MIT, commit 00d4535): its S4Kernel runs the
scan as a Python loop in which every step multiplies the step's input by B, the
new state by C and adds D * a (three small matrix products per step, then a
stack), and its MixtureOfExperts gathers the tokens of each expert with
torch.where and scatters the gated outputs back.  itera_ref.py (squeeze's own
reference) computes the same function with B a and C s as one matrix product
over the whole window, leaving only the recurrence in the loop.

This file keeps itera_ref's module tree and state_dict (a checkpoint loads the
same way) and swaps in those two forward methods, written from that description.
Run as a script it checks that both give the same logits:

  /usr/bin/python3 tests/reference/itera_original.py CHECKPOINT
"""

import sys
import types

import torch
import torch.nn.functional as F

sys.path.insert(0, __import__("os").path.dirname(__file__))
import itera_ref  # noqa: E402


def s4_forward_per_step(self, a):  # a [B, T, di]
    delta = F.softplus(self.delta_proj(a)).mean(dim=-1, keepdim=True)  # [B, T, 1]
    A = -torch.exp(self.A_log)
    s = a.new_zeros(a.shape[0], self.A_log.shape[0])
    outputs = []
    for t in range(a.shape[1]):
        a_t, dt = a[:, t, :], delta[:, t, 0]
        s = torch.exp(dt.unsqueeze(-1) * A) * s
        s = s + dt.unsqueeze(-1) * torch.matmul(a_t, self.B.t())
        outputs.append(torch.matmul(s, self.C.t()) + self.D * a_t)
    return torch.stack(outputs, dim=1)


def moe_forward_gather_scatter(self, x):
    hn = self.norm(x)
    logits = self.router(hn)
    top_v, top_i = torch.topk(logits, self.top_k, dim=-1)
    top_g = F.softmax(top_v, dim=-1)
    out = torch.zeros_like(hn)
    for e, expert in enumerate(self.experts):
        chosen = (top_i == e).any(dim=-1)
        if not chosen.any():
            continue
        b, t = torch.where(chosen)
        y = expert(hn[b, t])
        gate = (top_g[b, t] * (top_i[b, t] == e).float()).sum(dim=-1, keepdim=True)
        out[b, t] += y * gate
    return x + out


def as_original(model):
    """The model with the original repository's way of computing its SSM scan and MoE."""
    for module in model.modules():
        if isinstance(module, itera_ref.S4Kernel):
            module.forward = types.MethodType(s4_forward_per_step, module)
        elif isinstance(module, itera_ref.MixtureOfExperts):
            module.forward = types.MethodType(moe_forward_gather_scatter, module)
    return model


def load_checkpoint(path):
    return as_original(itera_ref.load_checkpoint(path))


if __name__ == "__main__":
    ref = itera_ref.load_checkpoint(sys.argv[1])
    orig = load_checkpoint(sys.argv[1])
    ids = torch.randint(0, ref.cfg.vocab, (1, min(128, ref.cfg.max_seq)))
    with torch.inference_mode():
        diff = (ref(ids) - orig(ids)).abs().max().item()
    print(f"max |logit difference| itera_ref vs original computation: {diff:.3g}")
    sys.exit(0 if diff < 1e-4 else 1)
