/* recommend.c - the recommendation in words: the measured choice (the smallest
 * variant that meets both targets, verdict.c) and what the rules of thumb
 * (advice/decision_matrix.h) say about that kind of compression for this
 * model.  The rules are expectations; the measurements decide, and the words
 * say so when the two disagree. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/run_results.h"
#include "report/text_file.h"

/* "the checkpoint itera_tiny_bytes.pt (1,197,653 B)": the file sizes are compared with. */
void sq_report_size_base_words(const sq_run_results *r, char *out, size_t size)
{
    const char *slash = strrchr(r->size_base_path, '/');
    char bytes[32];
    snprintf(out, size, "%s %s (%s B)", r->size_base_is_checkpoint ? "your checkpoint" : "the fp32 baseline model",
             slash ? slash + 1 : r->size_base_path, sq_thousands(r->size_base_bytes, bytes, sizeof bytes));
}

/* What the page says about speed: a measurement only where the variant ran its own kernels. */
void sq_report_speed_words(const sq_run_results *r, const sq_variant_result *v, char *out, size_t size)
{
    const sq_variant_result *base = &r->baseline;
    if (v->speed_comparable)
        snprintf(out, size, "%.2fx the baseline's speed (%.0f against %.0f tokens/s, measured on this machine with "
                 "its %s kernels)", v->speed_ratio, v->tokens_per_second, base->tokens_per_second, v->kernels);
    else
        snprintf(out, size, "speed not comparable: evaluate ran it dequantized to fp32, like the baseline, so "
                 "tokens/s says nothing about its format");
}

void sq_report_recommendation_words(const sq_run_results *r, char *out, size_t size)
{
    const sq_variant_result *base = &r->baseline;
    char a[32], based[SQ_REPORT_PATH + 64], speed[512];
    int successes = 0;
    size_t used;
    sq_report_size_base_words(r, based, sizeof based);
    for (int i = 0; i < r->variant_count; i++)
        successes += r->variants[i].verdict == SQ_VERDICT_SUCCESS;
    if (r->evaluate_only && r->variant_count == 0) {
        snprintf(out, size, "Evaluation only: this run compresses nothing (no compress.recipe or "
                 "compress.precision_map), so there is no variant to recommend. The model as it is measures "
                 "perplexity %.4f \xc2\xb1 %.4f on the evaluation text.", base->perplexity, base->ppl_stderr);
        return;
    }
    if (r->recommended >= 0) {
        const sq_variant_result *v = &r->variants[r->recommended];
        sq_report_speed_words(r, v, speed, sizeof speed);
        if (r->recommended == r->smallest_success)
            used = (size_t)snprintf(out, size, "Ship %s. Of the %d variant(s) that meet both targets it is the smallest",
                                    v->name, successes);
        else
            used = (size_t)snprintf(out, size, "Ship %s. Of the %d variant(s) that meet both targets it is within 1%% "
                                    "of the smallest (%s) and measures better quality", v->name, successes,
                                    r->variants[r->smallest_success].name);
        if (used < size)
            used += (size_t)snprintf(out + used, size - used,
                 ": %s on disk, %.2fx smaller than %s (target %.2fx), with perplexity %+.2f%% +- %.2f%% (%.4f against "
                 "%.4f; threshold +%.2f%%)%s%.5g nats KL divergence to the baseline; %s.",
                 sq_human_bytes((double)v->file_bytes, a, sizeof a), v->ratio_size, based, r->target_compression,
                 v->ppl_change_pct, v->ppl_change_stderr_pct, v->perplexity, base->perplexity, r->target_quality,
                 v->has_kl ? ", " : "", v->has_kl ? v->kl_divergence : 0.0, speed);
        for (int i = 0; i < r->variant_count && used < size; i++) {
            const sq_variant_result *o = &r->variants[i];
            if (o->tied_with != r->recommended)
                continue;
            used += (size_t)snprintf(out + used, size - used,
                 " %s ties with it within noise (sizes %.2f%% apart, perplexity %+.2f%% against %+.2f%%, within one "
                 "standard error): either will do; %s is named for its better measured quality.",
                 o->name, 100.0 * fabs((double)o->file_bytes - (double)v->file_bytes) / (double)v->file_bytes,
                 o->ppl_change_pct, v->ppl_change_pct, v->name);
        }
        return;
    }
    if (r->closest >= 0) {
        const sq_variant_result *v = &r->variants[r->closest];
        if (v->verdict == SQ_VERDICT_PARTIAL)
            snprintf(out, size,
                     "No variant meets both targets. The nearest is %s: %.2fx smaller than %s (target %.2fx met) but "
                     "perplexity %+.2f%% +- %.2f%% exceeds the +%.2f%% threshold (PARTIAL). Keep more of the model in "
                     "higher precision (int8 or fp16 for the tensors that lose most), or accept more loss.",
                     v->name, v->ratio_size, based, r->target_compression, v->ppl_change_pct,
                     v->ppl_change_stderr_pct, r->target_quality);
        else
            snprintf(out, size,
                     "No variant meets both targets. The nearest is %s: quality kept (perplexity %+.2f%%) but only "
                     "%.2fx smaller than %s, short of the %.2fx target (FAILURE). Try a map with fewer bits for the "
                     "largest groups (see where the bytes went).",
                     v->name, v->ppl_change_pct, v->ratio_size, based, r->target_compression);
        return;
    }
    snprintf(out, size, "No variant meets both targets, and none comes near: every measured variant misses the "
                        "%.2fx compression target (against %s) and the +%.2f%% quality threshold, or failed to run. "
                        "Check the failed variants' logs.",
             r->target_compression, based, r->target_quality);
}

/* Among the variants that meet both targets, the one whose technique the
 * rules of thumb rank highest for this model (-1 when none is ranked). */
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
    snprintf(out + used, size - used, " Following the rules instead: %s (%s, their suggestion %d here) also meets "
                                      "both targets, %.2fx smaller with perplexity %+.2f%% +- %.2f%%.",
             o->name, o->technique, rank + 1, o->ratio_size, o->ppl_change_pct, o->ppl_change_stderr_pct);
}

bool sq_report_forced_ssm_words(const sq_variant_result *v, char *out, size_t size)
{
    out[0] = '\0';
    if (!v->forced_ssm[0])
        return false;
    snprintf(out, size, "WARNING: %s had its SSM pruned past the guard (force: true): %s. The recurrent state "
             "couples these dimensions over time, so nothing but the measured quality above vouches for it",
             v->name, v->forced_ssm);
    return true;
}

void sq_report_matrix_words(const sq_run_results *r, const sq_variant_result *v, char *out, size_t size)
{
    out[0] = '\0';
    if (!r->has_advice || v == NULL || v->technique == NULL) {
        snprintf(out, size, "The rules of thumb need the inspect artifact and the model's accounting; one is missing.");
        return;
    }
    if (strcmp(v->technique, "none") == 0) {
        snprintf(out, size, "%s keeps every tensor in fp32.", v->name);
        return;
    }
    for (int i = 0; i < r->advice.recommended_count; i++) {
        const sq_advice_item *item = &r->advice.recommended[i];
        if (strcmp(item->technique, v->technique) == 0) {
            snprintf(out, size, "%s is %s, suggestion %d of %d of the rules of thumb for this model (appendix). %s",
                     v->name, v->technique, i + 1, r->advice.recommended_count,
                     v->verdict == SQ_VERDICT_SUCCESS ? "The measurement agrees."
                                                      : "The measurement disagrees: it missed a target.");
            append_preferred(r, v, out, size);
            return;
        }
    }
    for (int i = 0; i < r->advice.avoided_count; i++) {
        const sq_advice_item *item = &r->advice.avoided[i];
        if (strcmp(item->technique, v->technique) == 0) {
            snprintf(out, size, "%s is %s, which the rules of thumb advise against for this model (appendix). %s",
                     v->name, v->technique,
                     v->verdict == SQ_VERDICT_SUCCESS
                         ? "The measurement contradicts them: both targets are met on this run's data."
                         : "The measurement agrees: it missed a target.");
            append_preferred(r, v, out, size);
            return;
        }
    }
    snprintf(out, size, "%s is %s, which the rules of thumb do not rate.", v->name, v->technique);
    append_preferred(r, v, out, size);
}

/* What this run measured for one technique, and whether it contradicts the
 * rule: a technique advised against that met both targets, or one suggested
 * whose every variant missed one. */
bool sq_report_measured_words(const sq_run_results *r, const char *technique, bool advised_against, char *out,
                              size_t size)
{
    size_t used = 0;
    int measured = 0, successes = 0;
    char a[32];
    out[0] = '\0';
    for (int i = 0; i < r->variant_count && used < size; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated || v->technique == NULL || strcmp(v->technique, technique) != 0)
            continue;
        used += (size_t)snprintf(out + used, size - used, "%s%s %s, %.2fx smaller, %+.2f%% +- %.2f%% (%s)",
                                 measured ? "; " : "Measured here: ", v->name,
                                 sq_human_bytes((double)v->file_bytes, a, sizeof a), v->ratio_size, v->ppl_change_pct,
                                 v->ppl_change_stderr_pct, sq_verdict_name(v->verdict));
        measured++;
        successes += v->verdict == SQ_VERDICT_SUCCESS;
    }
    if (measured == 0) {
        snprintf(out, size, "Not measured in this run.");
        return false;
    }
    bool contradicts = advised_against ? successes > 0 : successes == 0;
    if (used < size)
        snprintf(out + used, size - used, ". %s", contradicts ? advised_against
                                                                    ? "The measurement contradicts the rule: it met both targets."
                                                                    : "The measurement contradicts the rule: no variant of it met both targets."
                                                              : "The measurement agrees with the rule.");
    return contradicts;
}
