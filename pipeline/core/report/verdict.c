/* verdict.c - judging each variant against the run's targets (the seed's
 * success criteria): SUCCESS meets the compression target and the quality
 * threshold, PARTIAL meets compression only, FAILURE neither; a variant that
 * did not run is FAILED TO RUN, never left out. */
#include <math.h>

#include "report/run_results.h"

const char *sq_verdict_name(sq_verdict verdict)
{
    switch (verdict) {
    case SQ_VERDICT_SUCCESS: return "SUCCESS";
    case SQ_VERDICT_PARTIAL: return "PARTIAL";
    case SQ_VERDICT_FAILURE: return "FAILURE";
    case SQ_VERDICT_FAILED_TO_RUN: return "FAILED TO RUN";
    }
    return "?";
}

/* Quality change and its standard error from paired per-window NLL differences:
 * both models scored the same windows, so the per-window differences d_w carry
 * the uncertainty of the change, as llama.cpp's "Mean ln(PPL(Q)/PPL(base))" does
 * per token.  D = sum d_w / sum n_w (a ratio estimator over windows), and the
 * change is exp(D) - 1.  Without matching windows, fall back to combining the
 * two perplexities' own standard errors. */
static void quality_change(const sq_variant_result *base, sq_variant_result *v)
{
    int paired = base->windows == v->windows && base->windows > 1 && base->window_nll && v->window_nll;
    for (int64_t w = 0; paired && w < v->windows; w++)
        paired = base->window_tokens[w] == v->window_tokens[w];
    v->ppl_change_pct = 100.0 * (v->perplexity / base->perplexity - 1.0);
    if (paired) {
        double tokens = 0, diff = 0, spread = 0;
        int64_t count = v->windows;
        for (int64_t w = 0; w < count; w++) {
            tokens += (double)v->window_tokens[w];
            diff += v->window_nll[w] - base->window_nll[w];
        }
        double mean = diff / tokens;
        for (int64_t w = 0; w < count; w++) {
            double residual = (v->window_nll[w] - base->window_nll[w]) - mean * (double)v->window_tokens[w];
            spread += residual * residual;
        }
        double stderr_mean = sqrt(spread * (double)count / (double)(count - 1)) / tokens;
        v->ppl_change_stderr_pct = 100.0 * exp(mean) * stderr_mean;
    } else {
        double a = v->ppl_stderr / base->perplexity;
        double b = v->perplexity * base->ppl_stderr / (base->perplexity * base->perplexity);
        v->ppl_change_stderr_pct = 100.0 * sqrt(a * a + b * b);
    }
}

void sq_run_results_judge(sq_run_results *results)
{
    const sq_variant_result *base = &results->baseline;
    double best_bytes = 0;
    results->recommended = -1;
    for (int i = 0; i < results->variant_count; i++) {
        sq_variant_result *v = &results->variants[i];
        if (!v->evaluated) {
            v->verdict = SQ_VERDICT_FAILED_TO_RUN;
            continue;
        }
        quality_change(base, v);
        v->speed_ratio = base->tokens_per_second > 0 ? v->tokens_per_second / base->tokens_per_second : 0;
        int compressed = v->ratio_file >= results->target_compression;
        int quality = v->ppl_change_pct <= results->target_quality;
        v->verdict = compressed && quality ? SQ_VERDICT_SUCCESS : compressed ? SQ_VERDICT_PARTIAL
                                                                             : SQ_VERDICT_FAILURE;
    }
    /* Pareto front over (file bytes, quality change): nothing else is at least as
     * small and at least as good, and strictly better in one. */
    for (int i = 0; i < results->variant_count; i++) {
        sq_variant_result *v = &results->variants[i];
        if (!v->evaluated)
            continue;
        v->pareto = true;
        for (int j = 0; j < results->variant_count && v->pareto; j++) {
            const sq_variant_result *o = &results->variants[j];
            if (j == i || !o->evaluated)
                continue;
            if (o->file_bytes <= v->file_bytes && o->ppl_change_pct <= v->ppl_change_pct &&
                (o->file_bytes < v->file_bytes || o->ppl_change_pct < v->ppl_change_pct))
                v->pareto = false;
        }
        if (v->verdict == SQ_VERDICT_SUCCESS && (results->recommended < 0 || v->file_bytes < best_bytes)) {
            results->recommended = i;
            best_bytes = v->file_bytes;
        }
    }
}
