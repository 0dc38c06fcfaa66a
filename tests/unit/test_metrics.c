/* test_metrics.c - window plans, log-softmax NLL and KL (pipeline/core/metrics). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/kl.h"
#include "metrics/mem.h"
#include "metrics/perplexity.h"
#include "metrics/windows.h"
#include "tensor/tensor.h"
#include "test_support.h"

static sq_window_options options(int window, int stride, sq_scoring scoring, int offset)
{
    sq_window_options o = {.window_length = window, .stride = stride, .scoring = scoring, .offset = offset,
                           .window_length_given = true, .stride_given = stride > 0};
    return o;
}

START_TEST(test_plan_all_phase4)
{
    /* Itera-Lite Phase 4: 129-token spans, stride 64, over the 2846 val tokens. */
    sq_window_plan plan;
    sq_window_options o = options(129, 64, SQ_SCORE_ALL, 2);
    ck_assert_int_eq(sq_window_plan_build(&o, 128, 2846, &plan), SQ_OK);
    ck_assert_int_eq(plan.count, 43);
    ck_assert_int_eq(plan.inputs, 127);
    ck_assert_int_eq(plan.scored, 43 * 127);
    ck_assert_int_eq(plan.windows[42].start, 42 * 64);
    ck_assert_int_eq(plan.unused_tail, 2846 - (42 * 64 + 129));
    sq_window_plan_free(&plan);
}
END_TEST

START_TEST(test_plan_new_scores_each_target_once)
{
    sq_window_plan plan;
    sq_window_options o = options(10, 4, SQ_SCORE_NEW, 1);
    char *seen = calloc(100, 1);
    ck_assert_int_eq(sq_window_plan_build(&o, 64, 100, &plan), SQ_OK);
    for (int64_t w = 0; w < plan.count; w++)
        for (int t = plan.windows[w].score_begin; t < plan.windows[w].score_end; t++)
            seen[plan.windows[w].start + t + plan.offset]++;
    /* targets 1 .. end of the last window, each exactly once */
    for (int64_t i = 0; i < 100; i++)
        ck_assert_int_eq(seen[i], i >= 1 && i < plan.windows[plan.count - 1].start + 10 ? 1 : 0);
    ck_assert_int_eq(plan.scored, plan.windows[plan.count - 1].start + 10 - 1);
    free(seen);
    sq_window_plan_free(&plan);
}
END_TEST

START_TEST(test_plan_second_half_llama)
{
    /* llama-perplexity: n_ctx 512, 255 of 512 scored per chunk at offset 1. */
    sq_window_plan plan;
    sq_window_options o = options(0, 0, SQ_SCORE_SECOND_HALF, 1);
    o.window_length_given = false;
    ck_assert_int_eq(sq_window_plan_build(&o, 1024, 2048, &plan), SQ_OK);
    ck_assert_int_eq(plan.window_length, 512);
    ck_assert_int_eq(plan.stride, 512);
    ck_assert_int_eq(plan.count, 4);
    ck_assert_int_eq(plan.windows[0].score_begin, 256);
    ck_assert_int_eq(plan.windows[0].score_end, 511);
    ck_assert_int_eq(plan.scored, 4 * 255);
    ck_assert_str_eq(plan.note, "");
    sq_window_plan_free(&plan);
    /* clamped to a shorter model, and said so */
    ck_assert_int_eq(sq_window_plan_build(&o, 128, 2048, &plan), SQ_OK);
    ck_assert_int_eq(plan.window_length, 128);
    ck_assert_ptr_nonnull(strstr(plan.note, "clamped"));
    sq_window_plan_free(&plan);
    /* a stride that would overlap chunks is refused */
    o.stride = 64;
    o.stride_given = true;
    ck_assert_int_eq(sq_window_plan_build(&o, 128, 2048, &plan), SQ_ERR_USAGE);
}
END_TEST

START_TEST(test_plan_errors)
{
    sq_window_plan plan;
    sq_window_options o = options(200, 0, SQ_SCORE_ALL, 1);
    ck_assert_int_eq(sq_window_plan_build(&o, 128, 5000, &plan), SQ_ERR_USAGE);
    assert_message_has("evaluate.window_length 200");
    assert_message_has("128");
    o = options(129, 0, SQ_SCORE_ALL, 1); /* 128 fed: fits exactly */
    ck_assert_int_eq(sq_window_plan_build(&o, 128, 100, &plan), SQ_ERR_INPUT);
    assert_message_has("100 tokens");
    o = options(129, 0, SQ_SCORE_ALL, 0);
    ck_assert_int_eq(sq_window_plan_build(&o, 128, 5000, &plan), SQ_ERR_USAGE);
    o = options(129, 0, SQ_SCORE_ALL, 1);
    o.max_windows = 3;
    ck_assert_int_eq(sq_window_plan_build(&o, 128, 5000, &plan), SQ_OK);
    ck_assert_int_eq(plan.count, 3);
    ck_assert_int_eq(plan.stride, 129);
    sq_window_plan_free(&plan);
}
END_TEST

START_TEST(test_blocks_cover_in_order)
{
    for (int ranks = 1; ranks <= 5; ranks++) {
        int64_t expected = 0, first, end;
        for (int r = 0; r < ranks; r++) {
            sq_window_block(7, r, ranks, &first, &end);
            ck_assert_int_eq(first, expected);
            ck_assert(end >= first && end - first <= 7 / ranks + 1);
            expected = end;
        }
        ck_assert_int_eq(expected, 7);
    }
}
END_TEST

START_TEST(test_score_window_matches_direct_sum)
{
    /* 3 inputs, vocab 4, offset 1: NLL = sum over t of lse(x_t) - x_t[target]. */
    float logits[12] = {1, 2, 3, 4, 0, 0, 0, 0, -1, 5, 2, 0};
    int32_t tokens[4] = {0, 3, 1, 2};
    sq_window window = {.start = 0, .score_begin = 0, .score_end = 3};
    sq_window_plan plan = {.window_length = 4, .inputs = 3, .offset = 1, .scoring = SQ_SCORE_ALL};
    double work[8], expected = 0.0, side = 0.0;
    sq_window_score score;
    for (int t = 0; t < 3; t++) {
        double sum = 0.0;
        for (int v = 0; v < 4; v++)
            sum += exp(logits[t * 4 + v]);
        expected += log(sum) - logits[t * 4 + tokens[t + 1]];
        if (t + 2 < 4)
            side += log(sum) - logits[t * 4 + tokens[t + 2]];
    }
    sq_score_window(logits, 4, tokens, &plan, &window, true, NULL, NULL, work, &score);
    ck_assert_int_eq(score.scored, 3);
    /* float exp, double sum: within 1e-7 per position of the all-double form */
    ck_assert_double_eq_tol(score.nll_sum, expected, 1e-6);
    ck_assert_int_eq(score.side_scored, 2);
    ck_assert_double_eq_tol(score.side_nll_sum, side, 1e-6);
    /* uniform logits: NLL = log V per position */
    ck_assert_double_eq_tol(sq_logsumexp(logits + 4, 4), log(4.0), 1e-15);
    /* huge logits do not overflow */
    float big[2] = {1e30f, 0.0f};
    ck_assert_double_eq(sq_logsumexp(big, 2), (double)big[0]);
}
END_TEST

/* The vectorised logsumexp against exp/log in double over vocabularies that fill
 * whole vectors and ones with a tail (including a single logit). */
START_TEST(test_logsumexp_matches_double)
{
    static const int sizes[] = {1, 7, 8, 9, 257, 2000, 50257};
    static float logits[50257];
    uint32_t state = 12345;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int vocab = sizes[s];
        double max = -INFINITY, sum = 0.0;
        for (int v = 0; v < vocab; v++) {
            state = state * 1664525u + 1013904223u;
            logits[v] = (float)((double)(state >> 8) / 16777216.0 * 40.0 - 20.0);
            max = logits[v] > max ? logits[v] : max;
        }
        for (int v = 0; v < vocab; v++)
            sum += exp((double)logits[v] - max);
        double expected = max + log(sum), got = sq_logsumexp(logits, vocab);
        ck_assert_msg(fabs(got - expected) <= 2e-7 * fmax(1.0, fabs(expected)), "vocab %d: %.17g vs %.17g", vocab,
                      got, expected);
    }
}
END_TEST

START_TEST(test_kl_known_value)
{
    /* KL(p || q) for p = (0.5, 0.5), q = (0.9, 0.1): 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1) */
    uint16_t base[2] = {sq_f32_to_f16((float)log(0.5)), sq_f32_to_f16((float)log(0.5))};
    double q[2] = {log(0.9), log(0.1)}, work[2];
    double expected = 0.5 * log(0.5 / 0.9) + 0.5 * log(0.5 / 0.1);
    ck_assert_double_eq_tol(sq_kl_position(base, q, 2, work), expected, 1e-6);
    /* against itself: zero up to the renormalised half-precision rounding */
    double p[2] = {log(0.5), log(0.5)};
    ck_assert_double_eq_tol(sq_kl_position(base, p, 2, work), 0.0, 1e-12);
}
END_TEST

START_TEST(test_peak_rss_measured)
{
    ck_assert(sq_peak_rss_bytes() > 1024 * 1024);
}
END_TEST

int main(void)
{
    return sq_test_run_tests("metrics", 0,
                             SQ_TESTS(test_plan_all_phase4, test_plan_new_scores_each_target_once,
                                      test_plan_second_half_llama, test_plan_errors, test_blocks_cover_in_order,
                                      test_score_window_matches_direct_sum, test_logsumexp_matches_double,
                                      test_kl_known_value, test_peak_rss_measured));
}
