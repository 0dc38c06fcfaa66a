/* kl.c - KL(P_baseline || P) of one position (kl.h). */
#include "metrics/kl.h"

#include <math.h>

#include "tensor/tensor.h"

double sq_kl_position(const uint16_t *baseline_f16, const double *log_probs, int vocab, double *work)
{
    double max = -INFINITY, sum = 0.0, lse, kl = 0.0;
    for (int v = 0; v < vocab; v++) {
        work[v] = (double)sq_f16_to_f32(baseline_f16[v]);
        if (work[v] > max)
            max = work[v];
    }
    for (int v = 0; v < vocab; v++)
        sum += exp(work[v] - max);
    lse = max + log(sum);
    for (int v = 0; v < vocab; v++) {
        double base_lp = work[v] - lse;
        double p = exp(base_lp);
        /* p = 0 (a -inf or underflowed log-prob) contributes nothing: 0 log 0 = 0. */
        if (p > 0.0)
            kl += p * (base_lp - log_probs[v]);
    }
    return kl;
}
