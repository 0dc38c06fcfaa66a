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

/* Labels of the trade-off plot are placed where they overlap no earlier
 * label, no point, no error bar and stay inside the plot area: candidates at
 * growing distances around the point, in eight directions; when none is free
 * the label goes to the nearest free spot of a scan and gets a leader line.
 * Text boxes are estimated at 7.4 px per character of the 13 px label font
 * (wider than system-ui's average, so the estimate errs on the safe side). */
typedef struct {
    double x0, y0, x1, y1;
} box;

typedef struct {
    double left, top, right, bottom; /* the plot area */
    box items[4 * SQ_REPORT_MAX_VARIANTS + 16];
    int count;
} layout;

static bool overlaps(const box *a, const box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

static void layout_add(layout *l, box b)
{
    if (l->count < (int)(sizeof l->items / sizeof *l->items))
        l->items[l->count++] = b;
}

static bool layout_free(const layout *l, const box *b)
{
    if (b->x0 < l->left + 2 || b->x1 > l->right - 2 || b->y0 < l->top + 2 || b->y1 > l->bottom - 2)
        return false;
    for (int i = 0; i < l->count; i++)
        if (overlaps(b, &l->items[i]))
            return false;
    return true;
}

/* The box of a label whose anchor point is (x, y): text-anchor start or end, baseline at y. */
static box label_box(double x, double y, double w, bool start)
{
    return (box){start ? x - 1 : x - w - 1, y - 12, start ? x + w + 1 : x + 1, y + 4};
}

/* Finds a free spot for a label near (x, y); *leader is set when it had to go far. */
static void place_label(layout *l, double x, double y, const char *text, double *lx, double *ly, bool *start,
                        bool *leader)
{
    static const double directions[][2] = {{1, -0.6}, {1, 0.9}, {-1, -0.6}, {-1, 0.9}, {0, -1}, {0, 1.3},
                                           {1, 0.15}, {-1, 0.15}};
    double w = 7.4 * (double)strlen(text);
    *leader = false;
    for (int ring = 1; ring <= 4; ring++) {
        double distance = 9.0 * ring;
        for (size_t k = 0; k < sizeof directions / sizeof *directions; k++) {
            double dx = directions[k][0], dy = directions[k][1];
            bool s = dx >= 0;
            double ax = dx == 0 ? x - w / 2 : x + dx * distance, ay = y + dy * distance + 4;
            box b = label_box(ax, ay, w, s || dx == 0);
            if (layout_free(l, &b)) {
                layout_add(l, b);
                *lx = ax;
                *ly = ay;
                *start = s || dx == 0;
                return;
            }
        }
    }
    /* No room nearby: the nearest free spot of a coarse scan, with a leader line. */
    double best = -1, bx = x + 10, by = y;
    for (double sy = l->top + 16; sy <= l->bottom - 4; sy += 8) {
        for (double sx = l->left + 4; sx + w <= l->right - 4; sx += 8) {
            box b = label_box(sx, sy, w, true);
            double d = (sx - x) * (sx - x) + (sy - y) * (sy - y);
            if ((best < 0 || d < best) && layout_free(l, &b)) {
                best = d;
                bx = sx;
                by = sy;
            }
        }
    }
    layout_add(l, label_box(bx, by, w, true));
    *lx = bx;
    *ly = by;
    *start = true;
    *leader = true;
}

void sq_svg_tradeoff(FILE *out, const sq_run_results *r)
{
    const double width = 900, height = 440, left = 74, right = 24, top = 30, bottom = 70;
    const double size_base = (double)(r->size_base_bytes > 0 ? r->size_base_bytes : r->baseline.file_bytes);
    const double target_bytes = size_base / r->target_compression;
    double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0, cap;
    char name[256], a[32];
    layout l = {.left = left, .top = top, .right = width - right, .bottom = height - bottom, .count = 0};
    int evaluated = 0;

    /* The domain is the data: every variant's size, every change with its
     * error bar, and 0 (the baseline's quality).  The checkpoint is usually
     * far to the right of compressed variants; it is a marker at the edge, not
     * a reason to squeeze them into a corner.  A variant far outside (a broken
     * quantization at +300%) is drawn at the top edge. */
    cap = fmax(r->target_quality * 6.0, 10.0);
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated)
            continue;
        double bytes = (double)v->file_bytes;
        x_lo = evaluated ? fmin(x_lo, bytes) : bytes;
        x_hi = evaluated ? fmax(x_hi, bytes) : bytes;
        evaluated++;
        if (v->ppl_change_pct <= cap)
            y_hi = fmax(y_hi, v->ppl_change_pct + v->ppl_change_stderr_pct);
        y_lo = fmin(y_lo, v->ppl_change_pct - v->ppl_change_stderr_pct);
    }
    if (evaluated == 0) {
        x_lo = 0;
        x_hi = size_base;
    }
    /* the thresholds join the domain when they are near the data, else an edge note says where they are */
    bool show_quality = r->target_quality >= y_lo && r->target_quality <= y_lo + (y_hi - y_lo) * 1.6 + 0.05;
    if (show_quality)
        y_hi = fmax(y_hi, r->target_quality);
    double x_span = fmax(x_hi - x_lo, 0.04 * x_hi), y_span = fmax(y_hi - y_lo, 0.05);
    x_lo -= 0.12 * x_span;
    x_hi += 0.12 * x_span;
    bool base_inside = size_base <= x_hi;
    bool show_size_target = target_bytes >= x_lo && target_bytes <= x_hi;
    y_hi += 0.16 * y_span;
    y_lo -= 0.10 * y_span;
    if (x_lo < 0)
        x_lo = 0;
#define PX(x) (left + ((x) - x_lo) / (x_hi - x_lo) * (width - left - right))
#define PY(y) (top + (y_hi - (y)) / (y_hi - y_lo) * (height - top - bottom))
    fprintf(out, "<svg id=\"plot-tradeoff\" class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" data-x-min=\"%.0f\" "
                 "data-x-max=\"%.0f\" data-y-min=\"%.6g\" data-y-max=\"%.6g\" data-left=\"%.0f\" data-right=\"%.0f\" "
                 "data-top=\"%.0f\" data-bottom=\"%.0f\" "
                 "aria-label=\"Perplexity change against model size, with the targets and the Pareto front\">\n",
            width, height, x_lo, x_hi, y_lo, y_hi, left, width - right, top, height - bottom);
    /* where both targets are met, clipped to the plot */
    {
        double x1 = fmin(PX(fmin(target_bytes, x_hi)), width - right), y0 = fmax(PY(fmin(r->target_quality, y_hi)), top);
        if (target_bytes > x_lo && r->target_quality > y_lo)
            fprintf(out, "<rect class=\"target-region\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                         "fill=\"#dafbe1\" opacity=\"0.75\"/>\n",
                    left, y0, x1 - left, height - bottom - y0);
    }
    /* grid and ticks: x in the largest binary unit that fits, with the ratio to the checkpoint under each */
    double unit = 1;
    const char *unit_name = "B";
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    for (int k = 0; k < 4 && x_hi >= unit * 1024 * 1.5; k++) {
        unit *= 1024;
        unit_name = units[k];
    }
    double y_step = tick_step(y_hi - y_lo, 6), x_step = tick_step((x_hi - x_lo) / unit, 6) * unit;
    for (double y = ceil(y_lo / y_step) * y_step; y <= y_hi; y += y_step) {
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eaeef2\"/>", left, width - right,
                PY(y), PY(y));
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%+.*f%%</text>\n", left - 6,
                PY(y) + 4, y_step < 0.1 ? 2 : y_step < 1 ? 1 : 0, fabs(y) < y_step * 1e-6 ? 0.0 : y);
    }
    for (double x = ceil(x_lo / x_step) * x_step; x <= x_hi; x += x_step) {
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f2f4\"/>", PX(x), PX(x), top,
                height - bottom);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%.4g %s</text>", PX(x),
                height - bottom + 16, x / unit, unit_name);
        if (x > 0)
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick ratio\" text-anchor=\"middle\">%.2fx</text>\n",
                    PX(x), height - bottom + 30, size_base / x);
    }
    if (0 >= y_lo && 0 <= y_hi)
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#8c959f\"/>\n", left,
                width - right, PY(0), PY(0));
    fprintf(out, "<rect class=\"plot-area\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                 "stroke=\"#d0d7de\"/>\n", left, top, width - left - right, height - top - bottom);
    /* the targets: a dashed line inside the domain, else a note at the edge they lie beyond */
    if (show_size_target) {
        fprintf(out, "<line class=\"target-line\" data-target=\"compression\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
                     "y2=\"%.1f\" stroke=\"#1a7f37\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
                PX(target_bytes), PX(target_bytes), top, height - bottom);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">%.3gx smaller = %s</text>\n", PX(target_bytes) + 5,
                top - 8, r->target_compression, sq_human_bytes(target_bytes, a, sizeof a));
    } else {
        fprintf(out, "<text class=\"target-note\" data-target=\"compression\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">"
                     "%s%.3gx target (%s) %s%s</text>\n",
                target_bytes > x_hi ? width - right : left, top - 8, target_bytes > x_hi ? "end" : "start",
                target_bytes > x_hi ? "all meet the " : "&#8592; none meets the ", r->target_compression,
                sq_human_bytes(target_bytes, a, sizeof a), target_bytes > x_hi ? "off to the right " : "",
                target_bytes > x_hi ? "&#8594;" : "");
    }
    if (show_quality) {
        fprintf(out, "<line class=\"target-line\" data-target=\"quality\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
                     "y2=\"%.1f\" stroke=\"#1a7f37\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
                left, width - right, PY(r->target_quality), PY(r->target_quality));
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"note\" text-anchor=\"end\">quality threshold +%.3g%%</text>\n",
                width - right - 6, PY(r->target_quality) - 6, r->target_quality);
        layout_add(&l, (box){width - right - 190, PY(r->target_quality) - 20, width - right, PY(r->target_quality) + 2});
    } else {
        /* on the side the compression note leaves free */
        bool on_left = show_size_target || target_bytes > x_hi;
        fprintf(out, "<text class=\"target-note\" data-target=\"quality\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">"
                     "%s +%.3g%% quality threshold %s</text>\n",
                on_left ? left : width - right, top - 8, on_left ? "start" : "end",
                r->target_quality > y_hi ? "&#8593; all meet the" : "&#8595; none meets the", r->target_quality,
                r->target_quality > y_hi ? "above the plot" : "below the plot");
    }
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">model file size on disk, and how many "
                 "times smaller than your checkpoint (measured; smaller is left)</text>\n",
            (left + width - right) / 2, height - 12);
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
                         "stroke-linejoin=\"round\" opacity=\"0.6\" points=\"");
            for (int k = 0; k < n; k++) {
                const sq_variant_result *v = &r->variants[order[k]];
                double y = fmin(v->ppl_change_pct, y_hi);
                if (k > 0)
                    fprintf(out, "%.1f,%.1f ", PX((double)v->file_bytes),
                            PY(fmin(r->variants[order[k - 1]].ppl_change_pct, y_hi)));
                fprintf(out, "%.1f,%.1f ", PX((double)v->file_bytes), PY(y));
            }
            fprintf(out, "\"/>\n");
        }
    }
    /* every point and its error bar first, so labels avoid all of them */
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        if (!v->evaluated)
            continue;
        double x = PX((double)v->file_bytes), y = PY(fmin(v->ppl_change_pct, y_hi));
        double e0 = PY(fmin(v->ppl_change_pct + v->ppl_change_stderr_pct, y_hi));
        double e1 = PY(fmax(v->ppl_change_pct - v->ppl_change_stderr_pct, y_lo));
        layout_add(&l, (box){x - 9, fmin(y - 9, e0 - 1), x + 9, fmax(y + 9, e1 + 1)});
    }
    /* the checkpoint: on the plot when it is inside the domain, else a marker at the right edge */
    {
        double bx = base_inside ? PX(size_base) : width - right - 8, by = PY(fmax(fmin(0.0, y_hi), y_lo));
        char label[96];
        snprintf(label, sizeof label, "%s your checkpoint, %s", base_inside ? "" : "&#8594;",
                 sq_human_bytes(size_base, a, sizeof a));
        fprintf(out, "<path class=\"baseline-point%s\" d=\"M %.1f %.1f l 7 7 l -7 7 l -7 -7 z\" fill=\"#57606a\"/>",
                base_inside ? "" : " edge", bx, by - 7);
        double w = 7.4 * (double)(strlen(label) - (base_inside ? 1 : 7)), ly = by - 12;
        /* above the marker unless a variant's point is there: then below, or further out */
        static const double offsets[] = {-12, 24, -30, 42, -48, 60};
        for (size_t k = 0; k < sizeof offsets / sizeof *offsets; k++) {
            box trial = label_box(bx - 12, by + offsets[k], w, false);
            if (layout_free(&l, &trial)) {
                ly = by + offsets[k];
                break;
            }
        }
        box b = label_box(bx - 12, ly, w, false);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"label baseline-label\" text-anchor=\"end\">%s</text>\n",
                bx - 12, ly, label);
        layout_add(&l, (box){bx - 8, by - 8, bx + 8, by + 8});
        layout_add(&l, b);
    }
    for (int i = 0; i < r->variant_count; i++) {
        const sq_variant_result *v = &r->variants[i];
        char label[320];
        double lx, ly;
        bool start, leader;
        if (!v->evaluated)
            continue;
        bool off_scale = v->ppl_change_pct > y_hi;
        double x = PX((double)v->file_bytes), y = PY(off_scale ? y_hi : v->ppl_change_pct);
        sq_html_escape(v->name, name, sizeof name);
        if (!off_scale) {
            double e0 = PY(fmin(v->ppl_change_pct + v->ppl_change_stderr_pct, y_hi));
            double e1 = PY(fmax(v->ppl_change_pct - v->ppl_change_stderr_pct, y_lo));
            fprintf(out, "<g class=\"error-bar\" data-variant=\"%s\" stroke=\"%s\" stroke-width=\"2\">"
                         "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                         "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                         "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/></g>",
                    name, sq_verdict_color(v->verdict), x, x, e0, e1, x - 6, x + 6, e0, e0, x - 6, x + 6, e1, e1);
        }
        if (off_scale)
            fprintf(out, "<path class=\"point off-scale\" data-variant=\"%s\" d=\"M %.1f %.1f l 7 12 l -14 0 z\" "
                         "fill=\"%s\"><title>%s: %.2fx smaller, %+.2f%% (off the scale)</title></path>",
                    name, x, y, sq_verdict_color(v->verdict), name, v->ratio_size, v->ppl_change_pct);
        else if (v->pruned) {
            /* pruned first: a square, so that pruning and formats are told apart on one plot */
            int half = i == r->recommended ? 7 : 5;
            char amounts[2 * sizeof v->prune_amounts];
            sq_html_escape(v->prune_amounts, amounts, sizeof amounts);
            fprintf(out, "<rect class=\"point%s pruned\" data-variant=\"%s\" data-pruned=\"%s\" x=\"%.1f\" "
                         "y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"%s\" stroke-width=\"%d\" "
                         "fill-opacity=\"0.85\"><title>%s (pruned: %s): %.2fx smaller, %+.2f%% &#177; %.2f</title></rect>",
                    v->pareto ? " pareto" : "", name, amounts, x - half, y - half, 2 * half, 2 * half,
                    sq_verdict_color(v->verdict), v->pareto ? "#8250df" : "white", v->pareto ? 2 : 1, name, amounts,
                    v->ratio_size, v->ppl_change_pct, v->ppl_change_stderr_pct);
        } else
            fprintf(out, "<circle class=\"point%s\" data-variant=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\" "
                         "stroke=\"%s\" stroke-width=\"%d\" fill-opacity=\"0.85\"><title>%s: %.2fx smaller, %+.2f%% "
                         "&#177; %.2f</title></circle>",
                    v->pareto ? " pareto" : "", name, x, y, i == r->recommended ? 7 : 5, sq_verdict_color(v->verdict),
                    v->pareto ? "#8250df" : "white", v->pareto ? 2 : 1, name, v->ratio_size, v->ppl_change_pct,
                    v->ppl_change_stderr_pct);
        snprintf(label, sizeof label, off_scale ? "%s (%+.0f%%)" : "%s", name, v->ppl_change_pct);
        place_label(&l, x, y, label, &lx, &ly, &start, &leader);
        if (leader)
            fprintf(out, "<line class=\"leader\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#8c959f\" "
                         "stroke-width=\"1\"/>", x, y, lx, ly - 4);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"label halo%s\" data-variant=\"%s\" text-anchor=\"%s\">%s"
                     "</text>\n", lx, ly, i == r->recommended ? " strong" : "", name, start ? "start" : "end", label);
    }
    if (evaluated == 0)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">no variant was evaluated"
                     "</text>\n", width / 2, height / 2);
    fprintf(out, "</svg>\n");
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
