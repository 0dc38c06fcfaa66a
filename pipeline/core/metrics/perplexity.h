/* perplexity.h - negative log-likelihood of a window's predictions.
 *
 * Log-softmax of the fp32 logits as PyTorch's F.log_softmax(logits.double())
 * (tests/reference/itera_ref.py) to within ~1e-7: the exponentials are float and
 * vectorised, their sum is double (sq_logsumexp).  Sums run in position order,
 * so a window's sums depend on nothing but the window: the same on every rank,
 * with any number of ranks.
 */
#ifndef SQ_METRICS_PERPLEXITY_H
#define SQ_METRICS_PERPLEXITY_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics/windows.h"

typedef struct {
    double nll_sum;       /* sum of -log p(target) over scored positions, in position order */
    double nll_sq_sum;    /* sum of the squares (for nll_std and llama.cpp's stderr) */
    int64_t scored;
    double side_nll_sum;  /* the same predictions scored against token t + offset + 1 */
    int64_t side_scored;  /* (only where that token is inside the window) */
    double kl_sum;        /* sum of KL(P_baseline || P_this) over scored positions */
} sq_window_score;

/* logsumexp of one position's logits: float exp, double sum, double result. */
double sq_logsumexp(const float *logits, int vocab);

/* Scores one window.
 *   logits         [plan->inputs, vocab] for the window's inputs
 *   window_tokens  the window's window_length tokens (text order)
 *   side           also score every prediction against token t + offset + 1
 *   baseline_lp    NULL, or the baseline's log-probs (IEEE half) of this window's
 *                  scored positions [scored, vocab]: adds the KL divergence
 *   lp_out         NULL, or [scored, vocab] IEEE half: receives this model's log-probs
 *   work           2 * vocab doubles of scratch */
void sq_score_window(const float *logits, int vocab, const int32_t *window_tokens, const sq_window_plan *plan,
                     const sq_window *window, bool side, const uint16_t *baseline_lp, uint16_t *lp_out,
                     double *work, sq_window_score *out);

#endif
