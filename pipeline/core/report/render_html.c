/* render_html.c - report.html: one self-contained page (inline CSS and SVG, no
 * script, no network).  The answer first (what to ship and why), then the
 * scorecard, the plots, the decision matrix and where every number came from. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "report/render_svg.h"
#include "report/run_results.h"
#include "report/text_file.h"

#define ESC_SIZE 8192

static const char *page_style =
    "*{box-sizing:border-box}body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "background:#f6f8fa;color:#1f2328;line-height:1.45}main{max-width:1180px;margin:0 auto;padding:28px 24px 48px}"
    "header h1{font-size:28px;margin:0 0 4px;letter-spacing:-.3px}header .sub{color:#57606a;margin:0 0 18px;"
    "font-size:15px}h2{font-size:20px;margin:34px 0 10px}h3{font-size:16px;margin:0 0 8px}"
    ".card{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:18px 22px;margin:12px 0}"
    ".hero{border-left:8px solid #1a7f37;padding:22px 26px}.hero.none{border-left-color:#bc4c00}"
    ".hero h2{margin:0 0 6px;font-size:24px}.hero p{margin:6px 0;font-size:15px}"
    ".tiles{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0 6px}.tile{flex:1 1 150px;background:#f6f8fa;"
    "border:1px solid #eaeef2;border-radius:8px;padding:10px 14px}.tile .v{font-size:24px;font-weight:650}"
    ".tile .k{font-size:12px;color:#57606a;text-transform:uppercase;letter-spacing:.4px}"
    ".chips{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0 0}.chip{border-radius:14px;padding:2px 11px;"
    "font-size:13px;font-weight:600;border:1px solid #d0d7de;background:#fff}"
    "table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:right;padding:7px 7px;"
    "border-bottom:1px solid #eaeef2;vertical-align:top;white-space:nowrap}th:first-child,td:first-child,"
    "th.l,td.l{text-align:left}th{background:#f6f8fa;font-weight:600;font-size:13px;color:#424a53}"
    "td.wrap{white-space:normal;text-align:left}#scorecard td:first-child{white-space:normal}#scorecard code{word-break:normal}#provenance td:first-child{white-space:normal}"
    ".badge{display:inline-block;border-radius:11px;padding:2px 10px;font-size:12px;font-weight:700;color:#fff;"
    "letter-spacing:.3px}.badge.success{background:#1a7f37}.badge.partial{background:#bc4c00}"
    ".badge.failure{background:#cf222e}.badge.failed{background:#6e7781}tr.recommended td{background:#eefbf1}"
    "tr.recommended td:first-child{box-shadow:inset 4px 0 #1a7f37;font-weight:700}tr.baseline td{color:#57606a}"
    "tr.failed td{background:#fbfbfc}.pareto-mark{color:#8250df}.sizebar{display:inline-block;height:8px;"
    "border-radius:4px;background:#0969da;opacity:.55;vertical-align:middle;margin-right:6px}"
    ".plot{width:100%;height:auto;display:block}.halo{paint-order:stroke;stroke:#fff;stroke-width:3px;"
    "stroke-linejoin:round}.tick{font-size:12px;fill:#57606a}.label{font-size:13px;"
    "fill:#1f2328}.label.strong{font-weight:700}.axis{font-size:13px;fill:#424a53}.note{font-size:12px;"
    "fill:#1a7f37;font-weight:600}.region-label{font-size:12px;fill:#1a7f37;opacity:.8}.target-note{font-size:12px;fill:#1a7f37;font-weight:600}"
    "code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;background:#f6f8fa;"
    "padding:1px 5px;border-radius:4px;word-break:break-all}.muted{color:#57606a;font-size:13px}"
    ".legend{display:flex;flex-wrap:wrap;gap:16px;font-size:13px;color:#424a53;margin:6px 0 0}"
    ".dot{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:5px;vertical-align:-1px}"
    "ol,ul{margin:6px 0;padding-left:22px}li{margin:5px 0}details summary{cursor:pointer;color:#0969da}"
    ".measured{font-size:13px;color:#424a53}.measured.contradicts{color:#bc4c00;font-weight:600}"
    ".appendix{font-size:14px}.failbox{border-left:6px solid #6e7781}.facts{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;"
    "margin:8px 0 14px}.facts div{background:#f6f8fa;border-radius:8px;padding:8px 12px}.facts b{display:block;"
    "font-size:17px}.facts span{font-size:12px;color:#57606a}.grid2{display:grid;grid-template-columns:1fr 1fr;"
    "gap:14px}footer{color:#8c959f;font-size:12px;margin-top:30px}";

static const char *esc(const char *text, char *buffer)
{
    return sq_html_escape(text ? text : "", buffer, ESC_SIZE);
}

static void hero(FILE *out, const sq_run_results *r)
{
    const sq_variant_result *base = &r->baseline, *v = NULL;
    char words[4096], matrix[2048], e1[ESC_SIZE], a[32], b[32];
    int counts[4] = {0, 0, 0, 0};
    static const char *const chip_labels[4] = {"SUCCESS", "PARTIAL", "FAILURE", "FAILED TO RUN"};

    for (int i = 0; i < r->variant_count; i++)
        counts[r->variants[i].verdict]++;
    sq_report_recommendation_words(r, words, sizeof words);
    if (r->recommended >= 0) {
        v = &r->variants[r->recommended];
        fprintf(out, "<section id=\"recommendation\" class=\"card hero\" data-recommended=\"%s\"><h2>Ship "
                     "<code style=\"font-size:22px\">%s</code> <span class=\"badge success\">SUCCESS</span></h2>\n",
                esc(v->name, e1), e1);
    } else {
        v = r->closest >= 0 ? &r->variants[r->closest] : NULL;
        fprintf(out, "<section id=\"recommendation\" class=\"card hero none\" data-recommended=\"\"><h2>No variant "
                     "meets both targets</h2>\n");
    }
    if (r->recommended >= 0)
        fprintf(out, "<p>The smallest of the %d variant(s) that meet both targets (&#8805; %.2fx smaller on disk, "
                     "perplexity &#8804; +%.2f%%).</p>\n",
                counts[SQ_VERDICT_SUCCESS], r->target_compression, r->target_quality);
    else
        fprintf(out, "<p>%s</p>\n", esc(words, e1));
    if (v) {
        fprintf(out, "<div class=\"tiles\">"
                     "<div class=\"tile\"><div class=\"k\">smaller than your checkpoint</div><div class=\"v\">%.2fx"
                     "</div><div class=\"muted\">%s &#8594; %s</div></div>",
                v->ratio_size, sq_human_bytes((double)r->size_base_bytes, a, sizeof a),
                sq_human_bytes((double)v->file_bytes, b, sizeof b));
        fprintf(out, "<div class=\"tile\"><div class=\"k\">perplexity change</div><div class=\"v\">%+.2f%%</div>"
                     "<div class=\"muted\">&#177; %.2f%% (1 s.e.) &middot; %.4f vs %.4f</div></div>",
                v->ppl_change_pct, v->ppl_change_stderr_pct, v->perplexity, base->perplexity);
        if (v->has_kl)
            fprintf(out, "<div class=\"tile\"><div class=\"k\">KL divergence</div><div class=\"v\">%.3g</div>"
                         "<div class=\"muted\">nats per token, to fp32</div></div>",
                    v->kl_divergence);
        if (v->speed_comparable)
            fprintf(out, "<div class=\"tile\" id=\"speed-tile\"><div class=\"k\">speed</div><div class=\"v\">%.2fx"
                         "</div><div class=\"muted\">%.0f vs %.0f tok/s</div></div>",
                    v->speed_ratio, v->tokens_per_second, base->tokens_per_second);
        fprintf(out, "<div class=\"tile\"><div class=\"k\">peak memory</div><div class=\"v\">%s</div><div "
                     "class=\"muted\">baseline %s</div></div></div>\n",
                sq_human_bytes((double)v->peak_rss_bytes, a, sizeof a),
                sq_human_bytes((double)base->peak_rss_bytes, b, sizeof b));
        sq_report_size_base_words(r, matrix, sizeof matrix);
        fprintf(out, "<p class=\"muted\" id=\"size-base\">Sizes are compared with %s", esc(matrix, e1));
        fprintf(out, ": <code>%s</code>.", esc(r->size_base_path, e1));
        if (!v->speed_comparable)
            fprintf(out, " Speed is not shown: evaluate ran every variant dequantized to fp32, like the baseline, so "
                         "tokens/s says nothing about a format; measure it on the target runtime.");
        fprintf(out, "</p>\n");
        bool tie = r->recommended >= 0 && r->recommended != r->smallest_success;
        for (int i = 0; i < r->variant_count; i++)
            tie = tie || (r->recommended >= 0 && r->variants[i].tied_with == r->recommended);
        if (tie) /* the words say which variants tie and why this one is named */
            fprintf(out, "<p id=\"tie\">%s</p>\n", esc(words, e1));
        sq_report_matrix_words(r, v, matrix, sizeof matrix);
        fprintf(out, "<p class=\"muted\">%s</p>\n", esc(matrix, e1));
    }
    fprintf(out, "<div class=\"chips\" id=\"verdict-counts\">");
    for (int k = 0; k < 4; k++)
        if (counts[k] > 0)
            fprintf(out, "<span class=\"chip\" style=\"color:%s\">%d %s</span>", sq_verdict_color((sq_verdict)k),
                    counts[k], chip_labels[k]);
    fprintf(out, "</div></section>\n");
}

static void scorecard(FILE *out, const sq_run_results *r)
{
    const sq_variant_result *base = &r->baseline;
    char e1[ESC_SIZE], e2[ESC_SIZE], a[32], b[32], based[SQ_REPORT_PATH + 64];
    double largest = (double)r->size_base_bytes;
    sq_report_size_base_words(r, based, sizeof based);
    if ((double)base->file_bytes > largest)
        largest = (double)base->file_bytes;
    fprintf(out, "<h2>Scorecard</h2>\n<div class=\"card\" style=\"overflow-x:auto\"><table id=\"scorecard\"><thead>"
                 "<tr><th>variant</th><th class=\"l\">verdict</th><th>size on disk</th><th>smaller than<br>your "
                 "checkpoint</th><th>tensor bytes<br>ratio</th><th>perplexity</th><th>change vs fp32</th><th>KL</th>"
                 "<th>tokens/s</th><th>peak memory</th></tr></thead><tbody>\n");
    if (r->size_base_is_checkpoint)
        fprintf(out, "<tr class=\"size-base\" data-file=\"%s\"><td>your checkpoint<br><code>%s</code></td><td class=\"l\">"
                     "&#8212;</td><td><span class=\"sizebar\" style=\"width:%.0fpx;background:#8c959f\"></span>%s</td>"
                     "<td>1.00x</td><td colspan=\"6\" class=\"wrap muted\">the file you gave (%s bytes): every "
                     "\"smaller\" is against it</td></tr>\n",
                esc(r->size_base_path, e1), esc(strrchr(r->size_base_path, '/') ? strrchr(r->size_base_path, '/') + 1
                                                                                  : r->size_base_path, e2),
                44.0 * (double)r->size_base_bytes / largest, sq_human_bytes((double)r->size_base_bytes, a, sizeof a),
                sq_thousands(r->size_base_bytes, b, sizeof b));
    fprintf(out, "<tr class=\"baseline\"><td>fp32 baseline <span class=\"muted\">(HDF5 copy)</span></td><td class=\"l\">&#8212;</td><td><span class=\"sizebar\" "
                 "style=\"width:%.0fpx;background:#8c959f\"></span>%s</td><td>%.2fx</td><td>1.00x</td><td>%.4f &#177; "
                 "%.4f</td><td>&#8212;</td><td>&#8212;</td><td>%.0f</td><td>%s</td></tr>\n",
            44.0 * (double)base->file_bytes / largest, sq_human_bytes((double)base->file_bytes, a, sizeof a),
            base->file_bytes > 0 ? (double)r->size_base_bytes / (double)base->file_bytes : 0.0, base->perplexity,
            base->ppl_stderr, base->tokens_per_second, sq_human_bytes((double)base->peak_rss_bytes, b, sizeof b));
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        esc(v->name, e1);
        if (!v->evaluated) {
            fprintf(out, "<tr class=\"variant failed\" data-variant=\"%s\" data-verdict=\"%s\"><td>%s</td><td "
                         "class=\"l\"><span class=\"badge failed\">%s</span></td><td colspan=\"8\" class=\"wrap\">%s",
                    e1, sq_verdict_name(v->verdict), e1, sq_verdict_name(v->verdict), esc(v->failure, e2));
            if (v->log_path[0])
                fprintf(out, " &middot; log: <code class=\"log\">%s</code>", esc(v->log_path, e2));
            fprintf(out, "</td></tr>\n");
            continue;
        }
        double share = largest > 0 ? 44.0 * (double)v->file_bytes / largest : 0;
        char pruned[ESC_SIZE + 96] = "";
        if (v->pruned)
            snprintf(pruned, sizeof pruned, "<br><span class=\"muted pruned\">pruned: %s</span>",
                     esc(v->prune_amounts, e2));
        fprintf(out, "<tr class=\"variant%s\" data-variant=\"%s\" data-verdict=\"%s\"><td>%s%s%s%s%s</td><td class=\"l\">"
                     "<span class=\"badge %s\">%s</span></td><td><span class=\"sizebar\" style=\"width:%.0fpx\">"
                     "</span>%s</td><td>%.2fx</td><td>%.2fx</td><td>%.4f &#177; %.4f</td>"
                     "<td style=\"color:%s;font-weight:600\">%+.2f%% &#177; %.2f</td>",
                i == r->recommended ? " recommended" : "", e1, sq_verdict_name(v->verdict), e1,
                v->pareto ? " <span class=\"pareto-mark\" title=\"on the Pareto front\">&#9670;</span>" : "",
                v->tied_with >= 0 ? " <span class=\"muted tie\">(tie)</span>" : "",
                v->stale ? " <span class=\"muted\">(stale)</span>" : "", pruned, sq_verdict_class(v->verdict),
                sq_verdict_name(v->verdict), share < 1 ? 1 : share, sq_human_bytes((double)v->file_bytes, a, sizeof a),
                v->ratio_size, v->ratio_tensor, v->perplexity, v->ppl_stderr,
                v->ppl_change_pct <= r->target_quality ? "#1a7f37" : "#cf222e", v->ppl_change_pct,
                v->ppl_change_stderr_pct);
        if (v->has_kl)
            fprintf(out, v->kl_divergence < 1e-3 ? "<td>%.1e</td>" : "<td>%.4f</td>", v->kl_divergence);
        else
            fprintf(out, "<td>&#8212;</td>");
        if (v->speed_comparable)
            fprintf(out, "<td class=\"speed\">%.0f <span class=\"muted\">(%.2fx)</span></td>", v->tokens_per_second,
                    v->speed_ratio);
        else
            fprintf(out, "<td class=\"speed muted\" title=\"ran dequantized to fp32\">not comparable</td>");
        fprintf(out, "<td>%s</td></tr>\n", sq_human_bytes((double)v->peak_rss_bytes, b, sizeof b));
    }
    fprintf(out, "</tbody></table>\n<p class=\"muted\"><b>SUCCESS</b> meets the compression target (&#8805; %.2fx "
                 "smaller than %s) and the quality threshold (perplexity &#8804; +%.2f%%); <b>PARTIAL</b> meets the "
                 "compression only; <b>FAILURE</b> misses the compression target. "
                 "<span class=\"pareto-mark\">&#9670;</span> on the Pareto front of size and quality; "
                 "<i>tie</i>: files within 1%% and perplexity changes within one standard error of the recommended "
                 "variant. Perplexity &#177; its standard error as llama.cpp computes it; change &#177; one standard "
                 "error from the paired per-window differences (both models scored the same %lld windows). Sizes are "
                 "bytes on disk (stat) and bytes of the stored tensors. Speed is shown only for a variant that ran its "
                 "own kernels: <i>not comparable</i> means evaluate ran it dequantized to fp32, like the baseline, so "
                 "its tokens/s is the machine's noise. Measure speed on the target hardware and runtime before "
                 "shipping.</p></div>\n",
            r->target_compression, esc(based, e1), r->target_quality, (long long)base->windows);
}

/* Variants whose SSM was pruned past the guard (force: true). */
static void forced_warnings(FILE *out, const sq_run_results *r)
{
    char words[1536], e1[ESC_SIZE], e2[ESC_SIZE];
    for (int i = 0; i < r->variant_count; i++)
        if (sq_report_forced_ssm_words(&r->variants[i], words, sizeof words))
            fprintf(out, "<div class=\"card failbox forced-ssm\" data-variant=\"%s\"><p><b>%s</b></p></div>\n",
                    esc(r->variants[i].name, e1), esc(words, e2));
}

static void failures(FILE *out, const sq_run_results *r)
{
    char e1[ESC_SIZE], e2[ESC_SIZE];
    int failed = 0;
    for (int i = 0; i < r->variant_count; i++)
        failed += !r->variants[i].evaluated;
    if (failed == 0)
        return;
    fprintf(out, "<h2>Variants that failed to run</h2>\n<div class=\"card failbox\" id=\"failed\"><ul>\n");
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (v->evaluated)
            continue;
        fprintf(out, "<li data-variant=\"%s\"><b>%s</b>: %s", esc(v->name, e1), e1, esc(v->failure, e2));
        if (v->log_path[0])
            fprintf(out, "<br>log: <code class=\"log\">%s</code>", esc(v->log_path, e2));
        fprintf(out, "</li>\n");
    }
    fprintf(out, "</ul><p class=\"muted\">They have no measurements, so they are not in the plots. Read the log, fix "
                 "the cause and run again: the driver reruns only what is missing.</p></div>\n");
}

static void plots(FILE *out, const sq_run_results *r)
{
    const sq_variant_result *shown = r->recommended >= 0 ? &r->variants[r->recommended]
                                     : r->closest >= 0   ? &r->variants[r->closest]
                                                         : NULL;
    char e1[ESC_SIZE], e2[ESC_SIZE];
    fprintf(out, "<h2>Quality against size</h2>\n<div class=\"card\">");
    sq_svg_tradeoff(out, r);
    fprintf(out, "<div class=\"legend\"><span><span class=\"dot\" style=\"background:#1a7f37\"></span>SUCCESS</span>"
                 "<span><span class=\"dot\" style=\"background:#bc4c00\"></span>PARTIAL</span><span><span class=\"dot\" "
                 "style=\"background:#cf222e\"></span>FAILURE</span><span><span class=\"dot\" style=\"background:#fff;"
                 "border:3px solid #8250df\"></span>Pareto front (purple line)</span><span><span class=\"dot\" "
                 "style=\"border-radius:0;background:#fff;border:2px solid #57606a\"></span>square: pruned first, then "
                 "the format</span><span>green area: meets both "
                 "targets (dashed lines)</span><span>bars: &#177; 1 s.e.</span></div></div>\n");
    for (int i = 0; shown == NULL && i < r->variant_count; i++)
        if (r->variants[i].has_groups)
            shown = &r->variants[i];
    if (shown && shown->has_groups) {
        fprintf(out, "<h2>Where the bytes went: <code>%s</code></h2>\n<div class=\"card\">", esc(shown->name, e1));
        sq_svg_groups(out, shown);
        fprintf(out, "<p class=\"muted\">Bytes per parameter group, from compress's per-tensor accounting in <code>%s"
                     "</code> (map <code>%s</code>). A tied head is stored once, under the embedding.</p></div>\n",
                esc(shown->model_path, e1), esc(shown->precision_map, e2));
    }
    if (r->moe_layer_count > 0) {
        fprintf(out, "<h2>Expert routing (calibration)</h2>\n<div class=\"card\">");
        sq_svg_experts(out, r);
        fprintf(out, "<p class=\"muted\">Tokens the router sent to each expert (top-%d) over the calibration windows, "
                     "from <code>%s</code>. A rarely used expert is a pruning candidate; a busy one deserves precision."
                     "</p></div>\n",
                r->top_k, esc(r->calibration_path, e1));
    }
}

static void advice_items(FILE *out, const sq_run_results *r, const sq_advice_item *items, int count, bool avoided)
{
    char e1[ESC_SIZE], e2[ESC_SIZE], measured[2048];
    fprintf(out, avoided ? "<ul>" : "<ol>");
    for (int i = 0; i < count; i++) {
        bool contradicts = sq_report_measured_words(r, items[i].technique, avoided, measured, sizeof measured);
        fprintf(out, "<li data-technique=\"%s\"><b>%s</b> &#8212; %s.", esc(items[i].technique, e1),
                esc(items[i].title, e1), esc(items[i].reason, e2));
        if (!avoided)
            fprintf(out, "<br><span class=\"muted\">In squeeze: %s</span>", esc(items[i].squeeze_how, e1));
        fprintf(out, "<br><span class=\"measured%s\">%s</span></li>\n", contradicts ? " contradicts" : "",
                esc(measured, e1));
    }
    fprintf(out, avoided ? "</ul>" : "</ol>");
}

static void advice(FILE *out, const sq_run_results *r)
{
    const sq_advice *a = &r->advice;
    char e1[ESC_SIZE], number[32];
    if (!r->has_advice) {
        fprintf(out, "<h2>Appendix: rules of thumb</h2>\n<div class=\"card\" id=\"decision-matrix\"><p>No inspect "
                     "artifact (inspect/inspect.h5): the model's architecture and size are unknown.</p></div>\n");
        return;
    }
    fprintf(out, "<h2>Appendix: rules of thumb for this model</h2>\n<div class=\"card appendix\" id=\"decision-matrix\">"
                 "<p class=\"muted\">What is commonly expected of each technique for a model like this one, before "
                 "measuring. The measurements above decide; where this run measured a technique, it is shown under the "
                 "rule, and a contradiction is marked.</p>"
                 "<div class=\"facts\"><div><span>architecture</span><b>%s</b></div><div><span>size</span><b>%s "
                 "params (%s)</b></div><div><span>target hardware</span><b>%s</b></div><div><span>quality constraint"
                 "</span><b>+%.3g%% (%s)</b></div></div>\n",
            sq_advice_arch_name(a->input.arch), sq_thousands(a->input.parameters, number, sizeof number),
            sq_advice_size_name(a->size),
            sq_advice_hardware_name(a->input.hardware), a->input.quality_pct, sq_advice_quality_name(a->quality));
    fprintf(out, "<p>%s</p><div class=\"grid2\"><div><h3>Suggested, best first</h3>", esc(a->summary, e1));
    advice_items(out, r, a->recommended, a->recommended_count, false);
    fprintf(out, "</div><div><h3>Advised against here</h3>");
    if (a->avoided_count)
        advice_items(out, r, a->avoided, a->avoided_count, true);
    else
        fprintf(out, "<p class=\"muted\">nothing</p>");
    fprintf(out, "</div></div>");
    if (a->caveat_count > 0) {
        fprintf(out, "<details><summary>%d caveats</summary><ul>", a->caveat_count);
        for (int i = 0; i < a->caveat_count; i++)
            fprintf(out, "<li>%s</li>", esc(a->caveats[i], e1));
        fprintf(out, "</ul></details>");
    }
    fprintf(out, "</div>\n");
}

/* One card per exported file: what its export record says (docs/export.md). */
static void exports(FILE *out, const sq_run_results *r)
{
    char e1[ESC_SIZE], e2[ESC_SIZE], words[SQ_REPORT_PATH + 128], a[32];
    if (r->export_count == 0)
        return;
    fprintf(out, "<h2>Exports</h2>\n");
    for (int i = 0; i < r->export_count; i++) {
        const sq_export_result *e = &r->exports[i];
        sq_report_export_words(e, words, sizeof words);
        fprintf(out, "<div class=\"card export\" data-variant=\"%s\" data-format=\"%s\"><h3>%s as %s</h3><ul>",
                esc(e->variant, e1), esc(e->format, e2), e1, e2);
        fprintf(out, "<li>file: <code>%s</code> (%s)</li>", esc(e->file, e1), esc(words, e2));
        fprintf(out, "<li>sha256 <code class=\"sha256\">%s</code>, <span class=\"bytes\">%lld</span> bytes on disk "
                     "(%s), %lld of them tensor data</li>",
                esc(e->sha256, e1), (long long)e->bytes_on_disk, sq_human_bytes((double)e->bytes_on_disk, a, sizeof a),
                (long long)e->tensor_bytes);
        if (e->architecture[0])
            fprintf(out, "<li>GGUF architecture <code>%s</code>: read by %s</li>", esc(e->architecture, e1),
                    esc(e->readers, e2));
        fprintf(out, "<li>tensors: %lld; %lld copied unchanged, <span class=\"converted\">%lld</span> converted, %lld not "
                     "written (stored once, shared)",
                (long long)e->tensors, (long long)e->copied, (long long)e->converted, (long long)e->not_written);
        if (e->conversion_count > 0 || e->other_conversions > 0) {
            fprintf(out, "<ul>");
            for (int c = 0; c < e->conversion_count; c++)
                fprintf(out, "<li>%lld &times; %s</li>", (long long)e->conversions[c].tensors,
                        esc(e->conversions[c].text, e1));
            if (e->other_conversions > 0)
                fprintf(out, "<li>%lld &times; other conversions (listed in the record)</li>",
                        (long long)e->other_conversions);
            fprintf(out, "</ul>");
        }
        fprintf(out, "</li><li class=\"muted\">record <code>%s</code>, %s</li></ul></div>\n", esc(e->record_path, e1),
                esc(e->created_utc, e2));
    }
}

static void provenance(FILE *out, const sq_run_results *r)
{
    const sq_variant_result *base = &r->baseline;
    char e1[ESC_SIZE], e2[ESC_SIZE], e3[ESC_SIZE];
    fprintf(out, "<h2>Provenance</h2>\n<div class=\"card\" id=\"provenance\" style=\"overflow-x:auto\">"
                 "<table style=\"table-layout:fixed\"><colgroup><col style=\"width:17%%\"><col style=\"width:36%%\"><col>"
                 "</colgroup><thead><tr><th>numbers</th><th class=\"l\">artifact</th><th class=\"l\">details</th></tr>"
                 "</thead><tbody>\n");
    fprintf(out, "<tr><td>targets</td><td class=\"l wrap\"><code>%s</code></td><td class=\"wrap\">"
                 "targets.compression = %.4g, targets.quality = %.4g, inspect.target_hardware = %s%s%.16s</td></tr>\n",
            r->config_path[0] ? esc(r->config_path, e1) : "(no --config: defaults)", r->target_compression,
            r->target_quality, esc(r->target_hardware, e2), r->config_sha256[0] ? "; sha256 " : "",
            r->config_sha256);
    if (r->plan_path[0])
        fprintf(out, "<tr><td>variants, failures</td><td class=\"l wrap\"><code>%s</code></td><td class=\"wrap\">"
                     "the driver's plan: states, exit codes, logs</td></tr>\n",
                esc(r->plan_path, e1));
    fprintf(out, "<tr><td>model facts, rules of thumb</td><td class=\"l wrap\"><code>%s</code></td><td class=\"wrap\">"
                 "%s, %lld parameters, checkpoint <code>%s</code></td></tr>\n",
            r->inspect_path[0] ? esc(r->inspect_path, e1) : "(none)", esc(r->family, e2), (long long)r->parameters,
            esc(r->checkpoint, e3));
    fprintf(out, "<tr><td>baseline</td><td class=\"l wrap\"><code>%s</code></td><td class=\"wrap\">%lld MPI rank(s), "
                 "squeeze %s, %s; text <code>%s</code> (%s), windows of %lld, stride %lld, offset %lld, scoring %s, "
                 "%lld windows</td></tr>\n",
            esc(base->evaluation_path, e1), (long long)base->mpi_ranks, base->squeeze_version, base->created_utc,
            esc(base->setup.data_path, e2), esc(base->setup.tokenizer, e3), (long long)base->setup.window_length,
            (long long)base->setup.stride, (long long)base->setup.offset, base->setup.scoring,
            (long long)base->windows);
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated)
            continue;
        fprintf(out, "<tr data-variant=\"%s\"><td>%s</td><td class=\"l wrap\"><code>%s</code>", esc(v->name, e1), e1,
                esc(v->evaluation_path, e2));
        if (v->has_model)
            fprintf(out, "<br><code>%s</code>", esc(v->model_path, e2));
        fprintf(out, "</td><td class=\"wrap\">%lld MPI rank(s), squeeze %s, %s, plan key <code>%.12s</code>%s",
                (long long)v->mpi_ranks, v->squeeze_version, v->created_utc, v->plan_key[0] ? v->plan_key : "-",
                v->stale ? " <b>(stale: plan.json expects another key)</b>" : "");
        if (v->has_model)
            fprintf(out, "; map <code>%s</code>%s%s%s%s", esc(v->precision_map, e1),
                    v->map_description[0] ? " (" : "", esc(v->map_description, e2), v->map_description[0] ? ")" : "",
                    v->calibration_input[0] ? "; calibration " : "");
        if (v->has_model && v->calibration_input[0])
            fprintf(out, "<code>%s</code>", esc(v->calibration_input, e1));
        fprintf(out, "</td></tr>\n");
    }
    if (r->calibration_path[0])
        fprintf(out, "<tr><td>expert routing</td><td class=\"l wrap\"><code>%s</code></td><td class=\"wrap\">"
                     "/calibration/routing</td></tr>\n",
                esc(r->calibration_path, e1));
    fprintf(out, "</tbody></table><p class=\"muted\">report.json next to this page holds every number with the "
                 "artifact it came from.</p></div>\n");
}

sq_status sq_report_write_html(const sq_run_results *r, const char *path)
{
    char *text = NULL, e1[ESC_SIZE], a[32], number[32], based[SQ_REPORT_PATH + 64];
    size_t size = 0;
    sq_status st;
    FILE *out = open_memstream(&text, &size);
    if (out == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot open a memory stream");
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
                 "content=\"width=device-width,initial-scale=1\"><title>squeeze report: %s</title><style>%s</style>"
                 "</head><body><main>\n",
            esc(r->run_name, e1), page_style);
    fprintf(out, "<header><h1>squeeze report: %s</h1><p class=\"sub\">%s model &middot; %s parameters &middot; ",
            e1, r->family[0] ? r->family : "unknown", sq_thousands(r->parameters, number, sizeof number));
    sq_report_size_base_words(r, based, sizeof based);
    fprintf(out, "sizes against %s, %s &middot; fp32 perplexity %.4f &middot; targets: &#8805; %.2fx smaller, "
                 "perplexity &#8804; +%.2f%% &middot; hardware: %s</p></header>\n",
            esc(based, e1), sq_human_bytes((double)r->size_base_bytes, a, sizeof a), r->baseline.perplexity,
            r->target_compression, r->target_quality, r->target_hardware);
    hero(out, r);
    scorecard(out, r);
    forced_warnings(out, r);
    failures(out, r);
    plots(out, r);
    exports(out, r);
    provenance(out, r);
    advice(out, r);
    fprintf(out, "<footer>written by squeeze %s from %s</footer>\n</main></body></html>\n", sq_version(),
            esc(r->run_dir, e1));
    fclose(out);
    st = sq_write_file_atomic(path, text, size);
    free(text);
    return st;
}
