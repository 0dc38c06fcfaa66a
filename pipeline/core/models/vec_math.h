/* vec_math.h - activations over arrays, SQ_VF_LANES floats at a time.
 *
 * The SSM block spends most of its non-sgemm time in exp: SiLU of the conv
 * output and of the gate, softplus of delta_proj (3 x T x di per layer), and
 * the FFNs in erf (GELU).  libm's expf and erff are scalar calls the compiler
 * cannot vectorise, so exp is Cephes' expf (cephes/single/expf.c: range
 * reduction by ln 2 split in two constants, degree-6 polynomial, 2^n by
 * exponent bits; about 1 ulp on [-87, 88]) and erf a rational approximation,
 * written with GCC/Clang vector extensions, which every x86-64 and aarch64
 * target runs as SIMD without extra compiler flags.
 *
 * A vector is 8 floats: two SSE registers on a baseline x86-64 build, one AVX2
 * register in the kernels marked SQ_VEC_KERNEL, which GCC compiles twice
 * (baseline and x86-64-v3 = AVX2 + FMA) and picks between once at load time by
 * the CPU's features (function multiversioning), so one binary runs everywhere.
 */
#ifndef SQ_MODELS_VEC_MATH_H
#define SQ_MODELS_VEC_MATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A file that defines SQ_VF_WIDE before including this one gets vectors of 16 floats and a
 * third clone of its kernels for x86-64-v4 (one AVX-512 register; two AVX2 ones in the
 * x86-64-v3 clone): the forward's elementwise steps, where exp and the norms' passes are the
 * time outside the matrix products. */
#ifdef SQ_VF_WIDE
#define SQ_VF_LANES 16
#define SQ_VF_CLONES "arch=x86-64-v4", "arch=x86-64-v3", "default"
#else
#define SQ_VF_LANES 8
#define SQ_VF_CLONES "arch=x86-64-v3", "default"
#endif
typedef float sq_vf __attribute__((vector_size(SQ_VF_LANES * sizeof(float))));
typedef int32_t sq_vi __attribute__((vector_size(SQ_VF_LANES * sizeof(int32_t))));

/* Helpers are always inlined: into a SQ_VEC_KERNEL clone they then compile for
 * its instruction set, and no 32-byte vector crosses a call (an ABI question). */
#define SQ_VF_INLINE static inline __attribute__((always_inline))

#if !defined(SQ_VEC_KERNEL) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define SQ_VEC_KERNEL __attribute__((target_clones(SQ_VF_CLONES)))
#endif
#endif
#ifndef SQ_VEC_KERNEL
#define SQ_VEC_KERNEL
#endif

/* No helper is ever called (all are inlined), so GCC's note that 32-byte vector
 * arguments pass differently with and without AVX concerns nothing here; it is
 * raised where the helpers are used, so it stays off for the including file. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

SQ_VF_INLINE sq_vf sq_vf_splat(float v)
{
    sq_vf out;
    for (int i = 0; i < SQ_VF_LANES; i++)
        out[i] = v;
    return out;
}

/* mask ? a : b per lane, mask from a vector comparison (all ones or zero);
 * C has no vector ?: (GCC supports it only in C++). */
SQ_VF_INLINE sq_vf sq_vf_select(sq_vi mask, sq_vf a, sq_vf b)
{
    sq_vi ia, ib, r;
    sq_vf out;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    r = (mask & ia) | (~mask & ib);
    memcpy(&out, &r, sizeof out);
    return out;
}

/* e^x per lane for x in [-87.3, 88.3] (sq_vf_exp and sq_vf_exp_neg clamp to it). */
SQ_VF_INLINE sq_vf sq_vf_exp_in_range(sq_vf x)
{
    /* n = x log2 e rounded to the nearest integer by adding 1.5 * 2^23 + 127: the float's
     * last mantissa bits then hold n + 127 (one FMA, no conversions), and fx - shift is n */
    const sq_vf shift = sq_vf_splat(12583039.0f); /* 0x4B40007F */
    const sq_vf fx = x * sq_vf_splat(1.44269504088896341f) + shift;
    const sq_vf fn = fx - shift;
    /* r = x - n ln 2, ln 2 = 0.693359375 - 2.12194440e-4 (Cody-Waite) */
    x = x - fn * sq_vf_splat(0.693359375f) + fn * sq_vf_splat(2.12194440e-4f);
    sq_vf z = x * x;
    sq_vf y = sq_vf_splat(1.9875691500e-4f);
    y = y * x + sq_vf_splat(1.3981999507e-3f);
    y = y * x + sq_vf_splat(8.3334519073e-3f);
    y = y * x + sq_vf_splat(4.1665795894e-2f);
    y = y * x + sq_vf_splat(1.6666665459e-1f);
    y = y * x + sq_vf_splat(5.0000001201e-1f);
    y = y * z + x + sq_vf_splat(1.0f);
    /* times 2^n: n + 127 shifted into the exponent field (the shift's own bits above the
     * low 9 leave the 32 bits) */
    typedef uint32_t sq_vu __attribute__((vector_size(sizeof(sq_vf))));
    sq_vu bits;
    memcpy(&bits, &fx, sizeof bits);
    bits = bits << 23;
    sq_vf scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

/* e^x per lane; inputs beyond [-87.3, 88.3] are clamped (e^-87.3 ~ 1e-38, the
 * caller only needs exp of non-positive or moderate arguments). */
SQ_VF_INLINE sq_vf sq_vf_exp(sq_vf x)
{
    const sq_vf hi = sq_vf_splat(88.3762626647949f), lo = sq_vf_splat(-87.3365478515625f);
    x = sq_vf_select(x > hi, hi, x);
    return sq_vf_exp_in_range(sq_vf_select(x < lo, lo, x));
}

/* e^x for x <= 0 (the SSM's decays, softplus): as sq_vf_exp, without the upper clamp that
 * such an x never meets. */
SQ_VF_INLINE sq_vf sq_vf_exp_neg(sq_vf x)
{
    const sq_vf lo = sq_vf_splat(-87.3365478515625f);
    return sq_vf_exp_in_range(sq_vf_select(x < lo, lo, x));
}

/* |x| per lane: the sign bit cleared. */
SQ_VF_INLINE sq_vf sq_vf_abs(sq_vf x)
{
    sq_vi bits;
    memcpy(&bits, &x, sizeof bits);
    bits &= 0x7FFFFFFF;
    memcpy(&x, &bits, sizeof x);
    return x;
}

SQ_VF_INLINE sq_vf sq_vf_load(const float *p)
{
    sq_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

SQ_VF_INLINE void sq_vf_store(float *p, sq_vf v) { memcpy(p, &v, sizeof v); }

/* The first n (1..SQ_VF_LANES) floats at p, the other lanes zero: the tail of a row
 * whose width is not a multiple of the lanes (never reads past p + n). */
SQ_VF_INLINE sq_vf sq_vf_load_n(const float *p, size_t n)
{
    if (n >= SQ_VF_LANES) /* the common case: one plain load (a variable-size memcpy would be a call) */
        return sq_vf_load(p);
    sq_vf v = sq_vf_splat(0.0f);
    for (size_t i = 0; i < n; i++)
        v[i] = p[i];
    return v;
}

/* Stores the first n (1..SQ_VF_LANES) lanes of v at p. */
SQ_VF_INLINE void sq_vf_store_n(float *p, sq_vf v, size_t n)
{
    if (n >= SQ_VF_LANES) {
        sq_vf_store(p, v);
        return;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = v[i];
}

/* v with lanes n.. set to zero (n in 1..SQ_VF_LANES). */
SQ_VF_INLINE sq_vf sq_vf_first(sq_vf v, size_t n)
{
    float lanes[SQ_VF_LANES];
    sq_vf_store(lanes, v);
    for (size_t i = n; i < SQ_VF_LANES; i++)
        lanes[i] = 0.0f;
    return sq_vf_load(lanes);
}

/* The sum of the lanes: the two halves added as 4-lane vectors (one add on AVX2),
 * then (v0 + v2) + (v1 + v3). */
SQ_VF_INLINE float sq_vf_sum(sq_vf v)
{
    typedef float half_vf __attribute__((vector_size(4 * sizeof(float))));
    half_vf acc, part;
    memcpy(&acc, &v, sizeof acc);
    for (size_t off = sizeof acc; off < sizeof v; off += sizeof acc) {
        memcpy(&part, (const char *)&v + off, sizeof part);
        acc = acc + part;
    }
    return (acc[0] + acc[2]) + (acc[1] + acc[3]);
}

/* Runs op over v[0..n) in place, a vector at a time; the tail goes through a padded vector. */
#define SQ_VF_MAP(v, n, op)                                              \
    do {                                                                 \
        size_t i_ = 0;                                                   \
        for (; i_ + SQ_VF_LANES <= (n); i_ += SQ_VF_LANES)               \
            sq_vf_store((v) + i_, op(sq_vf_load((v) + i_)));             \
        if (i_ < (n))                                                    \
            sq_vf_store_n((v) + i_, op(sq_vf_load_n((v) + i_, (n) - i_)), (n) - i_); \
    } while (0)

/* 1 / y per lane for y in [2^-125, 2^126] without a division (a divider takes 10 cycles
 * an AVX-512 register and holds the SSM's loops at its pace): the guess 0x7EF311C3 - bits(y)
 * (the exponent mirrored, the mantissa's reciprocal approximated linearly: within 5.1 % of
 * 1/y), then three Newton steps r += r (1 - y r), each squaring the relative error: within
 * 6e-8 of y's reciprocal over [1, 2) (and so over every binade). */
SQ_VF_INLINE sq_vf sq_vf_recip(sq_vf y)
{
    sq_vi bits;
    sq_vf r;
    memcpy(&bits, &y, sizeof bits);
    bits = 0x7EF311C3 - bits;
    memcpy(&r, &bits, sizeof r);
#pragma GCC unroll 3
    for (int i = 0; i < 3; i++)
        r = r + r * (sq_vf_splat(1.0f) - y * r);
    return r;
}

/* SiLU x sigma(x) = x / (1 + e^-x) (F.silu); the denominator held to 2^126 so that its
 * reciprocal stays a normal float (below x = -87 SiLU is below 1e-36 either way). */
SQ_VF_INLINE sq_vf sq_vf_silu(sq_vf x)
{
    const sq_vf top = sq_vf_splat(8.507059e37f); /* 2^126 */
    sq_vf den = sq_vf_splat(1.0f) + sq_vf_exp(-x);
    return x * sq_vf_recip(sq_vf_select(den > top, top, den));
}

/* softplus with threshold 20 (F.softplus): x above 20, else max(x, 0) + log1p(e^-|x|),
 * log1p(u) = 2 atanh(u / (2 + u)) by its odd series (s <= 1/3, exact to float rounding),
 * its coefficients doubled (the same floats times 2: the factor 2 of 2 atanh, exact).
 * max(x, 0) is (x + |x|) / 2, exact; and above 20 the log1p term (< 2.1e-9) is below half an
 * ulp of x, so the sum rounds to x itself: the threshold needs no select of its own. */
SQ_VF_INLINE sq_vf sq_vf_softplus(sq_vf x)
{
    const sq_vf ax = sq_vf_abs(x);
    const sq_vf u = sq_vf_exp_neg(-ax);
    const sq_vf s = u * sq_vf_recip(sq_vf_splat(2.0f) + u), s2 = s * s;
    sq_vf series = sq_vf_splat(2.0f / 15);
    series = series * s2 + sq_vf_splat(2.0f / 13);
    series = series * s2 + sq_vf_splat(2.0f / 11);
    series = series * s2 + sq_vf_splat(2.0f / 9);
    series = series * s2 + sq_vf_splat(2.0f / 7);
    series = series * s2 + sq_vf_splat(2.0f / 5);
    series = series * s2 + sq_vf_splat(2.0f / 3);
    series = series * s2 + sq_vf_splat(2.0f);
    return (x + ax) * sq_vf_splat(0.5f) + s * series;
}

/* erf(x) as Eigen's generic_fast_erf_float (Eigen/src/Core/../SpecialFunctionsImpl.h,
 * also XLA's ErfImpl32): x clamped to [-4, 4] (erf(4) rounds to 1 in float), then
 * x p(x^2) / q(x^2) with p of degree 6 and q of degree 4 in x^2; a few ulp, no exp.
 * tests/unit/test_forward.c checks it against double erf. */
SQ_VF_INLINE sq_vf sq_vf_erf(sq_vf x)
{
    const sq_vf hi = sq_vf_splat(4.0f), lo = sq_vf_splat(-4.0f);
    x = sq_vf_select(x > hi, hi, x);
    x = sq_vf_select(x < lo, lo, x);
    const sq_vf x2 = x * x;
    sq_vf p = x2 * sq_vf_splat(-2.72614225801306e-10f) + sq_vf_splat(2.77068142495902e-08f);
    p = x2 * p + sq_vf_splat(-2.10102402082508e-06f);
    p = x2 * p + sq_vf_splat(-5.69250639462346e-05f);
    p = x2 * p + sq_vf_splat(-7.34990630326855e-04f);
    p = x2 * p + sq_vf_splat(-2.95459980854025e-03f);
    p = x2 * p + sq_vf_splat(-1.60960333262415e-02f);
    p = x * p;
    sq_vf q = x2 * sq_vf_splat(-1.45660718464996e-05f) + sq_vf_splat(-2.13374055278905e-04f);
    q = x2 * q + sq_vf_splat(-1.68282697438203e-03f);
    q = x2 * q + sq_vf_splat(-7.37332916720468e-03f);
    q = x2 * q + sq_vf_splat(-1.42647390514189e-02f);
    return -p * sq_vf_recip(-q); /* -q in [0.0143, 2.4]: no division */
}

/* F.gelu default (approximate='none'): 0.5 x (1 + erf(x / sqrt 2)). */
SQ_VF_INLINE sq_vf sq_vf_gelu(sq_vf x)
{
    return sq_vf_splat(0.5f) * x * (sq_vf_splat(1.0f) + sq_vf_erf(x * sq_vf_splat(0.70710678118654752f)));
}

#endif
