#!/usr/bin/python3
"""Writes the small checkpoint fixtures of tests/unit/test_checkpoint_*.c.

Run with Debian's python (torch 1.13):  /usr/bin/python3 tests/reference/make_checkpoints.py
The files go to tests/data/checkpoints/ and are committed (CI has no torch).
Every value is a simple formula of its index, so the C tests can check each
element exactly (all values are exact in fp16 and bf16).
"""
import json
import os
import struct
import sys
import types

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "checkpoints")


def path(name):
    return os.path.join(OUT, name)


def plain_state_dict():
    """torch.save(model.state_dict()): an OrderedDict of tensors at the top."""

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(5, 4)
            self.lin = torch.nn.Linear(4, 3)

    m = Tiny()
    with torch.no_grad():
        m.emb.weight.copy_(torch.arange(20, dtype=torch.float32).reshape(5, 4) * 0.5)
        m.lin.weight.copy_(torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1)
        m.lin.bias.copy_(torch.tensor([0.5, -0.5, 1.5]))
    torch.save(m.state_dict(), path("plain_state_dict.pt"))


def dtypes():
    """One tensor of every dtype squeeze reads, under a 'state_dict' wrapper."""
    sd = {
        "h": (torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5).half(),
        "b": (torch.arange(6, dtype=torch.float32) * 0.25 - 0.5).bfloat16(),
        "d": torch.tensor([1.0 / 3, 2.0 / 3], dtype=torch.float64),
        "l": torch.arange(4, dtype=torch.int64) - 2,
        "i": torch.tensor([7, -7], dtype=torch.int32),
        "s": torch.tensor([300, -300], dtype=torch.int16),
        "c": torch.tensor([-128, 127], dtype=torch.int8),
        "u": torch.tensor([0, 255], dtype=torch.uint8),
        "flag": torch.tensor([True, False, True]),
    }
    torch.save({"state_dict": sd}, path("dtypes.pt"))


def nested():
    """{'model': {'state_dict': ...}} plus top-level entries that are not tensors."""
    torch.save(
        {
            "model": {"state_dict": {"w": torch.arange(4, dtype=torch.float32)}, "arch": "tiny-mlp"},
            "epoch": 7,
            "config": {"vocab_size": 2000, "hidden_size": 64, "eps": 1e-05, "name": "micro",
                       "moe_layers": [1, 3], "tied": True},
        },
        path("nested.pt"),
    )


def tied_views():
    """Shared storage: a tied weight (one Parameter under two names) and views of one storage."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    emb = torch.nn.Parameter(torch.arange(8, dtype=torch.float32).reshape(2, 4) + 100)
    sd = {
        "embedding.weight": emb,        # _rebuild_parameter
        "lm_head.weight": emb,          # same storage, offset, size, stride: an alias
        "base": base,
        "transposed": base.t(),         # size (4, 3), stride (1, 4): not contiguous
        "row_slice": base[1:],          # storage offset 4
        "col_slice": base[:, 1:3],      # offset 1, stride (4, 1)
        "scalar": torch.tensor(2.5),    # 0-dim
        "empty": torch.zeros(0, 4),
    }
    torch.save(sd, path("tied_views.pt"))


def custom_config():
    """A pickled object of the user's own class (module models.config): printed, never run."""
    models = types.ModuleType("models")
    config = types.ModuleType("models.config")
    models.config = config
    sys.modules["models"] = models
    sys.modules["models.config"] = config

    class IteraLiteConfig:
        def __init__(self):
            self.vocab_size = 2000
            self.hidden_size = 64
            self.num_layers = 4

    IteraLiteConfig.__module__ = "models.config"
    IteraLiteConfig.__qualname__ = "IteraLiteConfig"
    config.IteraLiteConfig = IteraLiteConfig
    torch.save(
        {"model_state_dict": {"w": torch.ones(2, 2)}, "config": IteraLiteConfig(), "compression_ratio": 3.5},
        path("custom_config.pt"),
    )


class Scripted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)
        self.emb = torch.nn.Embedding(4, 3)

    def forward(self, x):
        return self.lin(self.emb(x))


def torchscript():
    """torch.jit.save: the module objects live in data.pkl with their tensors."""
    m = Scripted()
    with torch.no_grad():
        m.lin.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3))
        m.lin.bias.copy_(torch.tensor([-1.0, 1.0]))
        m.emb.weight.copy_(torch.arange(12, dtype=torch.float32).reshape(4, 3) * -0.5)
    torch.jit.script(m).save(path("torchscript.pt"))


def legacy():
    """The pre-1.6 pickle format squeeze refuses with a clear message."""
    torch.save({"w": torch.ones(2)}, path("legacy.pt"), _use_new_zipfile_serialization=False)


def safetensors():
    """Written by hand from the format definition (no safetensors package here):
    header order differs from data order, and __metadata__ is present."""
    a = struct.pack("<4f", 0.5, 1.0, 1.5, 2.0)
    b = torch.tensor([1.0, -2.0, 0.5]).bfloat16().view(torch.int16).numpy().tobytes()
    c = struct.pack("<2q", -5, 1 << 40)
    data = c + a + b
    header = {
        "__metadata__": {"format": "pt", "origin": "squeeze test"},
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [len(c), len(c) + len(a)]},
        "b": {"dtype": "BF16", "shape": [3], "data_offsets": [len(c) + len(a), len(data)]},
        "c": {"dtype": "I64", "shape": [2], "data_offsets": [0, len(c)]},
    }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path("tiny.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    for make in (plain_state_dict, dtypes, nested, tied_views, custom_config, torchscript, legacy, safetensors):
        make()
    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(path(name)):8d}  {name}")


if __name__ == "__main__":
    main()
