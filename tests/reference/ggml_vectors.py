#!/usr/bin/python3
"""ggml_vectors.py - expected ggml block bytes (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K), in numpy.

Re-derives, independently of squeeze's C code, what ggml's reference quantizers
write, from their public definition in ggml (src/ggml-common.h: the block
structs; src/ggml-quants.c: quantize_row_q8_0_ref, quantize_row_q4_0_ref,
quantize_row_q4_1_ref, quantize_row_q4_K_ref with make_qkx2_quants,
quantize_row_q6_K_ref with make_qx_quants, nearest_int).  Every operation is
done in float32 as the C code does it; sums that C accumulates left to right
are np.cumsum in float32 (sequential, unlike np.sum's pairwise order); C's
roundf (ties away from zero) and the float -> int8_t truncation are spelled out.

Cases (tests/data/quant/ggml/):
  <case>.f32          input rows, float32 little-endian, preceded by two u32 (rows, cols)
  <case>.<type>       expected blocks for the whole input (rows one after another)
Synthetic cases: random rows over many magnitudes, all-zero rows and sub-blocks,
ties (values on exact half steps, +-max of equal magnitude), outliers, tiny
values (subnormal fp16 scales).  Real cases: rows of the bundled models'
weights, read from tests/data/bundled/*.safetensors (the C test reads the same
rows with squeeze's safetensors reader, so only the expected bytes are stored).

    /usr/bin/python3 tests/reference/ggml_vectors.py
"""
import json
import os
import struct
import sys

import numpy as np

F32 = np.float32
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
OUT = os.path.join(DATA, "quant", "ggml")
QK_K = 256
GROUP_MAX_EPS = F32(1e-15)


def fp16_bits(x):
    """GGML_FP32_TO_FP16: IEEE binary16, round to nearest even (numpy's cast does that)."""
    return np.array([x], dtype=F32).astype(np.float16).view(np.uint16)[0]


def fp16_value(bits):
    return F32(np.array([bits], dtype=np.uint16).view(np.float16)[0])


def nearest_int(v):
    """ggml-quants.c::nearest_int on float32 array or scalar: (bits(v + 12582912.f) & 0x7fffff) - 0x400000."""
    val = (np.asarray(v, dtype=F32) + F32(12582912.0)).astype(F32)
    return (val.view(np.int32) & 0x007FFFFF) - 0x00400000


def seq_sum(a):
    """float s = 0; for (...) s += a[i];  (left to right, float32)."""
    a = np.asarray(a, dtype=F32)
    return F32(np.cumsum(a, dtype=F32)[-1]) if a.size else F32(0)


def c_roundf(v):
    """roundf: ties away from zero (exact in float64 for float32 inputs)."""
    v = np.asarray(v, dtype=np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def c_to_int8(v):
    """(int8_t)float: truncation toward zero (values here are in range)."""
    return np.trunc(np.asarray(v, dtype=np.float64)).astype(np.int64)


# ---- Q8_0: struct { ggml_half d; int8_t qs[32]; } ----
def q8_0_block(x):
    amax = F32(0)
    for v in x:
        amax = max(amax, F32(abs(v)))
    d = F32(amax / F32(127))
    idv = F32(F32(1) / d) if d != 0 else F32(0)
    q = c_roundf((x * idv).astype(F32)).astype(np.int8)
    return struct.pack("<H", fp16_bits(d)) + q.tobytes()


# ---- Q4_0: struct { ggml_half d; uint8_t qs[16]; } ----
def q4_0_block(x):
    amax, mx = F32(0), F32(0)
    for v in x:
        if amax < abs(v):
            amax, mx = F32(abs(v)), F32(v)
    d = F32(mx / F32(-8))
    idv = F32(F32(1) / d) if d != 0 else F32(0)
    q = np.minimum(15, c_to_int8(((x * idv).astype(F32) + F32(8.5)).astype(F32)))
    packed = (q[:16] | (q[16:] << 4)).astype(np.uint8)
    return struct.pack("<H", fp16_bits(d)) + packed.tobytes()


# ---- Q4_1: struct { ggml_half d; ggml_half m; uint8_t qs[16]; } ----
def q4_1_block(x):
    mn, mx = F32(x.min()), F32(x.max())
    d = F32(F32(mx - mn) / F32(15))
    idv = F32(F32(1) / d) if d != 0 else F32(0)
    q = np.minimum(15, c_to_int8((((x - mn).astype(F32) * idv).astype(F32) + F32(0.5)).astype(F32)))
    packed = (q[:16] | (q[16:] << 4)).astype(np.uint8)
    return struct.pack("<HH", fp16_bits(d), fp16_bits(mn)) + packed.tobytes()


# ---- Q4_K: struct { ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qs[128]; } ----
def make_qkx2_quants(nmax, x, weights, rmin, rdelta, nstep):
    """make_qkx2_quants(n, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, use_mad=false)."""
    mn, mx = F32(x[0]), F32(x[0])
    for v in x[1:]:
        if v < mn:
            mn = F32(v)
        if v > mx:
            mx = F32(v)
    sum_w = seq_sum(weights)
    sum_x = seq_sum((weights * x).astype(F32))
    if mn > 0:
        mn = F32(0)
    if mx == mn:
        return F32(0), F32(-mn), np.zeros(len(x), dtype=np.int64)
    iscale = F32(F32(nmax) / F32(mx - mn))
    scale = F32(F32(1) / iscale)
    L = np.clip(nearest_int((iscale * (x - mn).astype(F32)).astype(F32)), 0, nmax)
    diff = ((scale * L.astype(F32)).astype(F32) + mn).astype(F32) - x
    diff = (diff.astype(F32) * diff.astype(F32)).astype(F32)
    best_error = seq_sum((weights * diff).astype(F32))
    for step in range(nstep + 1):
        iscale = F32(F32(F32(rmin + F32(rdelta * F32(step))) + F32(nmax)) / F32(mx - mn))
        laux = np.clip(nearest_int((iscale * (x - mn).astype(F32)).astype(F32)), 0, nmax)
        lf = laux.astype(F32)
        wl = (weights * lf).astype(F32)
        sum_l = seq_sum(wl)
        sum_l2 = seq_sum((wl * lf).astype(F32))
        sum_xl = seq_sum((wl * x).astype(F32))
        D = F32(F32(sum_w * sum_l2) - F32(sum_l * sum_l))
        if D > 0:
            this_scale = F32(F32(F32(sum_w * sum_xl) - F32(sum_x * sum_l)) / D)
            this_min = F32(F32(F32(sum_l2 * sum_x) - F32(sum_l * sum_xl)) / D)
            if this_min > 0:
                this_min = F32(0)
                this_scale = F32(sum_xl / sum_l2)
            diff = (((this_scale * lf).astype(F32) + this_min).astype(F32) - x).astype(F32)
            diff = (diff * diff).astype(F32)
            cur_error = seq_sum((weights * diff).astype(F32))
            if cur_error < best_error:
                L = laux.copy()
                best_error, scale, mn = cur_error, this_scale, this_min
    return scale, F32(-mn), L


def get_scale_min_k4(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def q4_k_block(x):
    L = np.zeros(QK_K, dtype=np.int64)
    scales, mins = [], []
    max_scale, max_min = F32(0), F32(0)
    for j in range(8):
        xs = x[32 * j:32 * j + 32]
        sum_x2 = seq_sum((xs * xs).astype(F32))
        av_x = F32(np.sqrt(F32(sum_x2 / F32(32))))
        weights = (av_x + np.abs(xs)).astype(F32)
        sc, mn, L[32 * j:32 * j + 32] = make_qkx2_quants(15, xs, weights, F32(-1.0), F32(0.1), 20)
        scales.append(sc)
        mins.append(mn)
        if sc > max_scale:
            max_scale = sc
        if mn > max_min:
            max_min = mn
    inv_scale = F32(F32(63) / max_scale) if max_scale > 0 else F32(0)
    inv_min = F32(F32(63) / max_min) if max_min > 0 else F32(0)
    sb = [0] * 12
    for j in range(8):
        ls = min(63, int(nearest_int(F32(inv_scale * scales[j]))) & 0xFF)
        lm = min(63, int(nearest_int(F32(inv_min * mins[j]))) & 0xFF)
        if j < 4:
            sb[j], sb[j + 4] = ls, lm
        else:
            sb[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
            sb[j - 4] |= (ls >> 4) << 6
            sb[j] |= (lm >> 4) << 6
    d16, dmin16 = fp16_bits(F32(max_scale / F32(63))), fp16_bits(F32(max_min / F32(63)))
    for j in range(8):
        sc, m = get_scale_min_k4(j, sb)
        d = F32(fp16_value(d16) * F32(sc))
        if d == 0:
            continue
        dm = F32(fp16_value(dmin16) * F32(m))
        xs = x[32 * j:32 * j + 32]
        L[32 * j:32 * j + 32] = np.clip(nearest_int(((xs + dm).astype(F32) / d).astype(F32)), 0, 15)
    qs = []
    for j in range(0, QK_K, 64):
        qs.extend(int(L[j + l] | (L[j + l + 32] << 4)) for l in range(32))
    return struct.pack("<HH", d16, dmin16) + bytes(sb) + bytes(qs)


# ---- Q6_K: struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d; } ----
def make_qx_quants(nmax, x):
    """make_qx_quants(n, nmax, x, L, rmse_type=1, qw=NULL): weights x^2."""
    mx, amax = F32(0), F32(0)
    for v in x:
        if abs(v) > amax:
            amax, mx = F32(abs(v)), F32(v)
    if amax < GROUP_MAX_EPS:
        return F32(0), np.zeros(len(x), dtype=np.int64)
    w = (x * x).astype(F32)
    wx = (w * x).astype(F32)

    def sums(iscale):
        lv = np.clip(nearest_int((iscale * x).astype(F32)), -nmax, nmax - 1)
        lf = lv.astype(F32)
        return lv, seq_sum((wx * lf).astype(F32)), seq_sum(((w * lf).astype(F32) * lf).astype(F32))

    iscale = F32(F32(-nmax) / mx)
    lv, sumlx, suml2 = sums(iscale)
    L = lv + nmax
    scale = F32(sumlx / suml2) if suml2 != 0 else F32(0)
    best = F32(scale * sumlx)
    for step in range(-9, 10):
        if step == 0:
            continue
        iscale = F32(F32(-F32(F32(nmax) + F32(F32(0.1) * F32(step)))) / mx)
        lv, sumlx, suml2 = sums(iscale)
        if suml2 > 0 and F32(sumlx * sumlx) > F32(best * suml2):
            L = lv + nmax
            scale = F32(sumlx / suml2)
            best = F32(scale * sumlx)
    return scale, L


def q6_k_block(x):
    L = np.zeros(QK_K, dtype=np.int64)
    scales = []
    max_scale, max_abs_scale = F32(0), F32(0)
    for ib in range(16):
        sc, L[16 * ib:16 * ib + 16] = make_qx_quants(32, x[16 * ib:16 * ib + 16])
        scales.append(sc)
        if abs(sc) > max_abs_scale:
            max_abs_scale, max_scale = F32(abs(sc)), sc
    if max_abs_scale < GROUP_MAX_EPS:
        return bytes(210)
    iscale = F32(F32(-128) / max_scale)
    d16 = fp16_bits(F32(F32(1) / iscale))
    sc8 = [min(127, int(nearest_int(F32(iscale * s)))) for s in scales]
    for j in range(16):
        d = F32(fp16_value(d16) * F32(sc8[j]))
        if d == 0:
            continue
        xs = x[16 * j:16 * j + 16]
        L[16 * j:16 * j + 16] = np.clip(nearest_int((xs / d).astype(F32)), -32, 31) + 32
    ql, qh = [0] * 128, [0] * 64
    for half, j in enumerate(range(0, QK_K, 128)):
        for l in range(32):
            q1, q2, q3, q4 = (int(L[j + l + o]) for o in (0, 32, 64, 96))
            ql[64 * half + l] = (q1 & 0xF) | ((q3 & 0xF) << 4)
            ql[64 * half + l + 32] = (q2 & 0xF) | ((q4 & 0xF) << 4)
            qh[32 * half + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
    return bytes(ql) + bytes(qh) + np.array(sc8, dtype=np.int8).tobytes() + struct.pack("<H", d16)


TYPES = {"q8_0": (32, q8_0_block), "q4_0": (32, q4_0_block), "q4_1": (32, q4_1_block),
         "q4_k": (256, q4_k_block), "q6_k": (256, q6_k_block)}


def quantize(rows, kind):
    qk, fn = TYPES[kind]
    out = bytearray()
    for row in rows:
        for b in range(0, row.size, qk):
            out += fn(row[b:b + qk])
    return bytes(out)


def synthetic_cases():
    rng = np.random.default_rng(20261206)
    cases = {}
    scales = np.geomspace(1e-3, 1e2, 8).astype(F32)
    cases["random"] = (rng.standard_normal((8, 512)).astype(F32) * scales[:, None]).astype(F32)
    z = np.zeros((3, 256), dtype=F32)
    z[1, 32:] = rng.standard_normal(224).astype(F32)          # a zero sub-block, then values
    z[2, ::2] = rng.standard_normal(128).astype(F32)          # every other value zero
    cases["zeros"] = z
    t = np.zeros((4, 256), dtype=F32)
    t[0] = np.tile(np.arange(-8, 8, dtype=F32), 16)            # integers: x/d on exact half steps
    t[1] = np.tile(np.array([1, -1], dtype=F32), 128)          # +-max of equal magnitude, first wins
    t[2] = (np.arange(256, dtype=F32) % 31 - 15) * F32(0.5)    # halves
    t[3] = np.where(np.arange(256) % 16 == 0, F32(-2), F32(1)).astype(F32)  # negative max, positives equal
    cases["ties"] = t
    o = rng.standard_normal((4, 256)).astype(F32) * F32(0.02)
    o[0, 5] = F32(40.0)
    o[1, 100] = F32(-75.0)
    o[2, ::64] = F32(9.0)
    o[3, :] = np.abs(o[3, :])                                  # all positive (min > 0 branch)
    cases["outliers"] = o.astype(F32)
    tiny = rng.standard_normal((2, 256)).astype(F32) * F32(1e-6)
    tiny[1] *= F32(1e-12)                                      # below GROUP_MAX_EPS in places
    cases["tiny"] = tiny.astype(F32)
    return cases


def read_safetensors(path, name):
    """A tensor from a .safetensors file: u64 header length, JSON header, raw data."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    info = json.loads(blob[8:8 + n])[name]
    assert info["dtype"] == "F32"
    a, b = info["data_offsets"]
    return np.frombuffer(blob[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"])


# Real weights: (case, file, tensor, first rows).  Rows of 256 for the k-quants.
REAL = [
    ("real_itera_out_proj", "bundled/itera_tiny_bytes.safetensors", "layers.0.ssm.out_proj.weight", 16),
    ("real_itera_delta_proj", "bundled/itera_tiny_bytes.safetensors", "layers.1.ssm.ssm.delta_proj.weight", 16),
    ("real_itera_in_proj", "bundled/itera_tiny_bytes.safetensors", "layers.0.ssm.in_proj.weight", 32),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = []
    for name, rows in synthetic_cases().items():
        with open(os.path.join(OUT, name + ".f32"), "wb") as f:
            f.write(struct.pack("<II", rows.shape[0], rows.shape[1]) + rows.astype("<f4").tobytes())
        manifest.append((name, rows))
    for name, path, tensor, nrows in REAL:
        manifest.append((name, read_safetensors(os.path.join(DATA, path), tensor)[:nrows].astype(F32)))
    for name, rows in manifest:
        for kind, (qk, _) in TYPES.items():
            if rows.shape[1] % qk:
                continue
            with open(os.path.join(OUT, f"{name}.{kind}"), "wb") as f:
                f.write(quantize(rows, kind))
        print(name, rows.shape, file=sys.stderr)


if __name__ == "__main__":
    main()
