/* histogram.c - the fixed logarithmic |x| buckets of calibration (histogram.h). */
#include "calib/histogram.h"

#include <math.h>

/* 2^(k/16) for k = 1..15, as exact binary constants (so bucket boundaries do
 * not depend on the C library's exp2 or log2). */
static const double octave_steps[SQ_HIST_BINS_PER_OCTAVE - 1] = {
    0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0, 0x1.306fe0a31b715p+0,
    0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0, 0x1.6a09e667f3bcdp+0,
    0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0, 0x1.ae89f995ad3adp+0,
    0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0,
};

int sq_hist_bin(float value)
{
    double a = fabs((double)value);
    int exponent, step = 0;
    double mantissa;
    if (!(a >= ldexp(1.0, SQ_HIST_MIN_EXPONENT)))
        return 0;
    if (a >= ldexp(1.0, SQ_HIST_MAX_EXPONENT))
        return SQ_HIST_BINS - 1;
    /* a = m * 2^e with m in [0.5, 1): log2(a) = (e - 1) + log2(2m), 2m in [1, 2). */
    mantissa = 2.0 * frexp(a, &exponent);
    while (step < SQ_HIST_BINS_PER_OCTAVE - 1 && mantissa >= octave_steps[step])
        step++;
    return 1 + (exponent - 1 - SQ_HIST_MIN_EXPONENT) * SQ_HIST_BINS_PER_OCTAVE + step;
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
