/* histogram.h - a fixed logarithmic bucket layout for |x| of activations.
 *
 * Every histogram in squeeze has the same buckets, so histograms from
 * different windows or MPI ranks add exactly (integer counts), and the
 * calibration artifact is the same for any number of ranks (DESIGN.md,
 * "Determinism").  Layout (docs/artifact-calibration.md):
 *
 *   bucket 0                 |x| < 2^-20 (zero included)
 *   bucket 1 + 16*o + s      2^(-20 + o + s/16) <= |x| < 2^(-20 + o + (s+1)/16),
 *                            o = 0..31 (octaves), s = 0..15
 *   bucket 513               |x| >= 2^12
 *
 * Sixteen buckets per octave make a bucket 4.4% wide, so a percentile read
 * from it (geometric interpolation inside the bucket, capped at the channel's
 * absmax) is within 4.4% of the exact order statistic.  The bucket of a value
 * is found from the float's exponent bits and a comparison of its mantissa
 * bits with fixed integers (the mantissas of 2^(k/16) rounded up), never with
 * log() or frexp(), so it is the same on every machine.
 */
#ifndef SQ_CALIB_HISTOGRAM_H
#define SQ_CALIB_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define SQ_HIST_BINS_PER_OCTAVE 16
#define SQ_HIST_MIN_EXPONENT (-20)
#define SQ_HIST_MAX_EXPONENT 12
#define SQ_HIST_BINS (2 + SQ_HIST_BINS_PER_OCTAVE * (SQ_HIST_MAX_EXPONENT - SQ_HIST_MIN_EXPONENT))

/* Bucket of |value| (value must be finite). */
int sq_hist_bin(float value);
/* bins[i] = sq_hist_bin(values[i]) for i < n, eight at a time. */
void sq_hist_bin_row(const float *values, size_t n, uint16_t *bins);
/* Bucket edges: [lower, upper); the last bucket's upper edge is +inf. */
double sq_hist_bin_lower(int bin);
double sq_hist_bin_upper(int bin);

/* The p-th percentile (0 < p <= 100) of the values counted in counts[SQ_HIST_BINS]
 * (nearest rank ceil(p/100 * N), interpolated geometrically inside its bucket,
 * never above absmax).  0 when the histogram is empty. */
double sq_hist_percentile_u32(const uint32_t *counts, double p, double absmax);
double sq_hist_percentile_u64(const uint64_t *counts, double p, double absmax);

#endif
