/* render_markdown.c - report.md: the recommendation, the scorecard, the failed
 * variants with their logs, where the bytes went, the provenance and, as an
 * appendix, the rules of thumb with what this run measured, as plain text. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "artifact/artifact.h"
#include "report/run_results.h"
#include "report/text_file.h"

static void scorecard(FILE *out, const sq_run_results *r)
{
    const sq_variant_result *base = &r->baseline;
    char a[32], b[32], based[SQ_REPORT_PATH + 64];
    sq_report_size_base_words(r, based, sizeof based);
    fprintf(out, "| variant | verdict | file bytes | smaller than the checkpoint | ratio (tensors) | perplexity | "
                 "change %% | KL | tok/s | peak RSS |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    if (r->size_base_is_checkpoint)
        fprintf(out, "| %s | | %s | 1.00x | | | | | | |\n", based, sq_human_bytes((double)r->size_base_bytes, a,
                sizeof a));
    fprintf(out, "| baseline (fp32, squeeze's copy) | | %s | %.2fx | 1.00x | %.4f ± %.4f | | | %.0f | %s |\n",
            sq_human_bytes((double)base->file_bytes, a, sizeof a),
            base->file_bytes > 0 ? (double)r->size_base_bytes / (double)base->file_bytes : 0.0, base->perplexity,
            base->ppl_stderr, base->tokens_per_second, sq_human_bytes((double)base->peak_rss_bytes, b, sizeof b));
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated) {
            fprintf(out, "| %s | %s | | | | | | | | |\n", v->name, sq_verdict_name(v->verdict));
            continue;
        }
        fprintf(out, "| %s%s%s%s%s%s%s | %s | %s | %.2fx | %.2fx | %.4f ± %.4f | %+.2f ± %.2f | ",
                i == r->recommended ? "**" : "", v->name, i == r->recommended ? "** (recommended)" : v->pareto ? " (Pareto)" : "",
                v->tied_with >= 0 ? " (tie)" : "", v->pruned ? " (pruned: " : "", v->pruned ? v->prune_amounts : "",
                v->pruned ? ")" : "", sq_verdict_name(v->verdict),
                sq_human_bytes((double)v->file_bytes, a, sizeof a), v->ratio_size, v->ratio_tensor, v->perplexity,
                v->ppl_stderr, v->ppl_change_pct, v->ppl_change_stderr_pct);
        if (v->has_kl)
            fprintf(out, "%.5f", v->kl_divergence);
        if (v->speed_comparable)
            fprintf(out, " | %.0f (%.2fx) | %s |\n", v->tokens_per_second, v->speed_ratio,
                    sq_human_bytes((double)v->peak_rss_bytes, b, sizeof b));
        else
            fprintf(out, " | not comparable | %s |\n", sq_human_bytes((double)v->peak_rss_bytes, b, sizeof b));
    }
    fprintf(out, "\nSizes are compared with %s: `%s`.\n", based, r->size_base_path);
}

static void groups(FILE *out, const sq_variant_result *v)
{
    char a[32], b[32];
    fprintf(out, "\n## Where the bytes went: %s\n\nFrom compress's per-tensor accounting (`%s`).\n\n"
                 "| parameter group | before (fp32) | after | ratio |\n|---|---:|---:|---:|\n",
            v->name, v->model_path);
    for (int g = 0; g < SQ_GROUP_COUNT; g++) {
        if (v->group_before[g] <= 0)
            continue;
        fprintf(out, "| %s | %s | %s | %.2fx |\n", sq_group_name((sq_param_group)g),
                sq_human_bytes((double)v->group_before[g], a, sizeof a),
                sq_human_bytes((double)v->group_after[g], b, sizeof b),
                v->group_after[g] > 0 ? (double)v->group_before[g] / (double)v->group_after[g] : 0.0);
    }
}

static void advice_item(FILE *out, const sq_run_results *r, const sq_advice_item *item, bool avoided, int rank)
{
    char measured[2048];
    bool contradicts = sq_report_measured_words(r, item->technique, avoided, measured, sizeof measured);
    if (rank > 0)
        fprintf(out, "%d. ", rank);
    else
        fprintf(out, "- ");
    fprintf(out, "**%s** (%s): %s.%s%s%s %s%s%s\n", item->technique, item->title, item->reason,
            avoided ? "" : " In squeeze: ", avoided ? "" : item->squeeze_how, avoided ? "" : ".",
            contradicts ? "**" : "", measured, contradicts ? "**" : "");
}

static void advice(FILE *out, const sq_run_results *r)
{
    const sq_advice *a = &r->advice;
    fprintf(out, "\n## Appendix: rules of thumb for this model\n\n%s\n\n", a->summary);
    for (int i = 0; i < a->recommended_count; i++)
        advice_item(out, r, &a->recommended[i], false, i + 1);
    if (a->avoided_count > 0) {
        fprintf(out, "\nAdvised against here:\n\n");
        for (int i = 0; i < a->avoided_count; i++)
            advice_item(out, r, &a->avoided[i], true, 0);
    }
    if (a->caveat_count > 0) {
        fprintf(out, "\nCaveats:\n\n");
        for (int i = 0; i < a->caveat_count; i++)
            fprintf(out, "- %s\n", a->caveats[i]);
    }
}

/* One section per exported file: what its export record says (docs/export.md). */
static void exports(FILE *out, const sq_run_results *r)
{
    char words[SQ_REPORT_PATH + 128];
    if (r->export_count == 0)
        return;
    fprintf(out, "\n## Exports\n");
    for (int i = 0; i < r->export_count; i++) {
        const sq_export_result *e = &r->exports[i];
        sq_report_export_words(e, words, sizeof words);
        fprintf(out, "\n### %s as %s\n\n", e->variant, e->format);
        fprintf(out, "- file: `%s` (%s)\n", e->file, words);
        fprintf(out, "- sha256: `%s`, %lld bytes on disk, %lld of them tensor data\n", e->sha256,
                (long long)e->bytes_on_disk, (long long)e->tensor_bytes);
        if (e->architecture[0])
            fprintf(out, "- GGUF architecture `%s`: read by %s\n", e->architecture, e->readers);
        fprintf(out, "- tensors: %lld; %lld copied unchanged, %lld converted, %lld not written (stored once, shared)\n",
                (long long)e->tensors, (long long)e->copied, (long long)e->converted, (long long)e->not_written);
        for (int c = 0; c < e->conversion_count; c++)
            fprintf(out, "  - %lld x %s\n", (long long)e->conversions[c].tensors, e->conversions[c].text);
        if (e->other_conversions > 0)
            fprintf(out, "  - %lld x other conversions (listed in the record)\n", (long long)e->other_conversions);
        fprintf(out, "- record: `%s` (%s, plan key %.16s)\n", e->record_path, e->created_utc,
                e->plan_key[0] ? e->plan_key : "-");
    }
}

static void provenance(FILE *out, const sq_run_results *r)
{
    const sq_variant_result *base = &r->baseline;
    fprintf(out, "\n## Provenance\n\n");
    fprintf(out, "- config: `%s` (sha256 %.16s); targets.compression %.4g, targets.quality %.4g, "
                 "inspect.target_hardware %s\n",
            r->config_path[0] ? r->config_path : "(none: defaults)", r->config_sha256[0] ? r->config_sha256 : "-",
            r->target_compression, r->target_quality, r->target_hardware);
    if (r->plan_path[0])
        fprintf(out, "- plan: `%s`\n", r->plan_path);
    fprintf(out, "- model facts: `%s`\n", r->inspect_path[0] ? r->inspect_path : "(no inspect artifact)");
    fprintf(out, "- evaluation setup: `%s` (tokenizer %s, %lld tokens, sha256 %.16s), windows of %lld tokens, stride "
                 "%lld, offset %lld, scoring %s\n",
            base->setup.data_path, base->setup.tokenizer, (long long)base->setup.text_tokens,
            base->setup.tokens_sha256, (long long)base->setup.window_length, (long long)base->setup.stride,
            (long long)base->setup.offset, base->setup.scoring);
    fprintf(out, "- baseline: `%s` (%lld MPI ranks, squeeze %s, plan key %.16s)\n", base->evaluation_path,
            (long long)base->mpi_ranks, base->squeeze_version, base->plan_key[0] ? base->plan_key : "-");
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated)
            continue;
        fprintf(out, "- %s: `%s` (%lld MPI ranks, squeeze %s, plan key %.16s%s); model `%s` from map `%s`%s%s%s\n",
                v->name, v->evaluation_path, (long long)v->mpi_ranks, v->squeeze_version,
                v->plan_key[0] ? v->plan_key : "-", v->stale ? ", STALE: plan.json expects another key" : "",
                v->model_path, v->precision_map[0] ? v->precision_map : "?",
                v->calibration_input[0] ? ", calibration `" : "", v->calibration_input,
                v->calibration_input[0] ? "`" : "");
    }
    if (r->calibration_path[0])
        fprintf(out, "- expert routing: `%s`\n", r->calibration_path);
    fprintf(out, "- report written by squeeze %s\n", sq_version());
}

sq_status sq_report_write_markdown(const sq_run_results *r, const char *path)
{
    char *text = NULL, words[4096], based[SQ_REPORT_PATH + 64];
    size_t size = 0;
    sq_status st;
    FILE *out = open_memstream(&text, &size);
    const sq_variant_result *base = &r->baseline, *shown = NULL;
    int failed = 0;
    if (out == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot open a memory stream");
    fprintf(out, "# squeeze report: %s\n\n", r->run_name);
    fprintf(out, "Model: %s, %lld parameters (`%s`). Targets: compression >= %.2fx (file bytes, measured), "
                 "perplexity increase <= %.2f%%; target hardware %s.\n\n",
            r->family[0] ? r->family : "?", (long long)r->parameters,
            r->inspect_path[0] ? r->inspect_path : "no inspect artifact", r->target_compression, r->target_quality,
            r->target_hardware);
    sq_report_size_base_words(r, based, sizeof based);
    fprintf(out, "Sizes are compared with %s (`%s`). Baseline (fp32): perplexity %.4f ± %.4f over %lld tokens (%lld "
                 "windows).\n\n",
            based, r->size_base_path, base->perplexity, base->ppl_stderr, (long long)base->scored_tokens,
            (long long)base->windows);
    sq_report_recommendation_words(r, words, sizeof words);
    fprintf(out, "## Recommendation\n\n**%s**\n\n", words);
    if (r->recommended >= 0 || r->closest >= 0) {
        sq_report_matrix_words(r, &r->variants[r->recommended >= 0 ? r->recommended : r->closest], words,
                               sizeof words);
        fprintf(out, "%s\n\n", words);
    }
    fprintf(out, "## Scorecard\n\n");
    scorecard(out, r);
    fprintf(out, "\nVerdicts: SUCCESS meets the compression target and the quality threshold, PARTIAL meets the "
                 "compression only, FAILURE misses the compression target. Change: perplexity against the baseline on "
                 "the same windows, ± one standard error (paired per-window differences); two variants whose files "
                 "differ by less than 1%% and whose changes lie within one standard error are a tie. Speed is shown "
                 "only for a variant that ran its own kernels; \"not comparable\" means evaluate ran it dequantized "
                 "to fp32, like the baseline, so its tokens/s is the machine's noise. Measure speed on the target "
                 "hardware and runtime.\n");
    for (int i = 0; i < r->variant_count; i++) {
        char warning[1536];
        if (sq_report_forced_ssm_words(&r->variants[i], warning, sizeof warning))
            fprintf(out, "\n> **%s**\n", warning);
    }
    for (int i = 0; i < r->variant_count; i++)
        failed += !r->variants[i].evaluated;
    if (failed > 0) {
        fprintf(out, "\n## Variants that failed to run\n\n");
        for (int i = 0; i < r->variant_count; i++) {
            const sq_variant_result *v = &r->variants[i];
            if (!v->evaluated)
                fprintf(out, "- **%s**: %s; log: `%s`\n", v->name, v->failure, v->log_path[0] ? v->log_path : "-");
        }
    }
    shown = r->recommended >= 0 ? &r->variants[r->recommended] : r->closest >= 0 ? &r->variants[r->closest] : NULL;
    if (shown && shown->has_groups)
        groups(out, shown);
    if (r->moe_layer_count > 0) {
        fprintf(out, "\n## Expert routing (calibration, top-%d)\n\n| MoE layer |", r->top_k);
        for (int e = 0; e < r->expert_count; e++)
            fprintf(out, " expert %d |", e);
        fprintf(out, "\n|---|");
        for (int e = 0; e < r->expert_count; e++)
            fprintf(out, "---:|");
        fprintf(out, "\n");
        for (int m = 0; m < r->moe_layer_count; m++) {
            fprintf(out, "| %d |", r->moe_layers[m]);
            for (int e = 0; e < r->expert_count; e++)
                fprintf(out, " %lld |", (long long)r->expert_tokens[m][e]);
            fprintf(out, "\n");
        }
    }
    exports(out, r);
    provenance(out, r);
    if (r->has_advice)
        advice(out, r);
    fclose(out);
    st = sq_write_file_atomic(path, text, size);
    free(text);
    return st;
}
