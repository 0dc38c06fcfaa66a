/* histogram.c - the fixed logarithmic |x| buckets of calibration (histogram.h). */
#include "calib/histogram.h"

#include <math.h>
#include <string.h>

#include "models/vec_math.h"

/* 2^(k/16) for k = 1..15, as exact binary constants (so bucket boundaries do
 * not depend on the C library's exp2 or log2). */
static const double octave_steps[SQ_HIST_BINS_PER_OCTAVE - 1] = {
    0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0, 0x1.306fe0a31b715p+0,
    0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0, 0x1.6a09e667f3bcdp+0,
    0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0, 0x1.ae89f995ad3adp+0,
    0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0,
};

/* The same edges on the float's own bits: |x| = (1 + m / 2^23) 2^(e - 127) for a
 * normal float, so 2m' = 1 + m / 2^23 >= octave_steps[k] exactly when the 23-bit
 * mantissa m >= ceil((octave_steps[k] - 1) 2^23), these integers.  The bucket
 * is then integer arithmetic on the bits: no frexp, no double, and eight lanes
 * at a time in sq_hist_bin_row (tests/unit/test_calib_stats.c checks both
 * against the frexp form at every edge). */
static const int32_t mantissa_steps[SQ_HIST_BINS_PER_OCTAVE - 1] = {
    0x05aac4, 0x0b95c2, 0x11c3d4, 0x1837f1, 0x1ef533, 0x25fed7, 0x2d583f, 0x3504f4,
    0x3d08a4, 0x45672b, 0x4e248d, 0x5744fd, 0x60ccdf, 0x6ac0c7, 0x75257e,
};

#define BITS_MIN ((int32_t)(127 + SQ_HIST_MIN_EXPONENT) << 23) /* bits of 2^-20 */
#define BITS_MAX ((int32_t)(127 + SQ_HIST_MAX_EXPONENT) << 23) /* bits of 2^12 */

int sq_hist_bin(float value)
{
    int32_t bits, step = 0;
    memcpy(&bits, &value, sizeof bits);
    bits &= 0x7fffffff; /* |value|; NaN (not expected) lands in the top bucket */
    if (bits < BITS_MIN)
        return 0;
    if (bits >= BITS_MAX)
        return SQ_HIST_BINS - 1;
    for (int k = 0; k < SQ_HIST_BINS_PER_OCTAVE - 1; k++)
        step += (bits & 0x7fffff) >= mantissa_steps[k];
    return 1 + ((bits - BITS_MIN) >> 23) * SQ_HIST_BINS_PER_OCTAVE + step;
}

SQ_VF_INLINE sq_vi vi_splat(int32_t v)
{
    sq_vi out;
    for (int i = 0; i < SQ_VF_LANES; i++)
        out[i] = v;
    return out;
}

SQ_VEC_KERNEL void sq_hist_bin_row(const float *values, size_t n, uint16_t *bins)
{
    const sq_vi sign_off = vi_splat(0x7fffffff), low = vi_splat(BITS_MIN), high = vi_splat(BITS_MAX);
    const sq_vi mantissa_mask = vi_splat(0x7fffff), top = vi_splat(SQ_HIST_BINS - 1);
    size_t i = 0;
    for (; i + SQ_VF_LANES <= n; i += SQ_VF_LANES) {
        sq_vi bits;
        memcpy(&bits, values + i, sizeof bits);
        bits &= sign_off;
        const sq_vi mantissa = bits & mantissa_mask;
        sq_vi bin = vi_splat(1) + ((bits - low) >> 23) * SQ_HIST_BINS_PER_OCTAVE;
        for (int k = 0; k < SQ_HIST_BINS_PER_OCTAVE - 1; k++)
            bin -= mantissa >= mantissa_steps[k]; /* a true comparison is -1 */
        bin &= ~(bits < low);                                /* bucket 0 */
        bin = (bin & ~(bits >= high)) | (top & (bits >= high)); /* the last bucket */
        for (int lane = 0; lane < SQ_VF_LANES; lane++)
            bins[i + (size_t)lane] = (uint16_t)bin[lane];
    }
    for (; i < n; i++)
        bins[i] = (uint16_t)sq_hist_bin(values[i]);
}

static double octave_edge(int index)
{
    /* 2^(MIN + index/16) from the exact constants. */
    int octave = index / SQ_HIST_BINS_PER_OCTAVE, step = index % SQ_HIST_BINS_PER_OCTAVE;
    double base = ldexp(1.0, SQ_HIST_MIN_EXPONENT + octave);
    return step == 0 ? base : base * octave_steps[step - 1];
}

double sq_hist_bin_lower(int bin)
{
    if (bin <= 0)
        return 0.0;
    return octave_edge(bin - 1);
}

double sq_hist_bin_upper(int bin)
{
    if (bin >= SQ_HIST_BINS - 1)
        return INFINITY;
    return octave_edge(bin);
}

static double percentile_in_bin(int bin, double fraction, double absmax)
{
    double lower = sq_hist_bin_lower(bin), upper = sq_hist_bin_upper(bin), value;
    if (bin == SQ_HIST_BINS - 1 || upper > absmax)
        upper = absmax; /* nothing counted lies above the channel's absmax */
    if (upper <= lower)
        return upper;
    if (bin == 0)
        value = lower + fraction * (upper - lower);
    else
        value = lower * pow(upper / lower, fraction);
    return value < absmax ? value : absmax;
}

#define PERCENTILE_BODY(counts)                                                         \
    uint64_t total = 0, rank, seen = 0;                                                 \
    for (int b = 0; b < SQ_HIST_BINS; b++)                                              \
        total += (counts)[b];                                                           \
    if (total == 0)                                                                     \
        return 0.0;                                                                     \
    rank = (uint64_t)ceil(p / 100.0 * (double)total);                                  \
    if (rank < 1)                                                                       \
        rank = 1;                                                                       \
    if (rank > total)                                                                   \
        rank = total;                                                                   \
    for (int b = 0; b < SQ_HIST_BINS; b++) {                                            \
        if ((counts)[b] == 0)                                                           \
            continue;                                                                   \
        if (seen + (counts)[b] >= rank)                                                 \
            return percentile_in_bin(b, (double)(rank - seen) / (double)(counts)[b], absmax); \
        seen += (counts)[b];                                                            \
    }                                                                                   \
    return absmax;

double sq_hist_percentile_u32(const uint32_t *counts, double p, double absmax) { PERCENTILE_BODY(counts) }

double sq_hist_percentile_u64(const uint64_t *counts, double p, double absmax) { PERCENTILE_BODY(counts) }
