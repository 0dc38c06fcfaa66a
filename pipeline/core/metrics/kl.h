/* kl.h - KL divergence of one position's distribution from a baseline's.
 *
 * KL(P_base || P) = sum_v p_base(v) (log p_base(v) - log p(v)), the direction
 * llama-perplexity's --kl-divergence reports (tools/perplexity/perplexity.cpp).
 * The baseline's log-probs arrive as IEEE half (stored by the baseline
 * evaluation); they are renormalised in double first, so both sides are proper
 * distributions and the rounding of the stored values only adds a second-order
 * term (KL of a model against its own stored log-probs is ~1e-7, not ~1e-3).
 */
#ifndef SQ_METRICS_KL_H
#define SQ_METRICS_KL_H

#include <stdint.h>

/* baseline_f16: vocab IEEE-half log-probs; log_probs: this model's (double,
 * normalised); work: vocab doubles of scratch. */
double sq_kl_position(const uint16_t *baseline_f16, const double *log_probs, int vocab, double *work);

#endif
