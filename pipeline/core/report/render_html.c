/* render_html.c - report.html: one self-contained page (inline CSS and SVG, no
 * network): the verdict first, then the scorecard, the plots and provenance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "report/run_results.h"
#include "report/text_file.h"

static const char *verdict_class(sq_verdict verdict)
{
    switch (verdict) {
    case SQ_VERDICT_SUCCESS: return "success";
    case SQ_VERDICT_PARTIAL: return "partial";
    case SQ_VERDICT_FAILURE: return "failure";
    default: return "failed";
    }
}

static const char *verdict_color(sq_verdict verdict)
{
    switch (verdict) {
    case SQ_VERDICT_SUCCESS: return "#1a7f37";
    case SQ_VERDICT_PARTIAL: return "#b35900";
    case SQ_VERDICT_FAILURE: return "#cf222e";
    default: return "#6e7781";
    }
}

/* Quality change against compression, with the targets drawn and the Pareto front. */
static void plot_tradeoff(FILE *out, const sq_run_results *r)
{
    const double width = 720, height = 380, left = 70, right = 30, top = 20, bottom = 50;
    double x_max = r->target_compression * 1.15, y_min = 0, y_max = r->target_quality * 1.5;
    char name[256];
    int evaluated = 0;
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated)
            continue;
        evaluated++;
        x_max = fmax(x_max, v->ratio_file * 1.1);
        y_max = fmax(y_max, v->ppl_change_pct + v->ppl_change_stderr_pct);
        y_min = fmin(y_min, v->ppl_change_pct - v->ppl_change_stderr_pct);
    }
    y_max += (y_max - y_min) * 0.08;
    y_min -= (y_max - y_min) * 0.04;
#define PX(x) (left + ((x) - 1.0) / (x_max - 1.0) * (width - left - right))
#define PY(y) (top + (y_max - (y)) / (y_max - y_min) * (height - top - bottom))
    fprintf(out, "<svg id=\"plot-tradeoff\" class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
            "aria-label=\"Perplexity change against compression ratio\">\n", width, height);
    /* the region that meets both targets */
    fprintf(out, "<rect class=\"target-region\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"#dafbe1\"/>\n", PX(r->target_compression), PY(r->target_quality),
            PX(x_max) - PX(r->target_compression), PY(fmax(y_min, -1e9)) - PY(r->target_quality));
    /* axes and grid */
    for (int t = 0; t <= 5; t++) {
        double y = y_min + (y_max - y_min) * t / 5.0, x = 1.0 + (x_max - 1.0) * t / 5.0;
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eaeef2\"/>", left,
                width - right, PY(y), PY(y));
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.1f%%</text>\n", left - 6,
                PY(y) + 4, y);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%.1fx</text>\n", PX(x),
                height - bottom + 18, x);
    }
    fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#57606a\"/>\n", left, width - right,
            PY(0), PY(0));
    fprintf(out, "<line class=\"target-line\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#1a7f37\" "
            "stroke-dasharray=\"6 4\"/>\n", PX(r->target_compression), PX(r->target_compression), top,
            height - bottom);
    fprintf(out, "<line class=\"target-line\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#1a7f37\" "
            "stroke-dasharray=\"6 4\"/>\n", left, width - right, PY(r->target_quality), PY(r->target_quality));
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">compression target %.1fx</text>\n",
            PX(r->target_compression) + 4, top + 12, r->target_compression);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">quality threshold +%.1f%%</text>\n", left + 4,
            PY(r->target_quality) - 5, r->target_quality);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">compression ratio (file bytes, "
            "measured)</text>\n", (left + width - right) / 2, height - 8);
    fprintf(out, "<text x=\"16\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">"
            "perplexity change</text>\n", (top + height - bottom) / 2, (top + height - bottom) / 2);
    /* Pareto front: sorted by ratio */
    {
        int order[SQ_REPORT_MAX_VARIANTS], n = 0;
        for (int i = 0; i < r->variant_count; i++)
            if (r->variants[i].evaluated && r->variants[i].pareto)
                order[n++] = i;
        for (int a = 1; a < n; a++)
            for (int b = a; b > 0 && r->variants[order[b]].ratio_file < r->variants[order[b - 1]].ratio_file; b--) {
                int swap = order[b];
                order[b] = order[b - 1];
                order[b - 1] = swap;
            }
        if (n > 1) {
            fprintf(out, "<polyline class=\"pareto-front\" fill=\"none\" stroke=\"#8250df\" stroke-width=\"2\" "
                    "points=\"");
            for (int k = 0; k < n; k++)
                fprintf(out, "%.1f,%.1f ", PX(r->variants[order[k]].ratio_file),
                        PY(r->variants[order[k]].ppl_change_pct));
            fprintf(out, "\"/>\n");
        }
    }
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated)
            continue;
        double x = PX(v->ratio_file), y = PY(v->ppl_change_pct);
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", x, x,
                PY(v->ppl_change_pct - v->ppl_change_stderr_pct), PY(v->ppl_change_pct + v->ppl_change_stderr_pct),
                verdict_color(v->verdict));
        fprintf(out, "<circle class=\"point%s\" data-variant=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\" "
                "stroke=\"%s\" stroke-width=\"2\"><title>%s: %.2fx, %+.2f%%</title></circle>",
                v->pareto ? " pareto" : "", sq_html_escape(v->name, name, sizeof name), x, y, v->pareto ? 7 : 5,
                verdict_color(v->verdict), v->pareto ? "#8250df" : "white", name, v->ratio_file, v->ppl_change_pct);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"label\">%s</text>\n", x + 9, y - 7, name);
    }
    if (evaluated == 0)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">no variant was evaluated</text>\n", width / 2,
                height / 2);
    fprintf(out, "</svg>\n");
#undef PX
#undef PY
}

/* Bytes per parameter group before and after, for one variant. */
static void plot_groups(FILE *out, const sq_variant_result *v)
{
    const double width = 720, left = 120, right = 110, bar = 14, gap = 14;
    int rows = 0;
    double largest = 1;
    char a[32], b[32];
    for (int g = 0; g < SQ_GROUP_COUNT; g++)
        if (v->group_before[g] > 0) {
            rows++;
            largest = fmax(largest, v->group_before[g]);
        }
    double height = 30 + rows * (2 * bar + gap);
    fprintf(out, "<svg id=\"plot-groups\" class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"Bytes "
            "per parameter group\">\n", width, height);
    fprintf(out, "<rect x=\"%.0f\" y=\"4\" width=\"12\" height=\"10\" fill=\"#afb8c1\"/><text x=\"%.0f\" y=\"13\" "
            "class=\"tick\">before (fp32 baseline)</text><rect x=\"%.0f\" y=\"4\" width=\"12\" height=\"10\" "
            "fill=\"#0969da\"/><text x=\"%.0f\" y=\"13\" class=\"tick\">after (%s)</text>\n", left, left + 16,
            left + 190, left + 206, v->name);
    int row = 0;
    for (int g = 0; g < SQ_GROUP_COUNT; g++) {
        if (v->group_before[g] <= 0)
            continue;
        double y = 24 + row * (2 * bar + gap), scale = (width - left - right) / largest;
        fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" class=\"label\" text-anchor=\"end\">%s</text>", left - 8,
                y + bar + 4, sq_group_name((sq_param_group)g));
        fprintf(out, "<rect class=\"bar-before\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" "
                "fill=\"#afb8c1\"/>", left, y, v->group_before[g] * scale, bar);
        fprintf(out, "<rect class=\"bar-after\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" fill=\"#0969da\"/>",
                left, y + bar, v->group_after[g] * scale, bar);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%s &#8594; %s</text>\n",
                left + v->group_before[g] * scale + 6, y + bar + 4, sq_human_bytes(v->group_before[g], a, sizeof a),
                sq_human_bytes(v->group_after[g], b, sizeof b));
        row++;
    }
    fprintf(out, "</svg>\n");
}

/* Tokens routed to each expert, per MoE layer (from calibration). */
static void plot_experts(FILE *out, const sq_run_results *r)
{
    const double width = 720, panel = 150, left = 60;
    double height = 30 + r->moe_layer_count * (panel + 20);
    fprintf(out, "<svg id=\"plot-experts\" class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
            "aria-label=\"Expert routing counts\">\n", width, height);
    for (int m = 0; m < r->moe_layer_count; m++) {
        int64_t most = 1, total = 0;
        double y0 = 20 + m * (panel + 20), slot = (width - left - 20) / (r->expert_count ? r->expert_count : 1);
        for (int e = 0; e < r->expert_count; e++) {
            most = r->expert_tokens[m][e] > most ? r->expert_tokens[m][e] : most;
            total += r->expert_tokens[m][e];
        }
        fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" class=\"label\">layer %d (%lld routings)</text>\n", left, y0,
                r->moe_layers[m], (long long)total);
        for (int e = 0; e < r->expert_count; e++) {
            double h = (panel - 40) * (double)r->expert_tokens[m][e] / (double)most;
            double x = left + e * slot + slot * 0.15;
            fprintf(out, "<rect class=\"bar-expert\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"#bf8700\"><title>expert %d: %lld</title></rect>", x, y0 + panel - 20 - h, slot * 0.7, h,
                    e, (long long)r->expert_tokens[m][e]);
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">expert %d: %lld</text>\n",
                    x + slot * 0.35, y0 + panel - 6, e, (long long)r->expert_tokens[m][e]);
        }
    }
    fprintf(out, "</svg>\n");
}

static const char *page_style =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f6f8fa;color:#1f2328}"
    "main{max-width:980px;margin:0 auto;padding:24px}h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;"
    "margin:28px 0 10px}.sub{color:#57606a;margin:0 0 18px}.card{background:white;border:1px solid #d0d7de;"
    "border-radius:8px;padding:16px 20px;margin:12px 0}.verdict-banner{border-left:6px solid #1a7f37}"
    ".verdict-banner.none{border-left-color:#cf222e}table{border-collapse:collapse;width:100%;font-size:14px}"
    "th,td{text-align:right;padding:6px 8px;border-bottom:1px solid #eaeef2}th:first-child,td:first-child{"
    "text-align:left}th{background:#f6f8fa;font-weight:600}.badge{display:inline-block;border-radius:10px;"
    "padding:1px 9px;font-size:12px;font-weight:600;color:white}.badge.success{background:#1a7f37}"
    ".badge.partial{background:#b35900}.badge.failure{background:#cf222e}.badge.failed{background:#6e7781}"
    "tr.recommended td{background:#dafbe1}.plot{width:100%;height:auto;background:white}.tick{font-size:11px;"
    "fill:#57606a}.label{font-size:12px;fill:#1f2328}.axis{font-size:12px;fill:#1f2328}.note{font-size:11px;"
    "fill:#1a7f37}code{font-size:12px;background:#f6f8fa;padding:1px 4px;border-radius:4px}"
    ".muted{color:#57606a;font-size:13px}ul{margin:6px 0}";

sq_status sq_report_write_html(const sq_run_results *r, const char *path)
{
    char *text = NULL, name[256], a[32], b[32], esc[2048];
    size_t size = 0;
    sq_status st;
    FILE *out = open_memstream(&text, &size);
    const sq_variant_result *base = &r->baseline, *shown = NULL;
    if (out == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot open a memory stream");
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>squeeze report: %s</title>"
            "<style>%s</style></head><body><main>\n", sq_html_escape(r->run_name, name, sizeof name), page_style);
    fprintf(out, "<h1>squeeze report: %s</h1>\n<p class=\"sub\">%s model, %lld parameters &middot; targets: "
            ">= %.2fx smaller on disk, perplexity +%.2f%% at most &middot; hardware: %s</p>\n", name,
            r->family[0] ? r->family : "unknown", (long long)r->parameters, r->target_compression, r->target_quality,
            r->target_hardware);
    if (r->recommended >= 0) {
        const sq_variant_result *v = &r->variants[r->recommended];
        fprintf(out, "<section id=\"recommendation\" class=\"card verdict-banner\"><h2 style=\"margin-top:0\">Ship "
                "<code>%s</code></h2><p>It is the smallest variant that meets both targets: %s on disk (%.2fx "
                "smaller than the fp32 baseline's %s), perplexity %+.2f%% &plusmn; %.2f%% (%.4f vs %.4f)%s.</p>"
                "</section>\n", sq_html_escape(v->name, name, sizeof name), sq_human_bytes(v->file_bytes, a, sizeof a),
                v->ratio_file, sq_human_bytes(base->file_bytes, b, sizeof b), v->ppl_change_pct,
                v->ppl_change_stderr_pct, v->perplexity, base->perplexity, v->has_kl ? "" : "");
        shown = v;
    } else {
        fprintf(out, "<section id=\"recommendation\" class=\"card verdict-banner none\"><h2 style=\"margin-top:0\">"
                "No variant meets both targets</h2><p>Loosen a target or try other recipes; the scorecard shows how "
                "far each variant is.</p></section>\n");
    }
    fprintf(out, "<h2>Scorecard</h2>\n<div class=\"card\"><table id=\"scorecard\"><thead><tr><th>variant</th>"
            "<th>verdict</th><th>file</th><th>ratio (file)</th><th>ratio (tensors)</th><th>perplexity</th>"
            "<th>change</th><th>KL</th><th>tok/s</th><th>peak RSS</th></tr></thead><tbody>\n");
    fprintf(out, "<tr class=\"baseline\"><td>baseline (fp32)</td><td></td><td>%s</td><td>1.00x</td><td>1.00x</td>"
            "<td>%.4f &plusmn; %.4f</td><td></td><td></td><td>%.0f</td><td>%s</td></tr>\n",
            sq_human_bytes(base->file_bytes, a, sizeof a), base->perplexity, base->ppl_stderr,
            base->tokens_per_second, sq_human_bytes(base->peak_rss_bytes, b, sizeof b));
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        sq_html_escape(v->name, name, sizeof name);
        if (!v->evaluated) {
            fprintf(out, "<tr class=\"variant failed\" data-variant=\"%s\"><td>%s</td><td><span class=\"badge "
                    "failed\">%s</span></td><td colspan=\"8\" style=\"text-align:left\">%s",
                    name, name, sq_verdict_name(v->verdict), sq_html_escape(v->failure, esc, sizeof esc));
            if (v->log_path[0])
                fprintf(out, " &middot; log: <code>%s</code>", sq_html_escape(v->log_path, esc, sizeof esc));
            fprintf(out, "</td></tr>\n");
            continue;
        }
        fprintf(out, "<tr class=\"variant%s\" data-variant=\"%s\"><td>%s%s</td><td><span class=\"badge %s\">%s</span>"
                "</td><td>%s</td><td>%.2fx</td><td>%.2fx</td><td>%.4f &plusmn; %.4f</td><td>%+.2f%% &plusmn; %.2f</td>",
                i == r->recommended ? " recommended" : "", name, name, v->pareto ? " &#9670;" : "",
                verdict_class(v->verdict), sq_verdict_name(v->verdict), sq_human_bytes(v->file_bytes, a, sizeof a),
                v->ratio_file, v->ratio_tensor, v->perplexity, v->ppl_stderr, v->ppl_change_pct,
                v->ppl_change_stderr_pct);
        if (v->has_kl)
            fprintf(out, "<td>%.5f</td>", v->kl_divergence);
        else
            fprintf(out, "<td>-</td>");
        fprintf(out, "<td>%.0f (%.2fx)</td><td>%s</td></tr>\n", v->tokens_per_second, v->speed_ratio,
                sq_human_bytes(v->peak_rss_bytes, b, sizeof b));
    }
    fprintf(out, "</tbody></table><p class=\"muted\">&#9670; on the Pareto front of size and quality. Change: "
            "perplexity against the baseline on the same windows, &plusmn; one standard error from the paired "
            "per-window differences. Sizes are bytes on disk (stat), never computed.</p></div>\n");

    fprintf(out, "<h2>Quality against size</h2>\n<div class=\"card\">");
    plot_tradeoff(out, r);
    fprintf(out, "<p class=\"muted\">Green region: meets both targets. Purple line: the Pareto front.</p></div>\n");

    if (shown == NULL)
        for (int i = 0; i < r->variant_count && shown == NULL; i++)
            if (r->variants[i].has_groups)
                shown = &r->variants[i];
    if (shown && shown->has_groups) {
        fprintf(out, "<h2>Where the bytes went: %s</h2>\n<div class=\"card\">",
                sq_html_escape(shown->name, name, sizeof name));
        plot_groups(out, shown);
        fprintf(out, "<p class=\"muted\">From compress's per-tensor accounting in <code>%s</code>.</p></div>\n",
                sq_html_escape(shown->model_path, esc, sizeof esc));
    }
    if (r->moe_layer_count > 0) {
        fprintf(out, "<h2>Expert routing (calibration)</h2>\n<div class=\"card\">");
        plot_experts(out, r);
        fprintf(out, "<p class=\"muted\">Tokens routed to each expert (top-2) over the calibration windows, from "
                "<code>%s</code>. A rarely used expert is a pruning candidate; a busy one deserves precision.</p>"
                "</div>\n", sq_html_escape(r->calibration_path, esc, sizeof esc));
    }
    fprintf(out, "<h2>Provenance</h2>\n<div class=\"card\" id=\"provenance\"><ul>\n");
    fprintf(out, "<li>baseline: <code>%s</code> (plan key <code>%.16s</code>, %lld MPI ranks)</li>\n",
            sq_html_escape(base->evaluation_path, esc, sizeof esc), base->plan_key, (long long)base->mpi_ranks);
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated)
            continue;
        fprintf(out, "<li>%s: <code>%s</code> (plan key <code>%.16s</code>, %lld MPI ranks)</li>\n",
                sq_html_escape(v->name, name, sizeof name), sq_html_escape(v->evaluation_path, esc, sizeof esc),
                v->plan_key, (long long)v->mpi_ranks);
    }
    if (r->inspect_path[0])
        fprintf(out, "<li>model facts: <code>%s</code></li>\n", sq_html_escape(r->inspect_path, esc, sizeof esc));
    fprintf(out, "<li>written by squeeze %s</li></ul></div>\n</main></body></html>\n", sq_version());
    fclose(out);
    st = sq_write_file_atomic(path, text, size);
    free(text);
    return st;
}
