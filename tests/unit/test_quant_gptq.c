/* test_quant_gptq.c - GPTQ against round-to-nearest on correlated inputs.
 *
 * X (N x cols) = Z A + E with a 16-dimensional latent Z and unit noise E, so its columns are
 * strongly correlated, as a linear layer's inputs are; H = X^T X / N.  The
 * output error ||W X^T - Ŵ X^T||_F^2 = N * sum_r (w_r - ŵ_r)^T H (w_r - ŵ_r).
 * Round-to-nearest with the same quantizer, group size and storage is GPTQ
 * with H = I (no error feedback: the inverse Cholesky factor is diagonal).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/format.h"
#include "test_support.h"

enum { ROWS = 48, COLS = 256, SAMPLES = 1024, LATENT = 16 };

static double normal(uint64_t *state)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        u[k] = ((double)(*state >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(2.0 * M_PI * u[1]);
}

static double *h_correlated;
static double *h_identity;
static float *weights;

static void setup(void)
{
    uint64_t state = 2024;
    double *a = malloc(LATENT * COLS * sizeof *a), *x = malloc(SAMPLES * COLS * sizeof *x);
    h_correlated = calloc(COLS * COLS, sizeof *h_correlated);
    h_identity = calloc(COLS * COLS, sizeof *h_identity);
    weights = malloc(ROWS * COLS * sizeof *weights);
    for (int i = 0; i < LATENT * COLS; i++)
        a[i] = normal(&state);
    for (int n = 0; n < SAMPLES; n++) {
        double z[LATENT];
        for (int k = 0; k < LATENT; k++)
            z[k] = normal(&state);
        for (int c = 0; c < COLS; c++) {
            double v = normal(&state); /* independent part: X is correlated, not low-rank */
            for (int k = 0; k < LATENT; k++)
                v += z[k] * a[k * COLS + c];
            x[n * COLS + c] = v * (1.0 + (c % 7)); /* uneven column scales, as real activations */
        }
    }
    for (int n = 0; n < SAMPLES; n++)
        for (int i = 0; i < COLS; i++)
            for (int j = 0; j < COLS; j++)
                h_correlated[i * COLS + j] += x[n * COLS + i] * x[n * COLS + j] / SAMPLES;
    for (int i = 0; i < COLS; i++)
        h_identity[i * COLS + i] = 1.0;
    for (int i = 0; i < ROWS * COLS; i++)
        weights[i] = (float)(0.02 * normal(&state));
    free(a);
    free(x);
}

static void teardown(void)
{
    free(h_correlated);
    free(h_identity);
    free(weights);
}

/* sum_r d_r^T H d_r for d = W - Ŵ */
static double output_error(const float *w, const float *back, const double *h)
{
    double total = 0;
    for (int r = 0; r < ROWS; r++) {
        const float *wr = w + r * COLS, *br = back + r * COLS;
        for (int i = 0; i < COLS; i++) {
            double di = (double)wr[i] - br[i], hd = 0;
            for (int j = 0; j < COLS; j++)
                hd += h[i * COLS + j] * ((double)wr[j] - br[j]);
            total += di * hd;
        }
    }
    return total;
}

static double run(const float *w, const double *hessian, sq_quant_options *o, sq_qtensor *qt, float *back)
{
    sq_calib_stats calib = {.hessian = hessian, .tokens = SAMPLES};
    const sq_quant_format *f = sq_quant_format_find("gptq");
    ck_assert_int_eq(f->quantize("blocks.1.mixer.in_proj.weight", w, ROWS, COLS, o, &calib, qt), SQ_OK);
    ck_assert_int_eq(f->dequantize(qt, back), SQ_OK);
    return output_error(w, back, h_correlated);
}

static sq_quant_options gptq_options(int bits, int group, bool act_order)
{
    sq_quant_options o = block_options(0, false, false);
    o.bits = bits;
    o.group_size = group;
    o.act_order = act_order;
    return o;
}

START_TEST(test_gptq_beats_round_to_nearest)
{
    static float back[ROWS * COLS];
    sq_qtensor qt;
    int groups[] = {128, -1, 32};
    for (int gi = 0; gi < 3; gi++) {
        sq_quant_options o = gptq_options(4, groups[gi], false);
        double rtn = run(weights, h_identity, &o, &qt, back);
        sq_qtensor_free(&qt);
        double gptq = run(weights, h_correlated, &o, &qt, back);
        const sq_qbuffer *scales = sq_qtensor_buffer(&qt, "scales");
        int expect_groups = groups[gi] > 0 ? COLS / groups[gi] : 1;
        ck_assert(scales && scales->dtype == SQ_DTYPE_F16 && scales->shape[1] == expect_groups);
        ck_assert_uint_eq(sq_qtensor_bytes(&qt), ROWS * COLS / 2 + ROWS * expect_groups * 3);
        ck_assert(sq_qtensor_attr(&qt, "gptq_loss", -1) > 0);
        sq_qtensor_free(&qt);
        o.act_order = true;
        double gptq_act = run(weights, h_correlated, &o, &qt, back);
        const sq_qbuffer *g_idx = sq_qtensor_buffer(&qt, "g_idx");
        ck_assert(g_idx && g_idx->dtype == SQ_DTYPE_I32 && g_idx->shape[0] == COLS);
        int *count = calloc((size_t)expect_groups, sizeof *count);
        for (int j = 0; j < COLS; j++) {
            int g = ((int32_t *)g_idx->data)[j];
            ck_assert(g >= 0 && g < expect_groups);
            count[g]++;
        }
        for (int g = 0; g < expect_groups; g++)
            ck_assert_int_eq(count[g], COLS / expect_groups);
        free(count);
        sq_qtensor_free(&qt);
        /* The same data quantized by the int4 asymmetric format (Q4_1-like), when its group fits. */
        double q4_1 = -1;
        if (groups[gi] > 0) {
            sq_quant_options io = block_options(groups[gi], true, false);
            ck_assert_int_eq(sq_quant_format_find("int4")->quantize("w", weights, ROWS, COLS, &io, NULL, &qt), SQ_OK);
            ck_assert_int_eq(sq_quant_format_find("int4")->dequantize(&qt, back), SQ_OK);
            q4_1 = output_error(weights, back, h_correlated);
            sq_qtensor_free(&qt);
        }
        printf("gptq 4-bit group %4d: output error RTN %.4e, GPTQ %.4e (%.3fx), GPTQ act-order %.4e (%.3fx), "
               "int4 asym %.4e\n", groups[gi], rtn, gptq, gptq / rtn, gptq_act, gptq_act / rtn, q4_1);
        ck_assert_msg(gptq < 0.8 * rtn, "group %d: GPTQ %g vs RTN %g", groups[gi], gptq, rtn);
        ck_assert_msg(gptq_act < 0.8 * rtn, "group %d: act-order %g vs RTN %g", groups[gi], gptq_act, rtn);
        if (q4_1 > 0)
            ck_assert_msg(gptq < q4_1, "group %d: GPTQ %g vs int4 asymmetric %g", groups[gi], gptq, q4_1);
    }
}
END_TEST

START_TEST(test_bits_and_codes)
{
    static float back[ROWS * COLS];
    sq_qtensor qt;
    double previous = INFINITY;
    int bits[] = {3, 4, 8};
    for (int b = 0; b < 3; b++) {
        sq_quant_options o = gptq_options(bits[b], 64, false);
        double e = run(weights, h_correlated, &o, &qt, back);
        const sq_qbuffer *qweight = sq_qtensor_buffer(&qt, "qweight"), *zeros = sq_qtensor_buffer(&qt, "zeros");
        ck_assert_int_eq(qweight->shape[1], bits[b] == 8 ? COLS : COLS / 2);
        int maxq = (1 << bits[b]) - 1;
        for (int i = 0; i < ROWS * (COLS / 64); i++)
            ck_assert(((uint8_t *)zeros->data)[i] <= maxq);
        if (bits[b] == 3)
            for (int i = 0; i < ROWS * COLS / 2; i++) /* 3-bit codes in nibbles */
                ck_assert((((uint8_t *)qweight->data)[i] & 0x88) == 0);
        ck_assert_msg(e < previous, "%d bits: %g not below %g", bits[b], e, previous);
        previous = e;
        sq_qtensor_free(&qt);
    }
    sq_quant_options o = gptq_options(4, 64, false);
    o.symmetric = true;
    run(weights, h_correlated, &o, &qt, back);
    for (int i = 0; i < ROWS * (COLS / 64); i++)
        ck_assert_uint_eq(((uint8_t *)sq_qtensor_buffer(&qt, "zeros")->data)[i], 8); /* (maxq + 1) / 2 */
    sq_qtensor_free(&qt);
    o = gptq_options(5, 64, false);
    sq_calib_stats calib = {.hessian = h_correlated};
    ck_assert_int_eq(sq_quant_format_find("gptq")->quantize("w", weights, ROWS, COLS, &o, &calib, &qt), SQ_ERR_USAGE);
}
END_TEST

START_TEST(test_dead_columns_zero_rows_and_errors)
{
    static float back[ROWS * COLS], w[ROWS * COLS];
    static double h[COLS * COLS];
    memcpy(h, h_correlated, sizeof h);
    memcpy(w, weights, sizeof w);
    for (int j = 0; j < COLS; j++) { /* input 5 never fired during calibration */
        h[5 * COLS + j] = 0;
        h[j * COLS + 5] = 0;
    }
    for (int c = 0; c < COLS; c++)
        w[7 * COLS + c] = 0.0f; /* an all-zero row */
    sq_qtensor qt;
    sq_quant_options o = gptq_options(4, 128, true);
    sq_calib_stats calib = {.hessian = h};
    const sq_quant_format *f = sq_quant_format_find("gptq");
    ck_assert_int_eq(f->quantize("x", w, ROWS, COLS, &o, &calib, &qt), SQ_OK);
    ck_assert_int_eq(f->dequantize(&qt, back), SQ_OK);
    for (int r = 0; r < ROWS; r++)
        ck_assert(back[r * COLS + 5] == 0.0f);
    for (int c = 0; c < COLS; c++)
        ck_assert(back[7 * COLS + c] == 0.0f);
    sq_qtensor_free(&qt);

    ck_assert_int_eq(f->quantize("blocks.1.mixer.in_proj.weight", w, ROWS, COLS, &o, NULL, &qt), SQ_ERR_USAGE);
    ck_assert_str_eq(sq_error_message(), "gptq needs the full X^T X for 'blocks.1.mixer.in_proj.weight': add a "
                                         "pattern matching it to calibrate.hessian in the run config");
    w[3 * COLS + 9] = NAN;
    ck_assert_int_eq(f->quantize("blocks.1.mixer.in_proj.weight", w, ROWS, COLS, &o, &calib, &qt), SQ_ERR_INPUT);
    assert_message_has("element 777 (row 3, column 9)");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quant_gptq");
    const sq_test_case row = {.name = "quant_gptq", .timeout = 120,
                              .tests = SQ_TESTS(test_gptq_beats_round_to_nearest, test_bits_and_codes,
                                                test_dead_columns_zero_rows_and_errors)};
    /* unchecked: the Hessians are built once, before the tests' processes are forked */
    tcase_add_unchecked_fixture(sq_test_add_case(s, &row), setup, teardown);
    return sq_test_run(s);
}
