#!/usr/bin/python3
"""Writes the odd checkpoints of tests/integration/test_inspect_odd.sh with PyTorch itself.

Run with Debian's python (python3-torch 1.13):  /usr/bin/python3 tests/reference/make_odd_checkpoints.py
The files go to tests/data/checkpoints/ and are committed (CI has no torch).  All three hold the
Itera-Lite micro model of tests/data/itera-lite/ (github.com/CisnerosCodes/Itera-Lite, MIT):

  itera_micro_dynamic_int8.pt  torch.ao.quantization.quantize_dynamic(model, ..., qint8) as users
                               make it for CPU, saved with torch.save(q.state_dict()): every Linear
                               but the tied head becomes packed int8 (_packed_params), every other one
                               with a per-tensor scale and zero point, the rest per output channel
  itera_micro_prefixed.pt      a wrapper module that holds the model as `model` (as Lightning and
                               many training scripts save it): every key starts with "model."
  itera_micro_quant_info.pt    the state dict plus a 'quantization_info' entry, as scripts that
                               fake-quantize weights (quantize and dequantize in fp32) record it
Each is followed by a reference file (.ref.json) with what PyTorch measures on it, for the test.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import itera_ref as R  # noqa: E402

DATA = os.path.join(HERE, "..", "data")
OUT = os.path.join(DATA, "checkpoints")


def main():
    torch.manual_seed(0)
    model = R.load_checkpoint(os.path.join(DATA, "itera-lite", "itera_lite_micro_distilled.pt"))
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n != "lm_head"]
    # every other Linear per output channel (per_channel_dynamic_qconfig), the rest per tensor
    spec = {n: torch.ao.quantization.per_channel_dynamic_qconfig if i % 2 else
            torch.ao.quantization.default_dynamic_qconfig for i, n in enumerate(names)}
    q = torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)
    sd = q.state_dict()
    torch.save(sd, os.path.join(OUT, "itera_micro_dynamic_int8.pt"))
    # the weights PyTorch runs: each packed weight dequantized, for the reader's golden values
    ref = {}
    for n in names[:3]:
        w, _ = getattr(q.get_submodule(n), "_packed_params")._weight_bias()
        ref[n + ".weight"] = {"first": [float(x) for x in w.dequantize().flatten()[:8]],
                              "last": [float(x) for x in w.dequantize().flatten()[-8:]],
                              "sum": float(w.dequantize().double().sum()),
                              "qscheme": str(w.qscheme()), "shape": list(w.shape)}
    with open(os.path.join(OUT, "itera_micro_dynamic_int8.ref.json"), "w") as f:
        json.dump({"packed_linears": len(names), "weights": ref}, f, indent=1)

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.model = inner

    torch.save(Wrapper(model).state_dict(), os.path.join(OUT, "itera_micro_prefixed.pt"))
    sd = dict(model.state_dict())
    sd["quantization_info"] = {"method": "int8-fake", "bits": 8, "layers": names[:2]}
    torch.save(sd, os.path.join(OUT, "itera_micro_quant_info.pt"))
    for name in ("itera_micro_dynamic_int8.pt", "itera_micro_prefixed.pt", "itera_micro_quant_info.pt"):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
