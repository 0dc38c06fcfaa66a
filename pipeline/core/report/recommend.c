/* recommend.c - the recommendation in words: the measured choice (the smallest
 * variant that meets both targets, verdict.c) and what the seed's decision
 * matrix (advice/decision_matrix.h) says about that kind of compression for
 * this model.  The matrix holds another project's expectations; the
 * measurements decide, and the words say so when the two disagree. */
#include <stdio.h>
#include <string.h>

#include "report/run_results.h"
#include "report/text_file.h"

void sq_report_recommendation_words(const sq_run_results *r, char *out, size_t size)
{
    const sq_variant_result *base = &r->baseline;
    char a[32], b[32];
    int successes = 0;
    for (int i = 0; i < r->variant_count; i++)
        successes += r->variants[i].verdict == SQ_VERDICT_SUCCESS;
    if (r->recommended >= 0) {
        const sq_variant_result *v = &r->variants[r->recommended];
        snprintf(out, size,
                 "Ship %s. Of the %d variant(s) that meet both targets it is the smallest: %s on disk, %.2fx smaller "
                 "than the fp32 baseline's %s (target %.2fx), with perplexity %+.2f%% +- %.2f%% (%.4f against %.4f; "
                 "threshold +%.2f%%)%s%.5g nats KL divergence to the baseline, and %.2fx the baseline's speed "
                 "(%.0f against %.0f tokens/s, measured on this machine).",
                 v->name, successes, sq_human_bytes((double)v->file_bytes, a, sizeof a), v->ratio_file,
                 sq_human_bytes((double)base->file_bytes, b, sizeof b), r->target_compression, v->ppl_change_pct,
                 v->ppl_change_stderr_pct, v->perplexity, base->perplexity, r->target_quality,
                 v->has_kl ? ", " : "", v->has_kl ? v->kl_divergence : 0.0, v->speed_ratio, v->tokens_per_second,
                 base->tokens_per_second);
        return;
    }
    if (r->closest >= 0) {
        const sq_variant_result *v = &r->variants[r->closest];
        if (v->verdict == SQ_VERDICT_PARTIAL)
            snprintf(out, size,
                     "No variant meets both targets. The nearest is %s: %.2fx smaller (target %.2fx met) but "
                     "perplexity %+.2f%% +- %.2f%% exceeds the +%.2f%% threshold (PARTIAL). Keep more of the model in "
                     "higher precision (int8 or fp16 for the tensors that lose most), or accept more loss.",
                     v->name, v->ratio_file, r->target_compression, v->ppl_change_pct, v->ppl_change_stderr_pct,
                     r->target_quality);
        else
            snprintf(out, size,
                     "No variant meets both targets. The nearest is %s: quality kept (perplexity %+.2f%%) but only "
                     "%.2fx smaller, short of the %.2fx target (FAILURE). Try a map with fewer bits for the largest "
                     "groups (see where the bytes went).",
                     v->name, v->ppl_change_pct, v->ratio_file, r->target_compression);
        return;
    }
    snprintf(out, size, "No variant meets both targets, and none comes near: every measured variant misses the "
                        "%.2fx compression target and the +%.2f%% quality threshold, or failed to run. Check the "
                        "failed variants' logs and the decision matrix's advice below.",
             r->target_compression, r->target_quality);
}

/* Among the variants that meet both targets, the one whose technique the
 * matrix ranks highest for this model (-1 when none is ranked). */
static int matrix_preferred(const sq_run_results *r, int *rank)
{
    int best = -1;
    *rank = SQ_ADVICE_MAX_ITEMS;
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (v->verdict != SQ_VERDICT_SUCCESS || v->technique == NULL)
            continue;
        for (int k = 0; k < r->advice.recommended_count && k < *rank; k++) {
            if (strcmp(r->advice.recommended[k].technique, v->technique) == 0) {
                best = i;
                *rank = k;
            }
        }
    }
    return best;
}

static void append_preferred(const sq_run_results *r, const sq_variant_result *v, char *out, size_t size)
{
    int rank, other = matrix_preferred(r, &rank);
    size_t used = strlen(out);
    if (other < 0 || &r->variants[other] == v || used >= size)
        return;
    const sq_variant_result *o = &r->variants[other];
    snprintf(out + used, size - used, " Following the matrix instead: %s (%s, its choice %d here) also meets both "
                                      "targets, %.2fx smaller with perplexity %+.2f%% +- %.2f%%.",
             o->name, o->technique, rank + 1, o->ratio_file, o->ppl_change_pct, o->ppl_change_stderr_pct);
}

void sq_report_matrix_words(const sq_run_results *r, const sq_variant_result *v, char *out, size_t size)
{
    out[0] = '\0';
    if (!r->has_advice || v == NULL || v->technique == NULL) {
        snprintf(out, size, "The decision matrix needs the inspect artifact and the model's accounting; one is "
                            "missing.");
        return;
    }
    if (strcmp(v->technique, "none") == 0) {
        snprintf(out, size, "%s keeps every tensor in fp32.", v->name);
        return;
    }
    for (int i = 0; i < r->advice.recommended_count; i++) {
        const sq_advice_item *item = &r->advice.recommended[i];
        if (strcmp(item->technique, v->technique) == 0) {
            snprintf(out, size, "Technique of %s: %s, choice %d of %d of the seed's decision matrix for this model (%s). "
                                "The measurement agrees%s.",
                     v->name, v->technique, i + 1, r->advice.recommended_count, item->reason,
                     v->verdict == SQ_VERDICT_SUCCESS ? "" : " only partly: it missed a target");
            append_preferred(r, v, out, size);
            return;
        }
    }
    for (int i = 0; i < r->advice.avoided_count; i++) {
        const sq_advice_item *item = &r->advice.avoided[i];
        if (strcmp(item->technique, v->technique) == 0) {
            snprintf(out, size, "Technique of %s: %s, which the seed's decision matrix advises against for this model "
                                "(%s). %s",
                     v->name, v->technique, item->reason,
                     v->verdict == SQ_VERDICT_SUCCESS
                         ? "The measurement overrules it here: the targets are met on this run's data; check the "
                           "speed on the target hardware before shipping."
                         : "The measurement agrees: it missed a target.");
            append_preferred(r, v, out, size);
            return;
        }
    }
    snprintf(out, size, "Technique of %s: %s, which the seed's decision matrix does not rate.", v->name, v->technique);
    append_preferred(r, v, out, size);
}
