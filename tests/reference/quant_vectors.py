#!/usr/bin/python3
"""quant_vectors.py - expected NF4 bytes computed from bitsandbytes' own definitions, in numpy.

bitsandbytes is not installed (nor needed): this script re-derives, independently
of squeeze's C code, what bitsandbytes' quantize_4bit(quant_type="nf4") and its
double quantization (compress_statistics=True) produce, from their public
definitions:
  - the NF4 code: bitsandbytes/functional.py::get_4bit_type("nf4");
  - the encoder: csrc/kernels.cu::dQuantizeNF4 (decision tree, `>` on midpoints),
    applied to clamp(x * (1/absmax), -1, 1) per block (kQuantizeBlockwise and
    backends/default/ops.py both multiply by the reciprocal); packing
    byte = q[2k] << 4 | q[2k+1] (backends/default/ops.py);
  - double quantization: offset = mean(absmax); quantize_blockwise(absmax - offset,
    blocksize=256) with create_dynamic_map(signed=True, max_exponent_bits=7,
    total_bits=8), choosing argmin |x - code| (backends/default/ops.py).
Everything is computed in float32 as torch does.  The inputs come from a small
integer generator that the C test replays exactly (see lcg_values).

Writes the files of tests/data/quant/nf4/ (committed; CI has no numpy run), each one
array's values and nothing else, little-endian: <name>.f32 float32, <name>.u8 bytes:
    /usr/bin/python3 tests/reference/quant_vectors.py
  dynamic_map.f32        create_dynamic_map(signed, 7 exponent bits, 8 bits): 256 entries
  a_*  case A: lcg_values(19237, seed 20240601), block 5 zeroed, block size 64:
       first_inputs.f32 (8), packed.u8, absmax.f32, absmax_q.u8 and nested_absmax.f32 of
       the double quantization (nested block 256), nested_offset.f32 (1)
  b_*  case B: lcg_values(91, seed 7), block size 32, double quant: the same files but
       first_inputs
  c_*  case C: the dQuantizeNF4 thresholds and their neighbours, absmax 1, block size 64:
       input.f32 (64), packed.u8
"""
import os
import sys
from fractions import Fraction

import numpy as np

F32 = np.float32

# functional.py::get_4bit_type("nf4")
NF4_CODE = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=F32)

def f32_literal(text):
    """The float32 nearest to a decimal literal, as a C/CUDA compiler reads `0.86...f`.
    (np.float32(float(text)) rounds twice, through double, and is off by one ulp for
    four of the thresholds below.)"""
    exact = Fraction(text)
    guess = np.float32(float(exact))
    candidates = [guess, np.nextafter(guess, np.float32(2)), np.nextafter(guess, np.float32(-2))]
    return min(candidates, key=lambda v: (abs(Fraction(float(v)) - exact), int(np.array(v).view(np.uint32)) & 1))


# kernels.cu::dQuantizeNF4 thresholds (float literals), node by node.
T = {k: f32_literal(v) for k, v in dict(
    root="0.03979014977812767", p1="0.3893125355243683", p11="0.6427869200706482", p111="0.8614784181118011",
    p110="0.5016634166240692", p10="0.2035212516784668", p101="0.2920137718319893", p100="0.1202552504837513",
    n0="-0.33967943489551544", n01="-0.13791173323988914", n011="-0.045525018125772476",
    n010="-0.23460740596055984", n00="-0.6106329262256622", n001="-0.4599952697753906",
    n000="-0.8480964004993439").items()}


# The kernel's tree is a binary search over these 15 thresholds (root the middle one; node
# "p10" is the right child's left child, and so on), testing `x > t` at every node.
SORTED_T = sorted(T.values())


def dquantize_nf4(x):
    """kernels.cu::dQuantizeNF4 for one float32: the leaf its tree reaches, which is the number of
    thresholds x is greater than (NaN compares false everywhere: code 0)."""
    x = F32(x)
    return sum(1 for t in SORTED_T if x > t)


def fma_f32(a, b, c):
    """a*b + c rounded once to float32 (exact rational arithmetic, then nearest float)."""
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    return F32(float(exact))


def torch_linspace_f32(start, end, steps):
    """torch.linspace(start, end, steps) for float32 on an x86-64 CPU, as torch's
    RangeFactoriesKernel.cpp computes it with its AVX2 kernel: step = (end-start)/(steps-1)
    in float; indices below steps//2 count from start, the others back from end; the
    vectorised loop takes 16 values at a time as two 8-wide vectors whose base
    start + step*idx is one fused multiply-add and whose lanes are base + j*step (rounded
    product, then the sum); the remaining (< 16) values take the scalar path, again one
    fused multiply-add.  Checked equal to torch.linspace for every size the dynamic map
    uses (2, 3, 5, 9, 17, 33, 65).  Other builds (no FMA, AVX-512) can differ in the last
    bit of some entries: bitsandbytes' map is whatever torch computed on that machine."""
    start, end = F32(start), F32(end)
    step = F32((end - start) / F32(steps - 1))
    halfway = steps // 2

    def scalar(idx):
        if idx < halfway:
            return fma_f32(step, F32(idx), start)
        return fma_f32(-step, F32(steps - idx - 1), end)

    out = np.empty(steps, dtype=F32)
    idx = 0
    while idx + 16 <= steps:
        for _ in range(2):
            base = scalar(idx)
            for j in range(8):
                out[idx + j] = base if j == 0 else F32(base + F32(F32(j) * step))
            idx += 8
    while idx < steps:
        out[idx] = scalar(idx)
        idx += 1
    return out


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    """functional.py::create_dynamic_map, numpy float32 in place of torch float32."""
    data = []
    non_sign_bits = total_bits - (1 if signed else 1)
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch_linspace_f32(0.1, 1, fraction_items)
        means = (boundaries[:-1] + boundaries[1:]) / F32(2.0)
        scale = F32(10 ** (-(max_exponent_bits - 1) + i))  # torch casts the python scalar to the tensor dtype
        data += (scale * means).tolist()
        if signed:
            data += (F32(-(10 ** (-(max_exponent_bits - 1) + i))) * means).tolist()
    if additional_items > 0:
        boundaries = torch_linspace_f32(0.1, 1, additional_items + 1)
        means = (boundaries[:-1] + boundaries[1:]) / F32(2.0)
        data += (F32(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (F32(-(10 ** (-(max_exponent_bits - 1) + i))) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 2 ** total_bits
    data.sort()
    return np.array(data, dtype=F32)


def quantize_4bit_nf4(a, blocksize):
    """quantize_4bit(A, blocksize, quant_type="nf4"): packed bytes and fp32 absmax."""
    a = a.astype(F32).reshape(-1)
    n = a.size
    blocks = (n + blocksize - 1) // blocksize
    absmax = np.zeros(blocks, dtype=F32)
    codes = np.zeros(n + (n % 2), dtype=np.uint8)
    for b in range(blocks):
        chunk = a[b * blocksize:(b + 1) * blocksize]
        absmax[b] = np.max(np.abs(chunk))
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = F32(1) / absmax[b]          # inf for a zero block, as on the GPU
            scaled = np.clip(chunk * inv, F32(-1), F32(1))   # NaN stays NaN
        for j, x in enumerate(scaled):
            codes[b * blocksize + j] = dquantize_nf4(x)
    if n % 2:
        codes[n] = dquantize_nf4(F32(0))      # the zero-filled load of the last pair
    packed = (codes[0::2] << 4) | codes[1::2]
    return packed.astype(np.uint8), absmax


def quantize_blockwise(a, code, blocksize=256):
    """backends/default/ops.py quantize_blockwise: argmin |clamp(a * (1/absmax)) - code|."""
    n = a.size
    blocks = (n + blocksize - 1) // blocksize
    absmax = np.zeros(blocks, dtype=F32)
    q = np.zeros(n, dtype=np.uint8)
    for b in range(blocks):
        chunk = a[b * blocksize:(b + 1) * blocksize]
        absmax[b] = np.max(np.abs(chunk))
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.clip(chunk * (F32(1) / absmax[b]), F32(-1), F32(1))
        diff = np.abs(scaled[:, None] - code[None, :])
        # torch.argmin treats NaN as the minimum: index 0 for a NaN row
        idx = np.where(np.isnan(diff).any(axis=1), 0, np.argmin(np.nan_to_num(diff, nan=np.inf), axis=1))
        q[b * blocksize:(b + 1) * blocksize] = idx
    return q, absmax


def double_quant(absmax, code):
    # offset = absmax.mean(): summed in double, rounded once (squeeze's documented choice)
    offset = F32(np.sum(absmax.astype(np.float64)) / absmax.size)
    q, nested = quantize_blockwise((absmax - offset).astype(F32), code, 256)
    return q, nested, offset


def dequantize(packed, absmax, blocksize, n):
    codes = np.empty(packed.size * 2, dtype=np.uint8)
    codes[0::2] = packed >> 4
    codes[1::2] = packed & 0xF
    out = NF4_CODE[codes[:n]] * np.repeat(absmax, blocksize)[:n]
    return out.astype(F32)


def lcg_values(n, seed):
    """Inputs the C test replays: a 64-bit LCG (Knuth MMIX constants); four 21-bit draws
    summed (an integer, exact in float32) and scaled by 2^-25; every 97th value x8."""
    state = seed & 0xFFFFFFFFFFFFFFFF
    out = np.empty(n, dtype=F32)
    for i in range(n):
        s = 0
        for _ in range(4):
            state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
            s += state >> 43
        v = F32(s - 2 * (1 << 21)) * F32(2.0 ** -25)
        if i % 97 == 0:
            v = v * F32(8)
        out[i] = v
    return out


def threshold_block():
    """A block of 64 with absmax exactly 1: each decision threshold, and its float
    neighbours on both sides (ties must go the way `x > t` says)."""
    vals = [F32(1.0), F32(-1.0)]
    for t in T.values():
        vals += [t, np.nextafter(t, F32(2)), np.nextafter(t, F32(-2))]
    vals += [F32(0.0), F32(-0.0)]
    vals += [F32(0.0)] * (64 - len(vals))
    return np.array(vals[:64], dtype=F32)


def write_vectors(folder, arrays):
    """Each array as <folder>/<name>, its values little-endian (float32 or bytes, by the suffix)."""
    os.makedirs(folder, exist_ok=True)
    for name, values in arrays.items():
        dtype = "<f4" if name.endswith(".f32") else "u1"
        with open(os.path.join(folder, name), "wb") as f:
            f.write(np.asarray(values).astype(dtype).tobytes())


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = os.path.join(root, "data", "quant", "nf4")
    dyn = create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)

    # Case A: 300 full blocks of 64 + a partial block of 37 (odd count), block 5 all zero.
    a = lcg_values(64 * 300 + 37, seed=20240601)
    a[5 * 64:6 * 64] = 0
    a_packed, a_absmax = quantize_4bit_nf4(a, 64)
    a_q, a_nested, a_offset = double_quant(a_absmax, dyn)
    # The decision tree and the torch backend's argmin agree on these inputs.
    for b in range(a_absmax.size):
        if a_absmax[b] > 0:
            chunk = a[b * 64:(b + 1) * 64] * (F32(1) / a_absmax[b])
            tree = np.array([dquantize_nf4(x) for x in np.clip(chunk, -1, 1)])
            argmin = np.argmin(np.abs(np.clip(chunk, -1, 1)[:, None] - NF4_CODE[None, :]), axis=1)
            assert (tree == argmin).all(), "tree and argmin disagree in block %d" % b
    deq = dequantize(a_packed, a_absmax, 64, a.size)
    err = np.max(np.abs(deq - a))
    assert err <= np.max(a_absmax) * 0.1617 / 2 + 1e-7, err

    # Case B: block 32, 91 values (two full blocks and 27), double quant in one nested block.
    b_in = lcg_values(91, seed=7)
    b_packed, b_absmax = quantize_4bit_nf4(b_in, 32)
    b_q, b_nested, b_offset = double_quant(b_absmax, dyn)

    # Case C: the decision thresholds themselves.
    c_in = threshold_block()
    c_packed, c_absmax = quantize_4bit_nf4(c_in, 64)

    write_vectors(out_dir, {
        "dynamic_map.f32": dyn,
        "a_first_inputs.f32": a[:8], "a_packed.u8": a_packed, "a_absmax.f32": a_absmax, "a_absmax_q.u8": a_q,
        "a_nested_absmax.f32": a_nested, "a_nested_offset.f32": [a_offset],
        "b_packed.u8": b_packed, "b_absmax.f32": b_absmax, "b_absmax_q.u8": b_q,
        "b_nested_absmax.f32": b_nested, "b_nested_offset.f32": [b_offset],
        "c_input.f32": c_in, "c_packed.u8": c_packed,
    })
    print("wrote %s (max |error| case A %.3g, offset %r)" % (out_dir, err, float(a_offset)), file=sys.stderr)


if __name__ == "__main__":
    main()
