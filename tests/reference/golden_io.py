"""golden_io.py - what the PyTorch references share: safetensors files and golden logits.

safetensors: the format of github.com/huggingface/safetensors (an 8-byte little-endian
header length, a JSON header of name -> dtype, shape, data_offsets, then the raw
little-endian data), written and read here for F32 only.

Golden files (tests/data/golden/<name>.h5, read by tests/unit/test_forward.c):
  attrs   checkpoint  the model file, relative to tests/data (a checkpoint, or a
                      squeeze model artifact for the pruned cases)
          family      the squeeze family name
          num_heads   the attention head count (0 without attention)
          windows     how many windows follow
          made_by     the script and reference that computed the logits
  tokens_<w>  int32 [T_w]       the window's token ids
  logits_<w>  float32 [T_w, V]  the reference's logits, computed in float64
"""

import argparse
import json
import os
import re
import struct
import zlib
from collections import OrderedDict

import h5py
import numpy as np
import torch

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(SOURCE, "tests", "data")


def save_safetensors(path, tensors, metadata=None):
    """tensors: name -> tensor, written as F32 in their order (atomically: .tmp then rename)."""
    header = OrderedDict()
    if metadata:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, t in tensors.items():
        arr = t.detach().cpu().float().contiguous().numpy().astype("<f4")
        raw = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    os.replace(path + ".tmp", path)


def read_safetensors(path):
    """name -> float32 tensor, in file order (F32 files only)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = OrderedDict()
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{path}: {name} is {info['dtype']}"
        b, e = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").copy()).reshape(info["shape"])
    return out


def randomise_parameters(model, seed, rules, matrices_only=False):
    """Weights far from their init, so that every tensor visibly changes the logits and a wrong
    index anywhere is caught.  Each parameter, in named_parameters order, draws N(0, 1) noise of
    its shape from one generator seeded with seed, and becomes scale * noise + shift for the first
    (pattern, scale, shift) of rules that re.search finds in its name; with none, the noise scaled
    by 1.5 / sqrt(fan-in) (with matrices_only, a vector no rule names keeps its value).  Returns the
    generator, for what the caller draws next."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            rule = next((rule for rule in rules if re.search(rule[0], name)), None)
            if rule is not None:
                _, scale, shift = rule
                p.copy_(scale * noise + shift if shift else scale * noise)
            elif p.dim() >= 2 or not matrices_only:
                p.copy_(noise * (1.5 / p.shape[-1] ** 0.5))
    return gen


def seeded_windows(name, vocab, lengths):
    """Random token ids seeded by the case name, one window per length."""
    gen = np.random.default_rng(zlib.crc32(name.encode()))
    return [gen.integers(0, vocab, size=n).astype(np.int32) for n in lengths]


def relative_to_data(path):
    rel = os.path.relpath(os.path.abspath(path), DATA)
    if rel.startswith(".."):
        print(f"warning: {path} is outside tests/data; the test cannot find it on a fresh checkout")
        return os.path.abspath(path)
    return rel


def write_golden(path, checkpoint, family, num_heads, windows, logits_of, made_by):
    """Writes one golden file; logits_of(ids int64 tensor [1, T]) -> float64 logits [T, V]
    (called under torch.no_grad()).  Returns the last window's logits."""
    logits = None
    with h5py.File(path, "w") as f:
        f.attrs["checkpoint"] = relative_to_data(checkpoint)
        f.attrs["family"] = family
        f.attrs["num_heads"] = int(num_heads)
        f.attrs["windows"] = len(windows)
        f.attrs["made_by"] = made_by
        for w, ids in enumerate(windows):
            with torch.no_grad():
                logits = logits_of(torch.from_numpy(ids.astype(np.int64)).unsqueeze(0))
            f.create_dataset(f"tokens_{w}", data=ids.astype(np.int32))
            f.create_dataset(f"logits_{w}", data=logits.float().numpy(), compression="gzip", compression_opts=9)
    return logits


def golden_cases(description):
    """The command line the family golden scripts share: --out FOLDER (tests/data/golden) and any
    number of --case NAME=DIR.  Returns (out, [(name, dir)]); torch runs on one thread, as the
    committed goldens were made."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(DATA, "golden"))
    ap.add_argument("--case", action="append", default=[], metavar="NAME=DIR")
    args = ap.parse_args()
    torch.set_num_threads(1)
    return args.out, [tuple(case.partition("=")[::2]) for case in args.case]
