/* test_calib_stats.c - the histogram buckets on float bits against the frexp
 * definition of histogram.h, and the vectorised row binning against the scalar one. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "calib/histogram.h"
#include "test_support.h"

/* histogram.h's definition, written with frexp and the double edges 2^(k/16). */
static int reference_bin(float value)
{
    double a = fabs((double)value), mantissa;
    int exponent, step = 0;
    if (!(a >= ldexp(1.0, SQ_HIST_MIN_EXPONENT)))
        return 0;
    if (a >= ldexp(1.0, SQ_HIST_MAX_EXPONENT))
        return SQ_HIST_BINS - 1;
    mantissa = 2.0 * frexp(a, &exponent);
    while (step < SQ_HIST_BINS_PER_OCTAVE - 1 && mantissa >= sq_hist_bin_upper(1 + step) / ldexp(1.0, SQ_HIST_MIN_EXPONENT))
        step++;
    return 1 + (exponent - 1 - SQ_HIST_MIN_EXPONENT) * SQ_HIST_BINS_PER_OCTAVE + step;
}

START_TEST(test_bin_edges)
{
    /* every bucket edge, the floats on either side of it, both signs */
    for (int bin = 1; bin < SQ_HIST_BINS; bin++) {
        float edge = (float)sq_hist_bin_lower(bin);
        float probes[4] = {edge, nextafterf(edge, 0.0f), nextafterf(edge, INFINITY), (float)sq_hist_bin_lower(bin)};
        for (int i = 0; i < 4; i++)
            for (int sign = -1; sign <= 1; sign += 2) {
                float v = (float)sign * probes[i];
                ck_assert_msg(sq_hist_bin(v) == reference_bin(v), "%a: %d vs %d", (double)v, sq_hist_bin(v),
                              reference_bin(v));
            }
        /* the bucket of its lower edge (a float at or just above the exact edge) is the bucket itself */
        double exact = sq_hist_bin_lower(bin);
        float above = (float)exact < exact ? nextafterf((float)exact, INFINITY) : (float)exact;
        ck_assert_int_eq(sq_hist_bin(above), bin);
        ck_assert_int_eq(sq_hist_bin(nextafterf(above, 0.0f)), bin - 1);
    }
    float specials[] = {0.0f, -0.0f, 1e-45f, 1e-38f, 65504.0f, 3.4e38f, 4096.0f, nextafterf(4096.0f, 0.0f)};
    for (size_t i = 0; i < sizeof specials / sizeof *specials; i++)
        ck_assert_int_eq(sq_hist_bin(specials[i]), reference_bin(specials[i]));
}
END_TEST

START_TEST(test_bin_row_matches_scalar)
{
    enum { N = 4099 }; /* not a multiple of the vector width */
    static float values[N];
    static uint16_t bins[N];
    uint32_t state = 7;
    for (int i = 0; i < N; i++) {
        state = state * 1664525u + 1013904223u;
        /* magnitudes from 2^-24 to 2^14: below, inside and above the buckets */
        values[i] = (float)((state & 1 ? -1.0 : 1.0) * ldexp(1.0 + (double)(state >> 9) / 8388608.0,
                                                             (int)(state % 39) - 24));
    }
    values[5] = 0.0f;
    for (int start = 0; start < 9; start++) {
        memset(bins, 0xff, sizeof bins);
        sq_hist_bin_row(values + start, (size_t)(N - start), bins);
        for (int i = 0; i < N - start; i++) {
            ck_assert_int_eq(bins[i], sq_hist_bin(values[start + i]));
            ck_assert_int_eq(bins[i], reference_bin(values[start + i]));
        }
    }
}
END_TEST

int main(void)
{
    return sq_test_run_tests("calib_stats", 0, SQ_TESTS(test_bin_edges, test_bin_row_matches_scalar));
}
