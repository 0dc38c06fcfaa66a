#!/usr/bin/python3
"""ggml_libggml_check.py - the committed ggml block vectors (tests/data/quant/ggml) against ggml itself.

Calls quantize_row_{q8_0,q4_0,q4_1,q4_K,q6_K}_ref of the libggml-base.so that node-llama-cpp's prebuilt
llama.cpp ships (tests/js/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/) on the same inputs as
ggml_vectors.py and requires the same bytes: the numpy re-derivation, squeeze's C code (test_quant_ggml)
and ggml's own compiled reference all agree.

    /usr/bin/python3 tests/reference/ggml_libggml_check.py LIBGGML_BASE_SO
"""
import ctypes
import importlib.util
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("ggml_vectors", os.path.join(HERE, "ggml_vectors.py"))
gv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gv)

lib = ctypes.CDLL(sys.argv[1])
SIZES = {"q8_0": (32, 34), "q4_0": (32, 18), "q4_1": (32, 20), "q4_k": (256, 144), "q6_k": (256, 210)}
FN = {"q8_0": "quantize_row_q8_0_ref", "q4_0": "quantize_row_q4_0_ref", "q4_1": "quantize_row_q4_1_ref",
      "q4_k": "quantize_row_q4_K_ref", "q6_k": "quantize_row_q6_K_ref"}
cases = dict(gv.synthetic_cases())
for name, path, tensor, n in gv.REAL:
    cases[name] = gv.read_safetensors(os.path.join(gv.DATA, path), tensor)[:n].astype(np.float32)
same = differ = 0
for name, rows in cases.items():
    for kind, (qk, bb) in SIZES.items():
        if rows.shape[1] % qk:
            continue
        x = np.ascontiguousarray(rows.reshape(-1), dtype=np.float32)
        out = ctypes.create_string_buffer(x.size // qk * bb)
        getattr(lib, FN[kind])(x.ctypes.data_as(ctypes.c_void_p), out, ctypes.c_int64(x.size))
        expected = open(os.path.join(gv.OUT, f"{name}.{kind}"), "rb").read()
        if out.raw == expected:
            same += 1
        else:
            differ += 1
            first = next(i for i in range(len(expected)) if expected[i] != out.raw[i])
            print(f"FAIL {name} {kind}: first differing byte {first} (block {first // bb})")
print(f"libggml quantize_row_*_ref: {same} case/format pairs byte-identical to tests/data/quant/ggml, {differ} differ")
sys.exit(1 if differ or same == 0 else 0)
