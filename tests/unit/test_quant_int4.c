/* test_quant_int4.c - ggml Q4_0 / Q4_1-like group-wise 4 bits. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/format.h"
#include "test_support.h"

START_TEST(test_q4_0_block_layout)
{
    /* x[j] = j - 16: the largest magnitude is -16, so d = -16 / -8 = 2 and
     * q = min(15, (int)(x/2 + 8.5)) = j/2 clipped; byte j holds q[j] | q[j+16] << 4. */
    float x[32], back[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16);
    sq_qtensor qt;
    ck_assert_int_eq(sq_quant_format_find("int4")->quantize("w", x, 1, 32, NULL, NULL, &qt), SQ_OK);
    const sq_qbuffer *packed = sq_qtensor_buffer(&qt, "packed"), *scales = sq_qtensor_buffer(&qt, "scales");
    ck_assert(packed->dtype == SQ_DTYPE_U8 && packed->shape[0] == 1 && packed->shape[1] == 16);
    ck_assert(scales->dtype == SQ_DTYPE_F16 && scales->shape[1] == 1);
    ck_assert_uint_eq(((uint16_t *)scales->data)[0], 0x4000); /* fp16 2.0 */
    const uint8_t *b = packed->data;
    for (int j = 0; j < 16; j++) {
        int lo = (int)((float)(j - 16) / 2.0f + 8.5f), hi = (int)((float)j / 2.0f + 8.5f);
        hi = hi > 15 ? 15 : hi;
        ck_assert_uint_eq(b[j], (unsigned)(lo | hi << 4));
    }
    ck_assert_uint_eq(b[0], 0x80);
    ck_assert_uint_eq(sq_qtensor_bytes(&qt), 18); /* ggml block_q4_0: 18 bytes per 32 */
    ck_assert_int_eq(sq_quant_format_find("int4")->dequantize(&qt, back), SQ_OK);
    ck_assert(back[0] == -16.0f && back[31] == 14.0f && back[16] == 0.0f);
    sq_qtensor_free(&qt);
}
END_TEST

static double round_trip_rms(const float *w, int rows, int cols, sq_quant_options *o, double *max_ratio)
{
    const sq_quant_format *f = sq_quant_format_find("int4");
    sq_qtensor qt;
    float *back = malloc((size_t)rows * cols * sizeof *back);
    ck_assert_int_eq(f->quantize("layer", w, rows, cols, o, NULL, &qt), SQ_OK);
    ck_assert_int_eq(f->dequantize(&qt, back), SQ_OK);
    int g = o->block_size;
    double sq = 0, energy = 0;
    *max_ratio = 0;
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < cols / g; b++) {
            float lo = INFINITY, hi = -INFINITY;
            for (int j = 0; j < g; j++) {
                lo = fminf(lo, w[r * cols + b * g + j]);
                hi = fmaxf(hi, w[r * cols + b * g + j]);
            }
            float amax = fmaxf(fabsf(lo), fabsf(hi));
            /* step of the grid: Q4_0 |d| = amax/8, Q4_1 d = (max-min)/15 */
            float step = o->asymmetric ? (hi - lo) / 15.0f : amax / 8.0f;
            for (int j = 0; j < g; j++) {
                int i = r * cols + b * g + j;
                double e = fabs((double)back[i] - w[i]);
                if (step > 0)
                    *max_ratio = fmax(*max_ratio, e / step);
                else
                    ck_assert(back[i] == 0.0f);
                sq += e * e;
                energy += (double)w[i] * w[i];
            }
        }
    uint64_t expected = (uint64_t)rows * cols / 2 + 2ull * rows * (cols / g) * (o->asymmetric ? 2 : 1);
    ck_assert_uint_eq(sq_qtensor_bytes(&qt), expected);
    free(back);
    sq_qtensor_free(&qt);
    return sqrt(sq / energy);
}

START_TEST(test_round_trip_bounds)
{
    enum { ROWS = 8, COLS = 128 };
    float w[ROWS * COLS], shifted[ROWS * COLS];
    uint64_t state = 3;
    for (int i = 0; i < ROWS * COLS; i++) {
        w[i] = uniform(&state) * 0.05f;
        shifted[i] = 0.1f + fabsf(w[i]); /* all positive: favours a min */
    }
    for (int j = 0; j < 32; j++)
        w[2 * COLS + 32 + j] = 0.0f; /* an all-zero group */
    double ratio;
    sq_quant_options sym = block_options(32, false, false), asym = block_options(32, true, false);
    double rms = round_trip_rms(w, ROWS, COLS, &sym, &ratio);
    ck_assert_msg(ratio <= 1.0 + 1e-3, "Q4_0 error %g steps", ratio); /* (x/d + 8.5) truncation and the 15 clip */
    ck_assert_msg(rms < 0.12, "Q4_0 relative rms %g", rms);
    rms = round_trip_rms(w, ROWS, COLS, &asym, &ratio);
    ck_assert_msg(ratio <= 0.5 + 0.01, "Q4_1 error %g steps", ratio); /* + fp16 rounding of d and min */
    ck_assert_msg(rms < 0.08, "Q4_1 relative rms %g", rms);
    double rms_sym = round_trip_rms(shifted, ROWS, COLS, &sym, &ratio);
    double rms_asym = round_trip_rms(shifted, ROWS, COLS, &asym, &ratio);
    ck_assert_msg(rms_asym < 0.5 * rms_sym, "asymmetric %g vs symmetric %g on shifted data", rms_asym, rms_sym);
    sq_quant_options g128 = block_options(128, false, false), g16 = block_options(16, false, false);
    double rms128 = round_trip_rms(w, ROWS, COLS, &g128, &ratio), rms16 = round_trip_rms(w, ROWS, COLS, &g16, &ratio);
    ck_assert_msg(rms16 <= rms128, "group 16 %g vs 128 %g", rms16, rms128);
    /* A 1-D tensor is one row. */
    ck_assert(round_trip_rms(w, 1, ROWS * COLS, &sym, &ratio) < 0.12);
}
END_TEST

START_TEST(test_group_must_divide_rows)
{
    float w[2 * 100] = {0};
    sq_qtensor qt;
    sq_quant_options o = block_options(32, false, false);
    ck_assert_int_eq(sq_quant_format_find("int4")->quantize("blocks.0.ssm.dt_proj.weight", w, 2, 100, &o, NULL, &qt),
                     SQ_ERR_USAGE);
    const char *m = sq_error_message();
    ck_assert_ptr_nonnull(strstr(m, "'blocks.0.ssm.dt_proj.weight'"));
    ck_assert_ptr_nonnull(strstr(m, "100 values"));
    ck_assert_ptr_nonnull(strstr(m, "group size 32"));
    ck_assert_ptr_nonnull(strstr(m, "block_size: 20")); /* the largest even divisor of 100 below 32 */
    ck_assert_int_eq(sq_quant_format_find("int4")->quantize("odd", w, 3, 33, &o, NULL, &qt), SQ_ERR_USAGE);
    assert_message_has("nf4");
    o.block_size = 7;
    ck_assert_int_eq(sq_quant_format_find("int4")->quantize("odd", w, 2, 14, &o, NULL, &qt), SQ_ERR_USAGE);
}
END_TEST

START_TEST(test_refuses_non_finite)
{
    float w[64];
    for (int i = 0; i < 64; i++)
        w[i] = (float)i;
    w[40] = INFINITY;
    assert_quantize_refused("int4", "lm_head.weight", w, 2, 32, "element 40");
}
END_TEST

int main(void)
{
    return sq_test_run_tests("quant_int4", 0,
                             SQ_TESTS(test_q4_0_block_layout, test_round_trip_bounds, test_group_must_divide_rows,
                                      test_refuses_non_finite));
}
