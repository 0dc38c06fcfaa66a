/* perplexity.c - NLL sums of a window (perplexity.h). */
#include "metrics/perplexity.h"

#include <math.h>
#include <string.h>

#include "metrics/kl.h"
#define SQ_VF_WIDE 1 /* 16 floats a vector: one AVX-512 register, two AVX2 ones (vec_math.h) */
#include "models/vec_math.h"
#include "tensor/tensor.h"

typedef double sq_vd8 __attribute__((vector_size(8 * sizeof(double))));

/* The lanes of a 16-float vector as two 8-double vectors (exact). */
SQ_VF_INLINE void widen(sq_vf v, sq_vd8 *lo, sq_vd8 *hi)
{
    *lo = __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), sq_vd8);
    *hi = __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15), sq_vd8);
}

SQ_VEC_KERNEL double sq_logsumexp(const float *logits, int vocab)
{
    /* log sum_v exp(x_v) = m + log sum_v exp(x_v - m), m the largest logit (so no
     * term exceeds 1 and the largest is exactly 1).  F.log_softmax(x.double())
     * computes every term in double; here the differences x_v - m and their exp
     * are float (vec_math.h's exp, about 1 ulp), sixteen at a time, two terms are
     * added in float and only the running sum is double: each term carries a
     * relative error of about 1e-7, the sum the same (the terms are positive, so
     * nothing cancels), and the result is within ~1e-7 of the double
     * computation.  The order of the additions is fixed by vocab alone (sixteen
     * lane sums, then the lanes in a fixed order, whichever clone runs), so a
     * window scores the same on every rank. */
    const int full = vocab - vocab % SQ_VF_LANES;
    const size_t tail = (size_t)(vocab - full);
    /* four running maxima, so the compare-and-select chains overlap (the maximum does not
     * depend on the order: the same value on every layout) */
    sq_vf t0 = sq_vf_splat(-INFINITY), t1 = t0, t2 = t0, t3 = t0;
    int v = 0;
    for (; v + 4 * SQ_VF_LANES <= full; v += 4 * SQ_VF_LANES) {
        sq_vf x0 = sq_vf_load(logits + v), x1 = sq_vf_load(logits + v + SQ_VF_LANES),
              x2 = sq_vf_load(logits + v + 2 * SQ_VF_LANES), x3 = sq_vf_load(logits + v + 3 * SQ_VF_LANES);
        t0 = sq_vf_select(x0 > t0, x0, t0);
        t1 = sq_vf_select(x1 > t1, x1, t1);
        t2 = sq_vf_select(x2 > t2, x2, t2);
        t3 = sq_vf_select(x3 > t3, x3, t3);
    }
    for (; v < full; v += SQ_VF_LANES) {
        sq_vf x = sq_vf_load(logits + v);
        t0 = sq_vf_select(x > t0, x, t0);
    }
    t0 = sq_vf_select(t1 > t0, t1, t0);
    t2 = sq_vf_select(t3 > t2, t3, t2);
    const sq_vf top = sq_vf_select(t2 > t0, t2, t0);
    float max = -INFINITY;
    for (int lane = 0; lane < SQ_VF_LANES; lane++)
        max = top[lane] > max ? top[lane] : max;
    for (v = full; v < vocab; v++)
        max = logits[v] > max ? logits[v] : max;
    if (!isfinite(max)) /* no finite logit: as the double form (inf, or NaN) */
        return max;
    const sq_vf m = sq_vf_splat(max);
    sq_vd8 sum_lo = {0, 0, 0, 0, 0, 0, 0, 0}, sum_hi = sum_lo, lo, hi;
    /* two vectors of terms are added in float (one rounding, 6e-8 relative, of positive
     * terms) before they are widened: half the conversions */
    for (v = 0; v + 2 * SQ_VF_LANES <= full; v += 2 * SQ_VF_LANES) {
        widen(sq_vf_exp(sq_vf_load(logits + v) - m) + sq_vf_exp(sq_vf_load(logits + v + SQ_VF_LANES) - m), &lo,
              &hi);
        sum_lo += lo;
        sum_hi += hi;
    }
    for (; v < full; v += SQ_VF_LANES) {
        widen(sq_vf_exp(sq_vf_load(logits + v) - m), &lo, &hi);
        sum_lo += lo;
        sum_hi += hi;
    }
    if (tail) { /* the padded lanes would add exp(0 - m): keep only the first tail lanes */
        widen(sq_vf_first(sq_vf_exp(sq_vf_load_n(logits + full, tail) - m), tail), &lo, &hi);
        sum_lo += lo;
        sum_hi += hi;
    }
    const sq_vd8 s = sum_lo + sum_hi;
    return (double)max + log(((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7])));
}

void sq_score_window(const float *logits, int vocab, const int32_t *window_tokens, const sq_window_plan *plan,
                     const sq_window *window, bool side, const uint16_t *baseline_lp, uint16_t *lp_out,
                     double *work, sq_window_score *out)
{
    int offset = plan->offset;
    bool need_log_probs = baseline_lp != NULL || lp_out != NULL;

    memset(out, 0, sizeof *out);
    for (int t = window->score_begin; t < window->score_end; t++) {
        const float *row = logits + (size_t)t * (size_t)vocab;
        double lse = sq_logsumexp(row, vocab);
        /* logits at t predict token t + offset of the window (windows.h) */
        double nll = lse - (double)row[window_tokens[t + offset]];
        out->nll_sum += nll;
        out->nll_sq_sum += nll * nll;
        out->scored++;
        if (side && t + offset + 1 < plan->window_length) {
            out->side_nll_sum += lse - (double)row[window_tokens[t + offset + 1]];
            out->side_scored++;
        }
        if (need_log_probs) {
            size_t r = (size_t)(t - window->score_begin) * (size_t)vocab;
            double *log_probs = work;
            for (int v = 0; v < vocab; v++)
                log_probs[v] = (double)row[v] - lse;
            if (lp_out != NULL)
                for (int v = 0; v < vocab; v++)
                    lp_out[r + v] = sq_f32_to_f16((float)log_probs[v]);
            if (baseline_lp != NULL)
                out->kl_sum += sq_kl_position(baseline_lp + r, log_probs, vocab, work + vocab);
        }
    }
}
