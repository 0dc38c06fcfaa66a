/* perplexity.c - NLL sums of a window (perplexity.h). */
#include "metrics/perplexity.h"

#include <math.h>
#include <string.h>

#include "metrics/kl.h"
#include "tensor/tensor.h"

double sq_logsumexp(const float *logits, int vocab)
{
    /* F.log_softmax(x.double()): subtract the max, sum exp in double. */
    double max = -INFINITY, sum = 0.0;
    for (int v = 0; v < vocab; v++)
        if ((double)logits[v] > max)
            max = (double)logits[v];
    for (int v = 0; v < vocab; v++)
        sum += exp((double)logits[v] - max);
    return max + log(sum);
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
