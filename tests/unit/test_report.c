/* test_report.c - the report's judgement on numbers chosen by hand: verdicts
 * against the targets, the Pareto front, the recommendation
 * and the nearest miss, the paired standard error of the quality change
 * (against a direct computation), the technique a set of formats is, and the
 * readers of an artifact's 'inputs' text. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/render_svg.h"
#include "report/report_h5.h"
#include "report/run_results.h"
#include "report/text_file.h"
#include "test_support.h"

static sq_run_results *results_new(double target_compression, double target_quality)
{
    sq_run_results *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    r->target_compression = target_compression;
    r->target_quality = target_quality;
    snprintf(r->baseline.name, sizeof r->baseline.name, "baseline");
    r->baseline.evaluated = true;
    r->baseline.perplexity = 10.0;
    r->baseline.ppl_stderr = 0.2;
    r->baseline.tokens_per_second = 1000;
    r->baseline.file_bytes = 4000;
    return r;
}

static sq_variant_result *add(sq_run_results *r, const char *name, int64_t bytes, double change_pct)
{
    sq_variant_result *v = &r->variants[r->variant_count++];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->evaluated = true;
    v->file_bytes = bytes;
    v->ratio_file = 4000.0 / (double)bytes;
    v->ppl_change_pct = change_pct;
    v->perplexity = 10.0 * (1 + change_pct / 100);
    v->ppl_stderr = 0.2;
    v->tokens_per_second = 1500;
    return v;
}

START_TEST(test_verdicts_follow_the_seed)
{
    sq_run_results *r = results_new(2.0, 3.0);
    add(r, "both", 1000, 2.9);                  /* 4x, +2.9%: SUCCESS */
    add(r, "exact", 2000, 3.0);                 /* exactly on both targets: SUCCESS (>= and <=) */
    add(r, "lossy", 500, 19.0);                 /* 8x, +19%: PARTIAL (the seed's INT4) */
    add(r, "big", 3000, 0.0);                   /* 1.33x: FAILURE whatever the quality */
    sq_variant_result *failed = &r->variants[r->variant_count++];
    memset(failed, 0, sizeof *failed);
    snprintf(failed->name, sizeof failed->name, "crashed");
    sq_run_results_judge(r);
    ck_assert_int_eq(r->variants[0].verdict, SQ_VERDICT_SUCCESS);
    ck_assert_int_eq(r->variants[1].verdict, SQ_VERDICT_SUCCESS);
    ck_assert_int_eq(r->variants[2].verdict, SQ_VERDICT_PARTIAL);
    ck_assert_int_eq(r->variants[3].verdict, SQ_VERDICT_FAILURE);
    ck_assert_int_eq(r->variants[4].verdict, SQ_VERDICT_FAILED_TO_RUN);
    ck_assert_str_eq(sq_verdict_name(r->variants[4].verdict), "FAILED TO RUN");
    /* the smallest SUCCESS, not the smallest variant */
    ck_assert_int_eq(r->recommended, 0);
    ck_assert_double_eq_tol(r->variants[0].speed_ratio, 1.5, 1e-12);
    /* Pareto: lossy (smallest), both, exact? no: both is smaller and better than exact; big (best quality) */
    ck_assert(r->variants[2].pareto);
    ck_assert(r->variants[0].pareto);
    ck_assert(!r->variants[1].pareto);
    ck_assert(r->variants[3].pareto);
    ck_assert(!r->variants[4].pareto);
    free(r);
}
END_TEST

START_TEST(test_nearest_miss_when_none_succeeds)
{
    sq_run_results *r = results_new(2.0, 1.0);
    add(r, "a", 500, 9.0);  /* PARTIAL */
    add(r, "b", 900, 4.0);  /* PARTIAL, less loss: the nearest */
    add(r, "c", 3000, 0.1); /* FAILURE */
    sq_run_results_judge(r);
    ck_assert_int_eq(r->recommended, -1);
    ck_assert_int_eq(r->closest, 1);
    char words[2048];
    sq_report_recommendation_words(r, words, sizeof words);
    ck_assert_ptr_nonnull(strstr(words, "No variant meets both targets"));
    ck_assert_ptr_nonnull(strstr(words, "The nearest is b"));
    free(r);

    r = results_new(4.0, 1.0);
    add(r, "small-enough-quality", 2000, 0.5); /* 2x: FAILURE, quality kept */
    add(r, "smaller", 1500, 0.8);              /* 2.67x: FAILURE, quality kept, compresses more */
    add(r, "broken", 3500, 50.0);
    sq_run_results_judge(r);
    ck_assert_int_eq(r->recommended, -1);
    ck_assert_int_eq(r->closest, 1);
    free(r);
}
END_TEST

/* The paired standard error against a direct computation on made-up windows. */
START_TEST(test_paired_standard_error)
{
    sq_run_results *r = results_new(2.0, 3.0);
    double base_nll[4] = {100, 120, 90, 110}, var_nll[4] = {101, 123, 90.5, 112};
    int64_t tokens[4] = {50, 50, 50, 40};
    sq_variant_result *v = add(r, "v", 1000, 0);
    r->baseline.windows = v->windows = 4;
    r->baseline.window_nll = base_nll;
    r->baseline.window_tokens = tokens;
    v->window_nll = var_nll;
    v->window_tokens = tokens;
    sq_run_results_judge(r);
    double n = 190, d[4], D = 0, spread = 0;
    for (int w = 0; w < 4; w++) {
        d[w] = var_nll[w] - base_nll[w];
        D += d[w];
    }
    D /= n;
    for (int w = 0; w < 4; w++)
        spread += (d[w] - D * (double)tokens[w]) * (d[w] - D * (double)tokens[w]);
    double expected = 100.0 * exp(D) * sqrt(spread * 4.0 / 3.0) / n;
    ck_assert(v->paired);
    ck_assert_double_eq_tol(v->ppl_change_stderr_pct, expected, 1e-12);
    /* windows that do not match: the two perplexities' errors, combined */
    int64_t other[4] = {50, 50, 50, 41};
    v->window_tokens = other;
    sq_run_results_judge(r);
    ck_assert(!v->paired);
    double a = 0.2 / 10.0, b = v->perplexity * 0.2 / 100.0;
    ck_assert_double_eq_tol(v->ppl_change_stderr_pct, 100.0 * sqrt(a * a + b * b), 1e-12);
    r->baseline.window_nll = NULL; /* stack arrays: nothing to free */
    free(r);
}
END_TEST

/* Sizes are judged against the checkpoint file the user gave, not squeeze's
 * HDF5 copy of it: a variant at 2.1x against the copy but 1.98x against the
 * (smaller) checkpoint misses a 2x target. */
START_TEST(test_sizes_against_the_checkpoint)
{
    sq_run_results *r = results_new(2.0, 3.0);
    add(r, "borderline", 1900, 0.5); /* 4000 / 1900 = 2.11x against the copy */
    snprintf(r->size_base_path, sizeof r->size_base_path, "/data/model.pt");
    r->size_base_bytes = 3762;          /* 3762 / 1900 = 1.98x against the checkpoint */
    r->size_base_is_checkpoint = true;
    sq_run_results_judge(r);
    ck_assert_double_eq_tol(r->variants[0].ratio_size, 3762.0 / 1900.0, 1e-12);
    ck_assert_int_eq(r->variants[0].verdict, SQ_VERDICT_FAILURE);
    char words[2048];
    sq_report_recommendation_words(r, words, sizeof words);
    ck_assert_msg(strstr(words, "your checkpoint model.pt (3,762 B)") != NULL, "%s", words);
    /* without an inspect artifact: the baseline model */
    r->size_base_bytes = 0;
    r->size_base_is_checkpoint = false;
    sq_run_results_judge(r);
    ck_assert_int_eq(r->variants[0].verdict, SQ_VERDICT_SUCCESS);
    free(r);
}
END_TEST

/* Within 1% of size and one standard error of quality, two variants tie: the
 * better quality is named and the words say they tie.  A variant within 1%
 * but clearly better is named too; one 2% larger is not. */
START_TEST(test_ties_within_noise)
{
    sq_run_results *r = results_new(2.0, 3.0);
    sq_variant_result *a = add(r, "a", 1000, 0.30);
    sq_variant_result *b = add(r, "b", 1005, 0.25); /* 0.5% larger, 0.05 better: within s.e. 0.1 */
    sq_variant_result *c = add(r, "c", 1020, 0.00); /* 2% larger: not a tie */
    /* no windows: the change's standard error combines the perplexities' (about 0.1%) */
    r->baseline.ppl_stderr = a->ppl_stderr = b->ppl_stderr = c->ppl_stderr = 0.007;
    sq_run_results_judge(r);
    ck_assert_double_eq_tol(b->ppl_change_stderr_pct, 0.099, 0.001);
    ck_assert_int_eq(r->smallest_success, 0);
    ck_assert_int_eq(r->recommended, 1);
    ck_assert_int_eq(a->tied_with, 1);
    ck_assert_int_eq(c->tied_with, -1);
    char words[4096];
    sq_report_recommendation_words(r, words, sizeof words);
    ck_assert_msg(strstr(words, "Ship b") && strstr(words, "within 1% of the smallest (a)") &&
                  strstr(words, "a ties with it within noise"), "%s", words);
    free(r);
}
END_TEST

/* Speed is a measurement of the format only when the variant ran its own kernels. */
START_TEST(test_speed_only_with_own_kernels)
{
    sq_run_results *r = results_new(2.0, 3.0);
    sq_variant_result *v = add(r, "v", 1000, 0.1);
    sq_variant_result *w = add(r, "w", 1100, 0.1);
    char words[1024];
    sq_run_results_judge(r);
    ck_assert(!v->speed_comparable); /* nothing recorded */
    sq_report_speed_words(r, v, words, sizeof words);
    ck_assert_msg(strstr(words, "not comparable") != NULL, "%s", words);
    snprintf(r->baseline.kernels, sizeof r->baseline.kernels, "fp32");
    snprintf(v->kernels, sizeof v->kernels, "int8");
    snprintf(w->kernels, sizeof w->kernels, "dequantized-fp32");
    sq_run_results_judge(r);
    ck_assert(v->speed_comparable);
    ck_assert(!w->speed_comparable);
    sq_report_speed_words(r, v, words, sizeof words);
    ck_assert_msg(strstr(words, "1.50x the baseline's speed") != NULL, "%s", words);
    free(r);
}
END_TEST

/* A variant whose SSM was pruned past the guard (force: true, /pruning@forced_ssm)
 * carries a warning line in report.md, report.html and report.json; the others none. */
START_TEST(test_forced_ssm_pruning_is_flagged)
{
    sq_run_results *r = results_new(2.0, 3.0);
    sq_variant_result *v = add(r, "forced", 1000, 0.5);
    char path[256], *text = NULL;
    const char *const files[] = {"report.md", "report.html", "report.json"};
    add(r, "plain", 1100, 0.1);
    snprintf(v->forced_ssm, sizeof v->forced_ssm, "map.yaml:2:5: ssm-inner 4 of 128 SSM inner channels per layer");
    sq_run_results_judge(r);
    char dir[] = "/tmp/squeeze-test-report-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    for (int f = 0; f < 3; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        sq_status st = f == 0 ? sq_report_write_markdown(r, path)
                     : f == 1 ? sq_report_write_html(r, path) : sq_report_write_json(r, path);
        ck_assert_msg(st == SQ_OK, "%s", sq_error_message());
        size_t size;
        text = read_whole_file(path, &size);
        ck_assert(size > 0);
        ck_assert_msg(strstr(text, "forced had its SSM pruned past the guard (force: true): map.yaml:2:5: ssm-inner 4 "
                                   "of 128 SSM inner channels per layer") != NULL ||
                          (f == 2 && strstr(text, "\"forced_ssm\": \"map.yaml:2:5: ssm-inner 4 of 128") != NULL),
                      "%s lacks the warning", files[f]);
        ck_assert_msg(strstr(text, "plain had its SSM") == NULL, "%s warns about a variant that was not forced",
                      files[f]);
        free(text);
        text = NULL;
        remove(path);
    }
    rmdir(dir);
    free(r);
}
END_TEST

/* Eight variants in two tight clusters (as a sweep of block sizes gives): the
 * trade-off plot keeps every label box (estimated as the renderer does, 7.4 px
 * per character of 13 px text) clear of every other label and every point, and
 * inside the plot. */
START_TEST(test_plot_labels_do_not_overlap)
{
    static const struct {
        const char *name;
        int64_t bytes;
        double change;
    } sweep[] = {{"int4-g32", 1000, 0.90}, {"int4-g64", 1010, 0.95}, {"int4-g128", 1020, 1.00},
                 {"nf4-b64", 1005, 0.92},  {"nf4-b128", 1015, 0.97}, {"int8", 2000, 0.01},
                 {"int8-p99", 2010, 0.02}, {"ssm-mixed", 1990, 0.03}};
    sq_run_results *r = results_new(2.0, 3.0);
    char *svg = NULL;
    size_t size = 0;
    for (size_t i = 0; i < sizeof sweep / sizeof *sweep; i++)
        add(r, sweep[i].name, sweep[i].bytes, sweep[i].change);
    r->size_base_bytes = 4000;
    sq_run_results_judge(r);
    FILE *out = open_memstream(&svg, &size);
    sq_svg_tradeoff(out, r);
    fclose(out);
    double boxes[16][4], points[16][2];
    int labels = 0, dots = 0;
    for (const char *p = svg; (p = strstr(p, "<circle class=\"point")) != NULL; p++) {
        const char *cx = strstr(p, "cx=\""), *cy = strstr(p, "cy=\"");
        points[dots][0] = atof(cx + 4);
        points[dots][1] = atof(cy + 4);
        dots++;
    }
    for (const char *p = svg; (p = strstr(p, "class=\"label halo")) != NULL; p++) {
        const char *start = p;
        while (start > svg && strncmp(start, "<text", 5) != 0)
            start--;
        double x = atof(strstr(start, "x=\"") + 3), y = atof(strstr(start, "y=\"") + 3);
        const char *text = strchr(p, '>') + 1;
        double w = 7.4 * (double)(strchr(text, '<') - text);
        bool end = strstr(p, "text-anchor=\"end\"") != NULL && strstr(p, "text-anchor=\"end\"") < text;
        boxes[labels][0] = end ? x - w : x;
        boxes[labels][2] = end ? x : x + w;
        boxes[labels][1] = y - 12;
        boxes[labels][3] = y + 4;
        ck_assert_msg(boxes[labels][0] >= 74 && boxes[labels][2] <= 876, "label %d leaves the plot", labels);
        labels++;
    }
    ck_assert_int_eq(dots, 8);
    ck_assert_int_eq(labels, 8);
    for (int a = 0; a < labels; a++) {
        for (int b = a + 1; b < labels; b++)
            ck_assert_msg(!(boxes[a][0] < boxes[b][2] && boxes[b][0] < boxes[a][2] && boxes[a][1] < boxes[b][3] &&
                            boxes[b][1] < boxes[a][3]),
                          "labels %d and %d overlap", a, b);
        for (int d = 0; d < dots; d++)
            ck_assert_msg(!(boxes[a][0] < points[d][0] + 5 && points[d][0] - 5 < boxes[a][2] &&
                            boxes[a][1] < points[d][1] + 5 && points[d][1] - 5 < boxes[a][3]),
                          "label %d covers point %d", a, d);
    }
    free(svg);
    free(r);
}
END_TEST

static void set_format(sq_variant_result *v, const char *name, int64_t before)
{
    sq_format_share *f = &v->formats[v->format_count++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->bytes_before = before;
    f->bytes_after = before / 4;
}

START_TEST(test_technique_from_formats)
{
    sq_variant_result v;
    memset(&v, 0, sizeof v);
    ck_assert_ptr_null(sq_report_technique(&v));
    set_format(&v, "fp32", 1000);
    ck_assert_str_eq(sq_report_technique(&v), "none");
    set_format(&v, "nf4", 9500);
    set_format(&v, "int8", 400); /* a few narrow rows in int8: still int4 */
    ck_assert_str_eq(sq_report_technique(&v), "int4");
    set_format(&v, "fp16", 6000);
    ck_assert_str_eq(sq_report_technique(&v), "mixed-precision");
    memset(&v, 0, sizeof v);
    set_format(&v, "bf16", 100);
    ck_assert_str_eq(sq_report_technique(&v), "fp16");
}
END_TEST

START_TEST(test_inputs_lines_and_escaping)
{
    const char *inputs = "run/compress/int8/model.h5 aaaa\nrun/evaluate/baseline/evaluation.h5 bbbb\n";
    char path[256], sha[65], out[64], human[32];
    ck_assert(sq_report_input_line(inputs, "evaluation.h5", path, sizeof path, sha));
    ck_assert_str_eq(path, "run/evaluate/baseline/evaluation.h5");
    ck_assert_str_eq(sha, "bbbb");
    ck_assert(sq_report_input_line(inputs, "model.h5", path, sizeof path, sha));
    ck_assert_str_eq(sha, "aaaa");
    ck_assert(!sq_report_input_line(inputs, "calibration.h5", path, sizeof path, sha));
    ck_assert_str_eq(sq_html_escape("<a href=\"x\">&'", out, sizeof out), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    ck_assert_str_eq(sq_human_bytes(1536, human, sizeof human), "1.50 KiB");
    ck_assert_str_eq(sq_human_bytes(1000, human, sizeof human), "1000 B");
    ck_assert_str_eq(sq_thousands(911648, human, sizeof human), "911,648");
    ck_assert_str_eq(sq_thousands(-1234567, human, sizeof human), "-1,234,567");
    ck_assert_str_eq(sq_thousands(999, human, sizeof human), "999");
}
END_TEST

int main(void)
{
    return sq_test_run_tests("report", 0,
                             SQ_TESTS(test_verdicts_follow_the_seed, test_nearest_miss_when_none_succeeds,
                                      test_paired_standard_error, test_technique_from_formats,
                                      test_inputs_lines_and_escaping, test_sizes_against_the_checkpoint,
                                      test_ties_within_noise, test_speed_only_with_own_kernels,
                                      test_forced_ssm_pruning_is_flagged, test_plot_labels_do_not_overlap));
}
