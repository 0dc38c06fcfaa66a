/* render_svg.c - inline SVG plots for report.html (render_svg.h). */
#include "report/render_svg.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "report/text_file.h"

const char *sq_verdict_class(sq_verdict verdict)
{
    switch (verdict) {
    case SQ_VERDICT_SUCCESS: return "success";
    case SQ_VERDICT_PARTIAL: return "partial";
    case SQ_VERDICT_FAILURE: return "failure";
    default: return "failed";
    }
}

const char *sq_verdict_color(sq_verdict verdict)
{
    switch (verdict) {
    case SQ_VERDICT_SUCCESS: return "#1a7f37";
    case SQ_VERDICT_PARTIAL: return "#bc4c00";
    case SQ_VERDICT_FAILURE: return "#cf222e";
    default: return "#6e7781";
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about `count` ticks. */
static double tick_step(double span, int count)
{
    double raw = span / count, power = pow(10.0, floor(log10(raw))), scaled = raw / power;
    return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

/* Labels of the trade-off plot are placed greedily where they overlap no
 * earlier label and no point (approximate text box: 6.6 px per character). */
typedef struct {
    double x0, y0, x1, y1;
} box;

static bool overlaps(const box *a, const box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

static void place_label(double x, double y, const char *text, double width, box *placed, int *placed_count,
                        double *lx, double *ly, const char **anchor)
{
    static const double offsets[][2] = {{10, -8}, {10, 16}, {-10, -8}, {-10, 16}, {10, -22}, {10, 30},
                                        {-10, -22}, {-10, 30}, {10, -36}, {10, 44}};
    double w = 6.6 * (double)strlen(text);
    for (size_t k = 0; k < sizeof offsets / sizeof *offsets; k++) {
        double dx = offsets[k][0], dy = offsets[k][1];
        box candidate = {dx > 0 ? x + dx : x + dx - w, y + dy - 11, dx > 0 ? x + dx + w : x + dx, y + dy + 3};
        bool free_spot = candidate.x0 >= 0 && candidate.x1 <= width;
        for (int i = 0; free_spot && i < *placed_count; i++)
            free_spot = !overlaps(&candidate, &placed[i]);
        if (free_spot || k == sizeof offsets / sizeof *offsets - 1) {
            placed[(*placed_count)++] = candidate;
            *lx = x + dx;
            *ly = y + dy;
            *anchor = dx > 0 ? "start" : "end";
            return;
        }
    }
}

void sq_svg_tradeoff(FILE *out, const sq_run_results *r)
{
    const double width = 900, height = 430, left = 74, right = 24, top = 26, bottom = 56;
    const sq_variant_result *base = &r->baseline;
    double base_bytes = (double)base->file_bytes, target_bytes = base_bytes / r->target_compression;
    double x_max = base_bytes * 1.06, y_min = 0, y_max = r->target_quality * 1.6, cap;
    char name[256], a[32];
    box placed[2 * SQ_REPORT_MAX_VARIANTS + 8]; /* the baseline, every point and every label */
    int placed_count = 0, evaluated = 0, clipped = 0;

    /* y range: every point with its error bar, but a variant far outside (a
     * broken quantization at +300%) is drawn at the top edge, not allowed to
     * flatten the others. */
    cap = fmax(r->target_quality * 6.0, 10.0);
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated)
            continue;
        evaluated++;
        if (v->ppl_change_pct > cap)
            clipped++;
        else
            y_max = fmax(y_max, v->ppl_change_pct + v->ppl_change_stderr_pct);
        y_min = fmin(y_min, v->ppl_change_pct - v->ppl_change_stderr_pct);
        x_max = fmax(x_max, (double)v->file_bytes * 1.06);
    }
    y_max = fmin(y_max, cap) + (fmin(y_max, cap) - y_min) * 0.10;
    y_min -= (y_max - y_min) * 0.05;
#define PX(x) (left + (x) / x_max * (width - left - right))
#define PY(y) (top + (y_max - (y)) / (y_max - y_min) * (height - top - bottom))
    fprintf(out, "<svg id=\"plot-tradeoff\" class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                 "aria-label=\"Perplexity change against model size, with the targets and the Pareto front\">\n",
            width, height);
    /* where both targets are met */
    fprintf(out, "<rect class=\"target-region\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                 "fill=\"#dafbe1\" opacity=\"0.75\"/>\n",
            PX(0), PY(r->target_quality), PX(target_bytes) - PX(0), PY(y_min) - PY(r->target_quality));
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"region-label\">meets both targets</text>\n", PX(0) + 8,
            PY(y_min) - 8);
    /* grid and ticks */
    /* x ticks at round numbers of the largest binary unit (KiB, MiB, GiB) that fits */
    double unit = 1;
    const char *unit_name = "B";
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    for (int k = 0; k < 4 && x_max >= unit * 1024 * 1.5; k++) {
        unit *= 1024;
        unit_name = units[k];
    }
    double y_step = tick_step(y_max - y_min, 6), x_step = tick_step(x_max / unit, 6) * unit;
    for (double y = ceil(y_min / y_step) * y_step; y <= y_max; y += y_step) {
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eaeef2\"/>", left, width - right,
                PY(y), PY(y));
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%+.*f%%</text>\n", left - 6,
                PY(y) + 4, y_step < 1 ? 1 : 0, fabs(y) < y_step * 1e-6 ? 0.0 : y);
    }
    for (double x = 0; x <= x_max; x += x_step) {
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f2f4\"/>", PX(x), PX(x), top,
                height - bottom);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%.4g %s</text>\n", PX(x),
                height - bottom + 17, x / unit, unit_name);
    }
    fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#8c959f\"/>\n", left, width - right,
            PY(0), PY(0));
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#d0d7de\"/>\n", left,
            top, width - left - right, height - top - bottom);
    /* the targets */
    fprintf(out, "<line class=\"target-line\" data-target=\"compression\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
                 "y2=\"%.1f\" stroke=\"#1a7f37\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
            PX(target_bytes), PX(target_bytes), top, height - bottom);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">%.2gx smaller = %s</text>\n", PX(target_bytes) + 5,
            top + 14, r->target_compression, sq_human_bytes(target_bytes, a, sizeof a));
    fprintf(out, "<line class=\"target-line\" data-target=\"quality\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                 "stroke=\"#1a7f37\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
            left, width - right, PY(r->target_quality), PY(r->target_quality));
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\" text-anchor=\"end\">quality threshold +%.3g%%</text>\n",
            width - right - 6, PY(r->target_quality) - 6, r->target_quality);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">model file size on disk "
                 "(measured; smaller is left)</text>\n",
            (left + width - right) / 2, height - 14);
    fprintf(out, "<text x=\"16\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">"
                 "perplexity change vs fp32 (lower is better)</text>\n",
            (top + height - bottom) / 2, (top + height - bottom) / 2);
    /* the Pareto front, as a staircase from the smallest variant */
    {
        int order[SQ_REPORT_MAX_VARIANTS], n = 0;
        for (int i = 0; i < r->variant_count; i++)
            if (r->variants[i].evaluated && r->variants[i].pareto)
                order[n++] = i;
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && r->variants[order[j]].file_bytes < r->variants[order[j - 1]].file_bytes; j--) {
                int held = order[j];
                order[j] = order[j - 1];
                order[j - 1] = held;
            }
        if (n > 1) {
            fprintf(out, "<polyline class=\"pareto-front\" fill=\"none\" stroke=\"#8250df\" stroke-width=\"2\" "
                         "stroke-linejoin=\"round\" opacity=\"0.8\" points=\"");
            for (int k = 0; k < n; k++) {
                const sq_variant_result *v = &r->variants[order[k]];
                double y = fmin(v->ppl_change_pct, y_max);
                if (k > 0)
                    fprintf(out, "%.1f,%.1f ", PX((double)v->file_bytes),
                            PY(fmin(r->variants[order[k - 1]].ppl_change_pct, y_max)));
                fprintf(out, "%.1f,%.1f ", PX((double)v->file_bytes), PY(y));
            }
            fprintf(out, "\"/>\n");
        }
    }
    /* the baseline: where every variant starts from */
    fprintf(out, "<path class=\"baseline-point\" d=\"M %.1f %.1f l 7 7 l -7 7 l -7 -7 z\" fill=\"#57606a\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" class=\"label\" text-anchor=\"end\">fp32 baseline</text>\n",
            PX(base_bytes), PY(0) - 7, PX(base_bytes) - 10, PY(0) - 10);
    placed[placed_count++] = (box){PX(base_bytes) - 100, PY(0) - 22, PX(base_bytes) + 8, PY(0) + 8};
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (v->evaluated) {
            double x = PX((double)v->file_bytes), y = PY(fmin(v->ppl_change_pct, y_max));
            placed[placed_count++] = (box){x - 8, y - 8, x + 8, y + 8};
        }
    }
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        char label[320];
        double lx, ly;
        const char *anchor;
        if (!v->evaluated)
            continue;
        bool off_scale = v->ppl_change_pct > y_max;
        double x = PX((double)v->file_bytes), y = PY(off_scale ? y_max : v->ppl_change_pct);
        sq_html_escape(v->name, name, sizeof name);
        if (!off_scale)
            fprintf(out, "<line class=\"error-bar\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                         "stroke-width=\"1.5\"/>",
                    x, x, PY(fmax(v->ppl_change_pct - v->ppl_change_stderr_pct, y_min)),
                    PY(fmin(v->ppl_change_pct + v->ppl_change_stderr_pct, y_max)), sq_verdict_color(v->verdict));
        if (off_scale)
            fprintf(out, "<path class=\"point off-scale\" data-variant=\"%s\" d=\"M %.1f %.1f l 7 12 l -14 0 z\" "
                         "fill=\"%s\"><title>%s: %.2fx smaller, %+.2f%% (off the scale)</title></path>",
                    name, x, y, sq_verdict_color(v->verdict), name, v->ratio_file, v->ppl_change_pct);
        else
            fprintf(out, "<circle class=\"point%s\" data-variant=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\" "
                         "stroke=\"%s\" stroke-width=\"%d\"><title>%s: %.2fx smaller, %+.2f%% &#177; %.2f</title></circle>",
                    v->pareto ? " pareto" : "", name, x, y, i == r->recommended ? 8 : 6, sq_verdict_color(v->verdict),
                    v->pareto ? "#8250df" : "white", v->pareto ? 3 : 2, name, v->ratio_file, v->ppl_change_pct,
                    v->ppl_change_stderr_pct);
        snprintf(label, sizeof label, off_scale ? "%s (%+.0f%%)" : "%s", name, v->ppl_change_pct);
        place_label(x, y, label, width, placed, &placed_count, &lx, &ly, &anchor);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"label halo%s\" text-anchor=\"%s\">%s</text>\n", lx, ly,
                i == r->recommended ? " strong" : "", anchor, label);
    }
    if (evaluated == 0)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">no variant was evaluated"
                     "</text>\n", width / 2, height / 2);
    fprintf(out, "</svg>\n");
    (void)clipped;
#undef PX
#undef PY
}

void sq_svg_groups(FILE *out, const sq_variant_result *v)
{
    const double width = 900, left = 120, right = 200, bar = 16, gap = 16;
    int rows = 0;
    double largest = 1;
    char a[32], b[32], name[256];
    for (int g = 0; g < SQ_GROUP_COUNT; g++)
        if (v->group_before[g] > 0) {
            rows++;
            largest = fmax(largest, (double)v->group_before[g]);
        }
    double height = 40 + rows * (2 * bar + gap), scale = (width - left - right) / largest;
    sq_html_escape(v->name, name, sizeof name);
    fprintf(out, "<svg id=\"plot-groups\" class=\"plot\" data-variant=\"%s\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                 "aria-label=\"Bytes per parameter group before and after, %s\">\n", name, width, height, name);
    fprintf(out, "<rect x=\"%.0f\" y=\"6\" width=\"14\" height=\"11\" rx=\"2\" fill=\"#afb8c1\"/><text x=\"%.0f\" "
                 "y=\"16\" class=\"tick\">before: fp32 baseline</text><rect x=\"%.0f\" y=\"6\" width=\"14\" "
                 "height=\"11\" rx=\"2\" fill=\"#0969da\"/><text x=\"%.0f\" y=\"16\" class=\"tick\">after: %s</text>\n",
            left, left + 19, left + 190, left + 209, name);
    int row = 0;
    for (int g = 0; g < SQ_GROUP_COUNT; g++) {
        if (v->group_before[g] <= 0)
            continue;
        double y = 30 + row * (2 * bar + gap);
        double before = (double)v->group_before[g], after = (double)v->group_after[g];
        fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" class=\"label\" text-anchor=\"end\">%s</text>", left - 10,
                y + bar + 5, sq_group_name((sq_param_group)g));
        fprintf(out, "<rect class=\"bar-before\" data-group=\"%s\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" "
                     "rx=\"2\" fill=\"#afb8c1\"/>",
                sq_group_name((sq_param_group)g), left, y, fmax(before * scale, 1), bar);
        fprintf(out, "<rect class=\"bar-after\" data-group=\"%s\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" "
                     "rx=\"2\" fill=\"#0969da\"/>",
                sq_group_name((sq_param_group)g), left, y + bar, fmax(after * scale, 1), bar);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%s &#8594; %s</text>", left + before * scale + 8,
                y + bar - 3, sq_human_bytes(before, a, sizeof a), sq_human_bytes(after, b, sizeof b));
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"label strong\">%.2fx smaller</text>\n",
                left + before * scale + 8, y + 2 * bar - 2, after > 0 ? before / after : 0.0);
        row++;
    }
    fprintf(out, "</svg>\n");
}

void sq_svg_experts(FILE *out, const sq_run_results *r)
{
    const double width = 900, panel = 190, left = 104, right = 20;
    double height = 10 + r->moe_layer_count * (panel + 16);
    fprintf(out, "<svg id=\"plot-experts\" class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                 "aria-label=\"Tokens routed to each expert per MoE layer\">\n", width, height);
    for (int m = 0; m < r->moe_layer_count; m++) {
        int64_t most = 1, total = 0;
        double y0 = 10 + m * (panel + 16), plot_top = y0 + 44, plot_bottom = y0 + panel - 26;
        double slot = (width - left - right) / (r->expert_count ? r->expert_count : 1);
        for (int e = 0; e < r->expert_count; e++) {
            most = r->expert_tokens[m][e] > most ? r->expert_tokens[m][e] : most;
            total += r->expert_tokens[m][e];
        }
        double even = r->expert_count ? (double)total / r->expert_count : 0, top_value = fmax((double)most, even);
#define BY(value) (plot_bottom - (plot_bottom - plot_top) * (value) / top_value)
        fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" class=\"label strong\">MoE layer %d: %lld routings (top-%d)</text>\n",
                left, y0 + 12, r->moe_layers[m], (long long)total, r->top_k);
        fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#8c959f\"/>\n", left,
                width - right, plot_bottom, plot_bottom);
        for (int e = 0; e < r->expert_count; e++) {
            double value = (double)r->expert_tokens[m][e], x = left + e * slot + slot * 0.2;
            fprintf(out, "<rect class=\"bar-expert\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"2\" "
                         "fill=\"#bf8700\"><title>layer %d, expert %d: %lld tokens</title></rect>",
                    x, BY(value), slot * 0.6, plot_bottom - BY(value), r->moe_layers[m], e,
                    (long long)r->expert_tokens[m][e]);
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick halo\" text-anchor=\"middle\">%lld (%.0f%%)</text>",
                    x + slot * 0.3, BY(value) - 5, (long long)r->expert_tokens[m][e],
                    total ? 100.0 * value / (double)total : 0.0);
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">expert %d</text>\n",
                    x + slot * 0.3, plot_bottom + 15, e);
        }
        fprintf(out, "<line class=\"even-share\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#57606a\" "
                     "stroke-dasharray=\"4 3\"/><text x=\"%.0f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">even "
                     "share</text><text x=\"%.0f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.0f</text>\n",
                left - 6, width - right, BY(even), BY(even), left - 6, BY(even) - 2, left - 6, BY(even) + 12, even);
#undef BY
    }
    fprintf(out, "</svg>\n");
}
