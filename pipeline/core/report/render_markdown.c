/* render_markdown.c - report.md: the scorecard as a plain table. */
#include <stdio.h>
#include <stdlib.h>

#include "report/run_results.h"
#include "report/text_file.h"

sq_status sq_report_write_markdown(const sq_run_results *results, const char *path)
{
    char *text = NULL, a[32], b[32];
    size_t size = 0;
    sq_status st;
    FILE *out = open_memstream(&text, &size);
    const sq_variant_result *base = &results->baseline;
    if (out == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot open a memory stream");
    fprintf(out, "# squeeze report: %s\n\n", results->run_name);
    fprintf(out, "Model: %s, %lld parameters (%s). Targets: compression >= %.2fx (file bytes), perplexity "
            "increase <= %.2f%%; target hardware %s.\n\n",
            results->family[0] ? results->family : "?", (long long)results->parameters,
            results->inspect_path[0] ? results->inspect_path : "no inspect artifact", results->target_compression,
            results->target_quality, results->target_hardware);
    fprintf(out, "Baseline: perplexity %.4f ± %.4f over %lld tokens (%lld windows), %s on disk, %.0f tok/s "
            "(%s).\n\n",
            base->perplexity, base->ppl_stderr, (long long)base->scored_tokens, (long long)base->windows,
            sq_human_bytes(base->file_bytes, a, sizeof a), base->tokens_per_second, base->evaluation_path);
    if (results->recommended >= 0)
        fprintf(out, "**Recommended: %s** - the smallest variant that meets both targets.\n\n",
                results->variants[results->recommended].name);
    else
        fprintf(out, "**No variant meets both targets.**\n\n");
    fprintf(out, "| variant | verdict | file bytes | ratio (file) | ratio (tensors) | perplexity | change %% | KL "
            "| tok/s (vs base) | peak RSS |\n");
    fprintf(out, "|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < results->variant_count; i++) {
        const sq_variant_result *v = &results->variants[i];
        if (!v->evaluated) {
            fprintf(out, "| %s | %s | | | | | | | | %s; log: %s |\n", v->name, sq_verdict_name(v->verdict),
                    v->failure, v->log_path[0] ? v->log_path : "-");
            continue;
        }
        fprintf(out, "| %s%s | %s | %s | %.2fx | %.2fx | %.4f ± %.4f | %+.2f ± %.2f | ", v->name,
                v->pareto ? " (Pareto)" : "", sq_verdict_name(v->verdict), sq_human_bytes(v->file_bytes, a, sizeof a),
                v->ratio_file, v->ratio_tensor, v->perplexity, v->ppl_stderr, v->ppl_change_pct,
                v->ppl_change_stderr_pct);
        if (v->has_kl)
            fprintf(out, "%.5f", v->kl_divergence);
        fprintf(out, " | %.0f (%.2fx) | %s |\n", v->tokens_per_second, v->speed_ratio,
                sq_human_bytes(v->peak_rss_bytes, b, sizeof b));
    }
    fprintf(out, "\nEvery number comes from an artifact: report.json names the file for each variant.\n");
    fclose(out);
    st = sq_write_file_atomic(path, text, size);
    free(text);
    return st;
}
