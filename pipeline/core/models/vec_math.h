/* vec_math.h - exp-based activations over arrays, four floats at a time.
 *
 * The SSM block spends most of its non-sgemm time in exp: SiLU of the conv
 * output and of the gate, softplus of delta_proj (3 x T x di per layer).
 * libm's expf is a scalar call the compiler cannot vectorise, so this is
 * Cephes' expf (cephes/single/expf.c: range reduction by ln 2 split in two
 * constants, degree-6 polynomial, 2^n by exponent bits; about 1 ulp on
 * [-87, 88]) written with GCC/Clang vector extensions, which every x86-64 and
 * aarch64 target runs as SIMD without extra compiler flags.
 */
#ifndef SQ_MODELS_VEC_MATH_H
#define SQ_MODELS_VEC_MATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef float sq_v4f __attribute__((vector_size(16)));
typedef int32_t sq_v4i __attribute__((vector_size(16)));

static inline sq_v4f sq_v4f_splat(float v) { return (sq_v4f){v, v, v, v}; }

/* mask ? a : b per lane, mask from a vector comparison (all ones or zero);
 * C has no vector ?: (GCC supports it only in C++). */
static inline sq_v4f sq_v4f_select(sq_v4i mask, sq_v4f a, sq_v4f b)
{
    sq_v4i ia, ib, r;
    sq_v4f out;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    r = (mask & ia) | (~mask & ib);
    memcpy(&out, &r, sizeof out);
    return out;
}

/* e^x for four floats; inputs beyond [-87.3, 88.3] are clamped (e^-87.3 ~ 1e-38, the
 * caller only needs exp of non-positive or moderate arguments). */
static inline sq_v4f sq_v4f_exp(sq_v4f x)
{
    const sq_v4f hi = sq_v4f_splat(88.3762626647949f), lo = sq_v4f_splat(-87.3365478515625f);
    x = sq_v4f_select(x > hi, hi, x);
    x = sq_v4f_select(x < lo, lo, x);
    /* n = floor(x log2 e + 0.5) */
    sq_v4f fx = x * sq_v4f_splat(1.44269504088896341f) + sq_v4f_splat(0.5f);
    sq_v4i n = __builtin_convertvector(fx, sq_v4i); /* truncates toward zero */
    sq_v4f fn = __builtin_convertvector(n, sq_v4f);
    n = n + (fn > fx); /* floor for negative fx: the comparison is -1 where true */
    fn = __builtin_convertvector(n, sq_v4f);
    /* r = x - n ln 2, ln 2 = 0.693359375 - 2.12194440e-4 (Cody-Waite) */
    x = x - fn * sq_v4f_splat(0.693359375f) + fn * sq_v4f_splat(2.12194440e-4f);
    sq_v4f z = x * x;
    sq_v4f y = sq_v4f_splat(1.9875691500e-4f);
    y = y * x + sq_v4f_splat(1.3981999507e-3f);
    y = y * x + sq_v4f_splat(8.3334519073e-3f);
    y = y * x + sq_v4f_splat(4.1665795894e-2f);
    y = y * x + sq_v4f_splat(1.6666665459e-1f);
    y = y * x + sq_v4f_splat(5.0000001201e-1f);
    y = y * z + x + sq_v4f_splat(1.0f);
    /* times 2^n, built in the exponent field */
    sq_v4i bits = (n + 127) << 23;
    sq_v4f scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

static inline sq_v4f sq_v4f_load(const float *p)
{
    sq_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void sq_v4f_store(float *p, sq_v4f v) { memcpy(p, &v, sizeof v); }

/* Runs op over v[0..n) in place, four at a time; the tail goes through a padded vector. */
#define SQ_V4F_MAP(v, n, op)                                     \
    do {                                                         \
        size_t i_ = 0;                                           \
        for (; i_ + 4 <= (n); i_ += 4)                           \
            sq_v4f_store((v) + i_, op(sq_v4f_load((v) + i_)));   \
        if (i_ < (n)) {                                          \
            float tail_[4] = {0, 0, 0, 0};                       \
            memcpy(tail_, (v) + i_, ((n) - i_) * sizeof(float)); \
            sq_v4f_store(tail_, op(sq_v4f_load(tail_)));         \
            memcpy((v) + i_, tail_, ((n) - i_) * sizeof(float)); \
        }                                                        \
    } while (0)

/* SiLU x sigma(x) = x / (1 + e^-x) (F.silu). */
static inline sq_v4f sq_v4f_silu(sq_v4f x) { return x / (sq_v4f_splat(1.0f) + sq_v4f_exp(-x)); }

/* softplus with threshold 20 (F.softplus): x above 20, else max(x, 0) + log1p(e^-|x|),
 * log1p(u) = 2 atanh(u / (2 + u)) by its odd series (s <= 1/3, exact to float rounding). */
static inline sq_v4f sq_v4f_softplus(sq_v4f x)
{
    const sq_v4f zero = sq_v4f_splat(0.0f);
    sq_v4f ax = sq_v4f_select(x < zero, -x, x);
    sq_v4f u = sq_v4f_exp(-ax);
    sq_v4f s = u / (sq_v4f_splat(2.0f) + u), s2 = s * s;
    sq_v4f series = sq_v4f_splat(1.0f / 15);
    series = series * s2 + sq_v4f_splat(1.0f / 13);
    series = series * s2 + sq_v4f_splat(1.0f / 11);
    series = series * s2 + sq_v4f_splat(1.0f / 9);
    series = series * s2 + sq_v4f_splat(1.0f / 7);
    series = series * s2 + sq_v4f_splat(1.0f / 5);
    series = series * s2 + sq_v4f_splat(1.0f / 3);
    series = series * s2 + sq_v4f_splat(1.0f);
    sq_v4f soft = sq_v4f_select(x > zero, x, zero) + sq_v4f_splat(2.0f) * s * series;
    return sq_v4f_select(x > sq_v4f_splat(20.0f), x, soft);
}

#endif
