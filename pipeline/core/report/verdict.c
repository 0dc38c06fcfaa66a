/* verdict.c - judging each variant against the run's targets, as the seed's
 * "Success Metrics" define them (PROJECT_COMPRESSION_FINDINGS.md):
 *
 *   if achieved_compression >= compression_target:
 *       SUCCESS if quality_degradation <= quality_threshold, else PARTIAL
 *   else: FAILURE
 *
 * with achieved_compression the measured ratio of file bytes (the checkpoint
 * file the user gave over the variant's model file, both from stat()) and
 * quality_degradation the measured perplexity change in percent.  A variant
 * that did not run is FAILED TO RUN, never left out.  The recommendation is
 * the smallest variant (file bytes) that is a SUCCESS, unless another SUCCESS
 * is within 1% of its size: sizes that close are a tie, and the better
 * measured quality wins it.
 */
#include <math.h>
#include <string.h>

#include "quant/format.h"
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

/* Standard error of the quality change from paired per-window NLL
 * differences.  Both models scored the same windows, so the per-window
 * differences d_w carry the uncertainty of the change, as llama.cpp's
 * "Mean ln(PPL(Q)/PPL(base))" does per token (tools/perplexity, KL-divergence
 * mode): D = sum d_w / sum n_w is a ratio estimator over windows, with
 * variance W/(W-1) sum (d_w - D n_w)^2 / (sum n_w)^2, and the change
 * exp(D) - 1 has standard error exp(D) se(D) (delta method).  Without matching
 * windows, the two perplexities' own standard errors (evaluate's ppl_stderr,
 * llama.cpp style) are combined as if independent. */
static void quality_change_error(const sq_variant_result *base, sq_variant_result *v)
{
    bool paired = base->windows == v->windows && base->windows > 1 && base->window_nll && v->window_nll;
    for (int64_t w = 0; paired && w < v->windows; w++)
        paired = base->window_tokens[w] == v->window_tokens[w];
    v->paired = paired;
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

/* The technique by where the converted bytes went: one class of formats (their
 * traits, quant/format.h: half, int8, low-bit) holding at least 90% of the bytes
 * that were converted names the technique (int4-g32 stores the SSM's narrow C
 * rows in int8 and is still int4); two substantial classes make it mixed
 * precision.  fp32 and raw tensors were not converted; a format this build does
 * not know counts as converted bytes of no class. */
const char *sq_report_technique(const sq_variant_result *v)
{
    double classes[SQ_FORMAT_CLASS_COUNT] = {0}, total = 0; /* bytes before */
    if (v->format_count == 0)
        return NULL;
    for (int f = 0; f < v->format_count; f++) {
        const sq_quant_format *format = sq_quant_format_find(v->formats[f].name);
        double before = (double)v->formats[f].bytes_before;
        if (strcmp(v->formats[f].name, "raw") == 0 || (format && format->format_class == SQ_FORMAT_CLASS_FULL))
            continue;
        if (format)
            classes[format->format_class] += before;
        total += before;
    }
    if (total <= 0)
        return "none";
    for (int c = 0; c < SQ_FORMAT_CLASS_COUNT; c++)
        if (c != SQ_FORMAT_CLASS_FULL && classes[c] >= 0.9 * total)
            return sq_format_class_technique((sq_format_class)c);
    return "mixed-precision";
}

/* Speed says something about a format only when the forward pass ran that
 * format's own kernels: evaluate records what it ran in /evaluation@kernels
 * (docs/artifact-evaluation.md).  Without the attribute, or when the model was
 * dequantized to fp32 on load, every variant ran the same fp32 pass and the
 * tokens/s differences are the machine's noise. */
static bool ran_own_kernels(const sq_variant_result *v)
{
    return v->kernels[0] && strncmp(v->kernels, "dequantized", 11) != 0;
}

/* Two variants tie when their files differ by less than 1% and their quality
 * changes by less than the larger of their standard errors. */
static bool tied(const sq_variant_result *a, const sq_variant_result *b)
{
    double small = (double)(a->file_bytes < b->file_bytes ? a->file_bytes : b->file_bytes);
    double size_gap = fabs((double)a->file_bytes - (double)b->file_bytes);
    double noise = fmax(a->ppl_change_stderr_pct, b->ppl_change_stderr_pct);
    return size_gap < 0.01 * small && fabs(a->ppl_change_pct - b->ppl_change_pct) <= noise;
}

void sq_run_results_judge(sq_run_results *results)
{
    const sq_variant_result *base = &results->baseline;
    double size_base = (double)(results->size_base_bytes > 0 ? results->size_base_bytes : base->file_bytes);
    results->recommended = results->closest = results->smallest_success = -1;
    for (int i = 0; i < results->variant_count; i++) {
        sq_variant_result *v = &results->variants[i];
        v->pareto = false;
        v->tied_with = -1;
        if (!v->evaluated) {
            v->verdict = SQ_VERDICT_FAILED_TO_RUN;
            continue;
        }
        quality_change_error(base, v);
        v->speed_ratio = base->tokens_per_second > 0 ? v->tokens_per_second / base->tokens_per_second : 0;
        v->speed_comparable = ran_own_kernels(v) && ran_own_kernels(base);
        v->ratio_size = v->file_bytes > 0 ? size_base / (double)v->file_bytes : 0;
        v->technique = sq_report_technique(v);
        bool compressed = v->ratio_size >= results->target_compression;
        bool quality = v->ppl_change_pct <= results->target_quality;
        v->verdict = compressed && quality ? SQ_VERDICT_SUCCESS : compressed ? SQ_VERDICT_PARTIAL : SQ_VERDICT_FAILURE;
    }
    /* Pareto front over (file bytes, quality change): no other variant is at
     * least as small and at least as good, and strictly better in one. */
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
    }
    for (int i = 0; i < results->variant_count; i++) {
        const sq_variant_result *v = &results->variants[i];
        if (v->verdict == SQ_VERDICT_SUCCESS &&
            (results->recommended < 0 || v->file_bytes < results->variants[results->recommended].file_bytes))
            results->recommended = i;
    }
    results->smallest_success = results->recommended;
    if (results->recommended >= 0) {
        /* Within 1% of the smallest's size, the better measured quality wins;
         * a tie (quality within noise as well) is recorded so the page says so. */
        int chosen = results->recommended;
        const sq_variant_result *smallest = &results->variants[results->smallest_success];
        for (int i = 0; i < results->variant_count; i++) {
            sq_variant_result *v = &results->variants[i];
            if (i == results->smallest_success || v->verdict != SQ_VERDICT_SUCCESS ||
                fabs((double)v->file_bytes - (double)smallest->file_bytes) >= 0.01 * (double)smallest->file_bytes)
                continue;
            if (v->ppl_change_pct < results->variants[chosen].ppl_change_pct)
                chosen = i;
        }
        results->recommended = chosen;
        for (int i = 0; i < results->variant_count; i++) {
            sq_variant_result *v = &results->variants[i];
            if (i != chosen && v->evaluated && tied(v, &results->variants[chosen]))
                v->tied_with = chosen;
        }
        return;
    }
    /* None meets both: the nearest miss is the compressed-enough variant that
     * loses least quality, else the one that keeps quality and compresses most. */
    for (int i = 0; i < results->variant_count; i++) {
        const sq_variant_result *v = &results->variants[i];
        if (v->verdict == SQ_VERDICT_PARTIAL &&
            (results->closest < 0 || v->ppl_change_pct < results->variants[results->closest].ppl_change_pct))
            results->closest = i;
    }
    for (int i = 0; results->closest < 0 && i < results->variant_count; i++) {
        const sq_variant_result *v = &results->variants[i];
        if (v->verdict == SQ_VERDICT_FAILURE && v->ppl_change_pct <= results->target_quality)
            results->closest = i;
    }
    for (int i = 0; i < results->variant_count; i++) {
        const sq_variant_result *v = &results->variants[i];
        const sq_variant_result *c = results->closest >= 0 ? &results->variants[results->closest] : NULL;
        if (c && c->verdict == SQ_VERDICT_FAILURE && v->verdict == SQ_VERDICT_FAILURE &&
            v->ppl_change_pct <= results->target_quality && v->ratio_size > c->ratio_size)
            results->closest = i;
    }
}
