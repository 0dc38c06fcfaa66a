/* test_quant_int8.c - per-channel symmetric int8 and its activation scales. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/format.h"
#include "test_support.h"

START_TEST(test_round_trip_and_codes)
{
    enum { ROWS = 16, COLS = 64 };
    float w[ROWS * COLS], back[ROWS * COLS];
    uint64_t state = 1;
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = uniform(&state) * (float)(1 + i / COLS); /* rows of different ranges */
    for (int c = 0; c < COLS; c++)
        w[3 * COLS + c] = 0.0f; /* an all-zero row */
    const sq_quant_format *f = sq_quant_format_find("int8");
    sq_qtensor qt;
    ck_assert_int_eq(f->quantize("ffn.w2.weight", w, ROWS, COLS, NULL, NULL, &qt), SQ_OK);
    const sq_qbuffer *q = sq_qtensor_buffer(&qt, "q"), *scales = sq_qtensor_buffer(&qt, "scales");
    ck_assert(q && q->dtype == SQ_DTYPE_I8 && q->shape[0] == ROWS && q->shape[1] == COLS);
    ck_assert(scales && scales->dtype == SQ_DTYPE_F32 && scales->shape[0] == ROWS);
    ck_assert_ptr_null(sq_qtensor_buffer(&qt, "act_scales"));
    ck_assert_uint_eq(sq_qtensor_bytes(&qt), ROWS * COLS + 4 * ROWS);
    ck_assert_int_eq(f->dequantize(&qt, back), SQ_OK);
    const int8_t *codes = q->data;
    const float *scale = scales->data;
    for (int r = 0; r < ROWS; r++) {
        float amax = 0;
        int reaches = 0;
        for (int c = 0; c < COLS; c++)
            amax = fmaxf(amax, fabsf(w[r * COLS + c]));
        ck_assert(scale[r] == amax / 127.0f);
        for (int c = 0; c < COLS; c++) {
            int i = r * COLS + c;
            ck_assert(codes[i] >= -127 && codes[i] <= 127);
            reaches |= abs(codes[i]) == 127;
            ck_assert_msg(fabsf(back[i] - w[i]) <= scale[r] * 0.5f * 1.0001f, "row %d col %d", r, c);
        }
        ck_assert_int_eq(reaches, amax > 0);
    }
    for (int c = 0; c < COLS; c++)
        ck_assert(back[3 * COLS + c] == 0.0f);
    sq_qtensor_free(&qt);
}
END_TEST

START_TEST(test_round_half_even)
{
    float w[4] = {127.0f, 2.5f, 3.5f, -2.5f}, back[4];
    sq_qtensor qt;
    ck_assert_int_eq(sq_quant_format_find("int8")->quantize("t", w, 1, 4, NULL, NULL, &qt), SQ_OK);
    const int8_t *q = sq_qtensor_buffer(&qt, "q")->data;
    ck_assert_int_eq(q[0], 127);
    ck_assert_int_eq(q[1], 2); /* torch.round: half to even */
    ck_assert_int_eq(q[2], 4);
    ck_assert_int_eq(q[3], -2);
    ck_assert_int_eq(sq_quant_format_find("int8")->dequantize(&qt, back), SQ_OK);
    ck_assert(back[0] == 127.0f && back[2] == 4.0f);
    sq_qtensor_free(&qt);
}
END_TEST

START_TEST(test_percentile_clipping)
{
    enum { COLS = 101 };
    float w[COLS];
    for (int c = 0; c < COLS; c++)
        w[c] = (float)c / 100.0f; /* |w| = 0, 0.01, ..., 1.00 */
    w[100] = 50.0f;               /* an outlier */
    sq_quant_options o;
    sq_quant_options_default(&o);
    o.weight_percentile = 99.0; /* numpy.percentile(|w|, 99) = 0.99 */
    sq_qtensor qt;
    ck_assert_int_eq(sq_quant_format_find("int8")->quantize("x_proj", w, 1, COLS, &o, NULL, &qt), SQ_OK);
    const float scale = ((const float *)sq_qtensor_buffer(&qt, "scales")->data)[0];
    ck_assert_float_eq_tol(scale, 0.99f / 127.0f, 1e-9f);
    const int8_t *q = sq_qtensor_buffer(&qt, "q")->data;
    ck_assert_int_eq(q[100], 127); /* clipped */
    ck_assert_int_eq(q[99], 127);
    ck_assert_int_eq(q[50], 64); /* 0.5 / (0.99/127) = 64.14 */
    ck_assert(sq_qtensor_attr(&qt, "weight_percentile", 0) == 99.0);
    sq_qtensor_free(&qt);
    o.weight_percentile = 0.0;
    ck_assert_int_eq(sq_quant_format_find("int8")->quantize("x_proj", w, 1, COLS, &o, NULL, &qt), SQ_ERR_USAGE);
    assert_message_has("x_proj");
}
END_TEST

START_TEST(test_activation_scales)
{
    float w[2 * 3] = {1, -2, 3, 4, 5, -6}, absmax[3] = {12.7f, 254.0f, 1.27f}, pct[3] = {6.35f, 127.0f, 1.0f};
    sq_calib_stats calib = {.act_absmax = absmax, .tokens = 100};
    sq_qtensor qt;
    const sq_quant_format *f = sq_quant_format_find("int8");
    ck_assert_int_eq(f->quantize("in_proj", w, 2, 3, NULL, &calib, &qt), SQ_OK);
    const sq_qbuffer *act = sq_qtensor_buffer(&qt, "act_scales");
    ck_assert(act && act->dtype == SQ_DTYPE_F32 && act->shape[0] == 3);
    ck_assert_float_eq_tol(((float *)act->data)[0], 0.1f, 1e-7f);
    ck_assert_float_eq_tol(((float *)act->data)[1], 2.0f, 1e-6f);
    ck_assert(sq_qtensor_attr(&qt, "act_scales_from_percentile", -1) == 0.0);
    sq_qtensor_free(&qt);
    calib.act_percentile = pct; /* the percentile wins when calibration has it */
    ck_assert_int_eq(f->quantize("in_proj", w, 2, 3, NULL, &calib, &qt), SQ_OK);
    act = sq_qtensor_buffer(&qt, "act_scales");
    ck_assert_float_eq_tol(((float *)act->data)[1], 1.0f, 1e-6f);
    ck_assert(sq_qtensor_attr(&qt, "act_scales_from_percentile", -1) == 1.0);
    sq_qtensor_free(&qt);
}
END_TEST

START_TEST(test_refuses_non_finite)
{
    float w[6] = {1, 2, 3, 4, NAN, 6};
    assert_quantize_refused("int8", "blocks.2.moe.experts.1.w1", w, 2, 3, "element 4 (row 1, column 1)");
}
END_TEST

int main(void)
{
    return sq_test_run_tests("quant_int8", 0,
                             SQ_TESTS(test_round_trip_and_codes, test_round_half_even, test_percentile_clipping,
                                      test_activation_scales, test_refuses_non_finite));
}
