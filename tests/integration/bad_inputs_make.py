#!/usr/bin/python3
"""bad_inputs_make.py OUT DATA - writes the bad inputs of docs/bad-inputs.md into OUT.

Every file is made here from the fixtures in DATA (tests/data) and hand-written
bytes, so that nothing hostile is committed.  Used by test_bad_inputs.sh, which
then runs each row of the catalogue.  Needs python3-h5py and numpy (Debian).
"""
import io
import json
import os
import shutil
import struct
import sys
import zipfile

import h5py
import numpy as np

OUT, DATA = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)


def path(name):
    return os.path.join(OUT, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---------------------------------------------------------------- pickles and zips
def s(text):  # BINUNICODE
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def glob(module, name):  # GLOBAL
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def i4(v):  # BININT
    return b"J" + struct.pack("<i", v)


def tensor(key="0", storage="FloatStorage", numel=2, offset=0, size=(2,), stride=(1,), rebuild="_rebuild_tensor_v2"):
    pid = b"((" + s("storage") + glob("torch", storage) + s(key) + s("cpu") + i4(numel) + b"tQ"
    sizes = b"(" + b"".join(i4(x) for x in size) + b"t"
    strides = b"(" + b"".join(i4(x) for x in stride) + b"t"
    return glob("torch._utils", rebuild) + pid[:1] + pid[1:] + i4(offset) + sizes + strides + b"\x89" + \
        glob("collections", "OrderedDict") + b")Rt" + b"R"


def state_dict(*items):
    body = b"\x80\x02}" + b"(" + b"".join(s(k) + v for k, v in items) + b"u."
    return body


def checkpoint(name, pickle, storages=None, extra=None, byteorder=b"little", compress=False):
    storages = {"0": struct.pack("<2f", 1.5, -2.5)} if storages is None else storages
    with zipfile.ZipFile(path(name), "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle)
        if byteorder is not None:
            z.writestr("archive/byteorder", byteorder)
        for key, data in storages.items():
            z.writestr("archive/data/" + key, data)
        for entry, data in (extra or {}).items():
            z.writestr(entry, data)


good_sd = state_dict(("w", tensor()))
checkpoint("good.pt", good_sd)
write("empty.pt", b"")
write("random.pt", bytes((i * 37 + 11) % 256 for i in range(4096)))
with open(os.path.join(DATA, "checkpoints", "plain_state_dict.pt"), "rb") as f:
    whole = f.read()
write("cut-in-half.pt", whole[: len(whole) // 2])
with zipfile.ZipFile(path("no-data-pkl.pt"), "w") as z:
    z.writestr("archive/something.txt", "hello")
checkpoint("dotdot-entry.pt", good_sd, extra={"archive/../../evil": b"x"})
checkpoint("absolute-entry.pt", good_sd, extra={"/etc/evil": b"x"})
checkpoint("os-system.pt", b"\x80\x02" + glob("os", "system") + s("touch PWNED") + b"\x85R.")
checkpoint("eval-builtin.pt", b"\x80\x02" + glob("builtins", "eval") + s("__import__('os').system('touch PWNED')") + b"\x85R.")
checkpoint("protocol0.pt", b"(dp0\nS'w'\np1\nI1\ns.")
checkpoint("pickle-no-stop.pt", b"\x80\x02}" + s("w"))
checkpoint("unknown-opcode.pt", b"\x80\x02\xff.")
checkpoint("memo-never-stored.pt", b"\x80\x02h\x07.")
checkpoint("big-endian.pt", good_sd, byteorder=b"big")
checkpoint("missing-storage.pt", state_dict(("w", tensor(key="7"))))
checkpoint("beyond-storage.pt", state_dict(("w", tensor(size=(64,)))))
checkpoint("stride-zero.pt", state_dict(("w", tensor(numel=1, size=(1 << 28,), stride=(0,)))),
           storages={"0": struct.pack("<f", 1.0)})
checkpoint("zip-bomb.pt", b"\x80\x02" + b"N" * (32 << 20) + b".", compress=True)
checkpoint("complex-storage.pt", state_dict(("w", tensor(storage="ComplexFloatStorage"))))
checkpoint("storage-key-path.pt", state_dict(("w", tensor(key="../../x"))))
checkpoint("qtensor.pt", state_dict(("w", glob("torch._utils", "_rebuild_qtensor") + b"(" + i4(1) + b"tR")))
checkpoint("million-lists.pt", b"\x80\x02" + b"]" * (3 << 20) + b".")
checkpoint("no-tensors.pt", b"\x80\x02}" + b"(" + s("epoch") + i4(3) + b"u.")
checkpoint("negative-size.pt", state_dict(("w", tensor(size=(-2,)))))
checkpoint("sizes-strides.pt", state_dict(("w", tensor(size=(2,), stride=(1, 1)))))


# ---------------------------------------------------------------- safetensors
def safetensors(name, header, data=b"", raw_len=None):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(h) if raw_len is None else raw_len
    write(name, struct.pack("<Q", n) + h + data)


f32x2 = struct.pack("<2f", 1.0, 2.0)
safetensors("st-header-too-long.safetensors", b"{}", raw_len=1 << 40)
safetensors("st-not-json.safetensors", b"{\"w\": [1, 2,,]}")
safetensors("st-unknown-dtype.safetensors", {"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"ab")
safetensors("st-offsets-outside.safetensors", {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 80]}}, f32x2)
safetensors("st-span-mismatch.safetensors", {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, f32x2)
safetensors("st-overlap.safetensors", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                       "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, f32x2)
safetensors("st-shape-overflow.safetensors",
            {"w": {"dtype": "F32", "shape": [1 << 32, 1 << 32, 16], "data_offsets": [0, 8]}}, f32x2)
safetensors("st-duplicate-key.safetensors",
            b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
            b'"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', f32x2)
safetensors("st-nine-dims.safetensors", {"w": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}, f32x2[:4])
safetensors("st-negative-shape.safetensors", {"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, f32x2)
safetensors("st-no-offsets.safetensors", {"w": {"dtype": "F32", "shape": [2]}}, f32x2)
write("st-short.safetensors", b"\x08\x00\x00")

# ---------------------------------------------------------------- HDF5 artifacts
base = os.path.join(OUT, "base-inspect.h5")  # made by the test with squeeze-inspect before this script runs


def artifact_copy(name, edit):
    shutil.copy(base, path(name))
    with h5py.File(path(name), "r+") as f:
        edit(f)


def set_attr(obj, name, value):
    if name in obj.attrs:
        del obj.attrs[name]
    obj.attrs[name] = value


if os.path.exists(base):
    artifact_copy("h5-schema-99.h5", lambda f: set_attr(f, "schema_version", np.int64(99)))
    artifact_copy("h5-no-kind.h5", lambda f: f.attrs.__delitem__("squeeze_artifact"))
    artifact_copy("h5-two-kinds.h5", lambda f: set_attr(f, "squeeze_artifact", np.array([b"inspect", b"model"])))
    artifact_copy("h5-kind-int.h5", lambda f: set_attr(f, "squeeze_artifact", np.int64(7)))

    def huge(f):
        name = "layers.0.ssm.in_proj.weight"
        del f["model/tensors/" + name]
        f["model/tensors"].create_dataset(name, shape=(1 << 36, 1 << 4), maxshape=(None, None),
                                          chunks=(1024, 16), dtype="f4")
        ds = f["model/tensors/" + name]
        ds.attrs["format"] = "fp32"
        ds.attrs["original_dtype"] = "f32"
        ds.attrs["shape"] = np.array([1 << 36, 1 << 4], dtype=np.int64)
    artifact_copy("h5-huge-dataset.h5", huge)
    artifact_copy("h5-negative-shape.h5",
                  lambda f: set_attr(f["model/tensors/embedding.weight"], "shape", np.array([-1, 64], dtype=np.int64)))
    artifact_copy("h5-unknown-format.h5", lambda f: set_attr(f["model/tensors/embedding.weight"], "format", "q9_k"))
    artifact_copy("h5-missing-tensor.h5", lambda f: f["model/tensors"].__delitem__("embedding.weight"))
    artifact_copy("h5-no-model.h5", lambda f: f.__delitem__("model"))
    artifact_copy("h5-unknown-dtype.h5",
                  lambda f: set_attr(f["model/tensors/embedding.weight"], "original_dtype", "float128"))
    with open(base, "rb") as src:
        whole = src.read()
    write("h5-truncated.h5", whole[: len(whole) // 3])
    with h5py.File(path("h5-plain.h5"), "w") as f:
        f["x"] = np.arange(4)

# ---------------------------------------------------------------- tokenizers and data
write("tok-not-json.json", "{\"token2id\": {\"a\": 1,}")
write("tok-no-map.json", json.dumps({"vocab": {"a": 1}}))
write("tok-bad-level.json", json.dumps({"token2id": {"<PAD>": 0, "<UNK>": 1}, "level": "bpe"}))
write("tok-negative-id.json", json.dumps({"token2id": {"<PAD>": 0, "<UNK>": 1, "a": -4}}))
write("tok-huge-id.json", json.dumps({"token2id": {"<PAD>": 0, "<UNK>": 1, "a": 2147483000}}))
write("tok-no-unk.json", json.dumps({"token2id": {"<PAD>": 0}}))
write("tok-string-id.json", json.dumps({"token2id": {"<PAD>": 0, "<UNK>": 1, "a": "2"}}))
write("tok-deep.json", "[" * 100000 + "]" * 100000)
write("tok-hf-sparse-id.json", json.dumps({"model": {"type": "BPE", "vocab": {"a": 0, "b": 10000000}, "merges": []}}))
write("tok-hf-wordpiece.json", json.dumps({"model": {"type": "WordPiece", "vocab": {"a": 0}}}))
write("text-bad-utf8.txt", b"Once upon a time \xff\xfe there was a fox.\n" * 50)
write("tokens-odd.u16", b"\x01\x00\x02")
write("tokens-big.u16", struct.pack("<4H", 1, 2, 60000, 3) * 200)
write("text-empty.txt", b"")

# ---------------------------------------------------------------- YAML configs
bundled = os.path.join(DATA, "bundled")
good_config = f"""model:
  checkpoint: {bundled}/itera_tiny_bytes.pt
data:
  tokenizer: bytes
  calibration: {{path: {bundled}/austen_train.txt, end: 0.001}}
  evaluation: {{path: {bundled}/austen_val.txt, end: 0.02}}
evaluate:
  window_length: 64
  max_windows: 2
compress:
  recipe: int8
"""
write("good.yaml", good_config)
write("yaml-alias.yaml", good_config + "targets: &t {compression: 2.0}\nextra: *t\n")
write("yaml-deep.yaml", "model: " + "[" * 100 + "]" * 100 + "\n")
write("yaml-duplicate-key.yaml", good_config + "compress:\n  recipe: nf4\n")
write("yaml-two-documents.yaml", good_config + "---\n" + good_config)
write("yaml-tab-indent.yaml", "model:\n\tcheckpoint: x.pt\n")
write("yaml-unknown-key.yaml", good_config.replace("evaluate:", "evaluate:\n  windowlength: 64"))
write("yaml-negative-windows.yaml", good_config.replace("max_windows: 2", "max_windows: -3"))
write("yaml-string-ranks.yaml", good_config + "calibrate:\n  ranks: many\n")
write("yaml-bad-tokenizer.yaml", good_config.replace("tokenizer: bytes", f"tokenizer: {OUT}/tok-not-json.json"))
write("yaml-not-a-map.yaml", "- model\n- data\n")
write("yaml-empty.yaml", "")
write("yaml-missing-model.yaml", good_config.replace(f"  checkpoint: {bundled}/itera_tiny_bytes.pt\n", ""))
write("yaml-window-zero.yaml", good_config.replace("window_length: 64", "window_length: 0"))

# configs that point the good run at one bad tokenizer or data file each
for name in ["tok-not-json", "tok-no-map", "tok-bad-level", "tok-negative-id", "tok-huge-id", "tok-no-unk",
             "tok-string-id", "tok-deep", "tok-hf-sparse-id", "tok-hf-wordpiece"]:
    write(f"cfg-{name}.yaml", good_config.replace("tokenizer: bytes", f"tokenizer: {OUT}/{name}.json"))
tiny = os.path.join(DATA, "itera-lite", "tokenizer_tiny.json")
write("cfg-text-bad-utf8.yaml", good_config.replace("tokenizer: bytes", f"tokenizer: {tiny}")
      .replace(f"{bundled}/austen_val.txt, end: 0.02", f"{OUT}/text-bad-utf8.txt"))
write("cfg-tokens-odd.yaml", good_config.replace(f"{{path: {bundled}/austen_val.txt, end: 0.02}}",
                                                 f"{{path: {OUT}/tokens-odd.u16, format: u16}}"))
write("cfg-tokens-big.yaml", good_config.replace(f"{{path: {bundled}/austen_val.txt, end: 0.02}}",
                                                 f"{{path: {OUT}/tokens-big.u16, format: u16}}"))
write("cfg-text-empty.yaml", good_config.replace(f"{{path: {bundled}/austen_val.txt, end: 0.02}}",
                                                 f"{{path: {OUT}/text-empty.txt}}"))
write("cfg-text-missing.yaml", good_config.replace(f"{bundled}/austen_val.txt", f"{OUT}/no-such-text.txt"))
write("cfg-tokens-hdf5-float.yaml", good_config.replace(f"{{path: {bundled}/austen_val.txt, end: 0.02}}",
                                                        f"{{path: {OUT}/h5-plain-float.h5, format: hdf5}}"))
with h5py.File(path("h5-plain-float.h5"), "w") as f:
    f["tokens"] = np.linspace(0, 1, 100, dtype=np.float32)

# ---------------------------------------------------------------- precision maps
write("map-unknown-format.yaml", "rules:\n  - pattern: '**'\n    format: q3_magic\n")
write("map-unbalanced-brace.yaml", "rules:\n  - pattern: 'layers.{0,1.weight'\n    format: int8\ndefault: {format: fp32}\n")
write("map-no-default.yaml", "rules:\n  - pattern: 'layers.0.**'\n    format: int8\n")
write("map-bad-option.yaml", "rules:\n  - pattern: '**'\n    format: nf4\n    block_size: 7\n")
write("map-unknown-key.yaml", "rules:\n  - pattern: '**'\n    format: int8\n    colour: blue\n")
write("map-brace-bomb.yaml", "rules:\n  - pattern: '" + "{a,b}" * 16 + "'\n    format: int8\ndefault: {format: fp32}\n")
# pruning rules on the bundled Itera-Lite model (4 layers, 64 FFN channels, an SSM, no attention)
write("prune-ssm.yaml", "prune:\n  - target: ssm-state\n    fraction: 0.25\ndefault: fp32\n")
write("prune-too-many.yaml", "prune:\n  - target: ffn-channels\n    count: 100000\ndefault: fp32\n")
write("prune-fraction.yaml", "prune:\n  - target: ffn-channels\n    fraction: 1.0\ndefault: fp32\n")
write("prune-layer.yaml", "prune:\n  - target: ffn-channels\n    count: 1\n    layers: [7]\ndefault: fp32\n")
write("prune-heads.yaml", "prune:\n  - target: heads\n    count: 1\ndefault: fp32\n")
write("prune-unit.yaml", "prune:\n  - target: ffn-channels\n    unit: kv-groups\n    count: 2\ndefault: fp32\n")
write("prune-experts.yaml", "prune:\n  - target: experts\n    count: 1\ndefault: fp32\n")
print(len(os.listdir(OUT)), "bad inputs in", OUT)
