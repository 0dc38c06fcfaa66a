/* test_kernels.c - the packed-weight kernels (kernels/matrix.h): for every storage format,
 * the scalar reference and the AVX2 kernel agree, and both agree with dequantize-then-multiply
 * within the error the int8 activations (and NF4's int8 table) can explain; a row read back from
 * any kernel's layout is the dequantized row. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/matrix.h"
#include "quant/format.h"
#include "test_support.h"

enum { ROWS = 37, COLS = 256, TOKENS = 29 }; /* whole and partial register blocks of 4, 6 and 12 tokens */

static uint32_t rng = 2463534242u;
static float unit_random(void) /* [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return (float)((double)rng / 2147483648.0 - 1.0);
}

typedef struct {
    const char *format;
    const char *kernel;     /* expected kernel name, or NULL: the dequantized fallback */
    sq_quant_options options;
    double table_error;     /* largest |w_kernel - w_stored| / block scale (nf4's int8 table) */
} format_case;

static format_case case_of(int i)
{
    format_case c = {0};
    sq_quant_options_default(&c.options);
    switch (i) {
    case 0: c.format = "fp32"; c.kernel = "f32-panel"; break;
    case 1: c.format = "fp16"; c.kernel = "f16-panel"; break;
    case 2: c.format = "bf16"; c.kernel = "bf16-panel"; break;
    case 3: c.format = "int8"; c.kernel = "int8xq8"; break;
    case 4: c.format = "int4"; c.kernel = "q4xq8"; break;
    case 5: c.format = "int4"; c.kernel = "q4xq8"; c.options.asymmetric = true; break;
    case 6: c.format = "int4"; c.kernel = "q4xq8"; c.options.block_size = 64; break;
    case 7: c.format = "nf4"; c.kernel = "nf4xq8"; c.table_error = 1.0 / 254.0; break;
    case 8: c.format = "nf4"; c.kernel = "nf4xq8"; c.options.double_quant = true; c.table_error = 1.0 / 254.0; break;
    case 9: c.format = "gptq"; c.kernel = "gptq4xq8"; c.options.group_size = 128; break;
    case 10: c.format = "gptq"; c.kernel = "gptq4xq8"; c.options.bits = 3; c.options.group_size = -1; break;
    case 11: c.format = "int4"; c.kernel = NULL; c.options.block_size = 16; break; /* no loop for 16 */
    case 12: c.format = "gptq"; c.kernel = NULL; c.options.act_order = true; c.options.group_size = 128; break;
    case 13: c.format = "gptq"; c.kernel = NULL; c.options.bits = 8; break;
    /* ggml's block formats, with ggml's activation types (kernels/ggml_dot.c) */
    case 14: c.format = "q8_0"; c.kernel = "q8_0xq8_0"; break;
    case 15: c.format = "q4_0"; c.kernel = "q4_0xq8_0"; break;
    case 16: c.format = "q4_1"; c.kernel = "q4_1xq8_1"; break;
    case 17: c.format = "q4_k"; c.kernel = "q4_Kxq8_K"; break;
    default: c.format = "q6_k"; c.kernel = "q6_Kxq8_K"; break;
    }
    return c;
}
#define CASES 19

/* x [TOKENS, COLS] with an outlier channel, W [ROWS, COLS], and X^T X / N for gptq */
static float x[TOKENS * COLS], w[ROWS * COLS];
static double hessian[COLS * COLS];

static void make_inputs(void)
{
    for (int i = 0; i < TOKENS * COLS; i++)
        x[i] = unit_random() * (i % COLS == 5 ? 20.0f : 1.0f);
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = unit_random() * 0.1f;
    for (int a = 0; a < COLS; a++)
        for (int b = 0; b < COLS; b++) {
            double s = 0.0;
            for (int t = 0; t < TOKENS; t++)
                s += (double)x[t * COLS + a] * x[t * COLS + b];
            hessian[a * COLS + b] = s / TOKENS + (a == b ? 0.1 : 0.0);
        }
}

static void run(const sq_matrix *m, sq_isa isa, float *y, bool accumulate, sq_kernel_work *work)
{
    sq_isa_limit(isa);
    if (!accumulate)
        for (int i = 0; i < TOKENS * ROWS; i++)
            y[i] = NAN; /* every output must be written */
    sq_matrix_matmul(m, x, TOKENS, y, ROWS, accumulate, work);
    sq_isa_limit(SQ_ISA_AVX512);
}

/* Every row decoded from the kernel's layout (how a tied head's table gives its embedding rows)
 * is the stored format's dequantized row, bit for bit. */
static void check_rows(const sq_matrix *m, const float *deq, const char *format)
{
    float row[COLS];
    char what[96];
    sq_matrix_describe(m, what, sizeof what);
    for (int r = 0; r < ROWS; r++) {
        for (int k = 0; k < COLS; k++)
            row[k] = NAN;
        sq_matrix_row(m, r, row);
        for (int k = 0; k < COLS; k++)
            ck_assert_msg(memcmp(&row[k], &deq[r * COLS + k], sizeof row[k]) == 0,
                          "%s %s (flags %d): row %d input %d decodes to %.9g, dequantize gives %.9g", format, what,
                          m->flags, r, k, row[k], deq[r * COLS + k]);
    }
}

START_TEST(test_format_kernel)
{
    format_case c = case_of(_i);
    const sq_quant_format *format = sq_quant_format_find(c.format);
    sq_qtensor qt;
    sq_matrix m, m32;
    sq_kernel_work work = {0};
    sq_calib_stats calib = {.hessian = hessian, .tokens = TOKENS};
    sq_kernel_options fp32_acts = {.fp32_activations = true};
    static float deq[ROWS * COLS], y_ref[TOKENS * ROWS], y_simd[TOKENS * ROWS], y_wide[TOKENS * ROWS],
        y32[TOKENS * ROWS];
    char what[96];

    make_inputs();
    ck_assert_ptr_nonnull(format);
    ck_assert_int_eq(format->quantize("t", w, ROWS, COLS, &c.options, &calib, &qt), SQ_OK);
    ck_assert_int_eq(format->dequantize(&qt, deq), SQ_OK);
    ck_assert_int_eq(sq_kernel_work_reserve(&work, TOKENS, COLS), SQ_OK);
    ck_assert_int_eq(sq_matrix_from_qtensor(&qt, NULL, &m), SQ_OK);
    ck_assert_int_eq(sq_matrix_from_qtensor(&qt, &fp32_acts, &m32), SQ_OK);
    sq_matrix_describe(&m, what, sizeof what);
    if (c.kernel) {
        ck_assert_str_eq(m.kernel->name, c.kernel);
        ck_assert_msg(!m.fallback, "%s: %s", c.format, what);
    } else {
        ck_assert_msg(m.fallback && strstr(what, "(dequantized)"), "%s: %s", c.format, what);
    }

    check_rows(&m, deq, c.format);   /* the AVX-512 panels where the CPU has them */
    check_rows(&m32, deq, c.format); /* fp32 activations: the row-major layouts */
    run(&m, SQ_ISA_SCALAR, y_ref, false, &work);
    run(&m, SQ_ISA_AVX2, y_simd, false, &work);
    run(&m, SQ_ISA_AVX512, y_wide, false, &work); /* the AVX2 one again where the CPU has no AVX-512 */
    run(&m32, SQ_ISA_AVX512, y32, false, &work);
    /* the activations' block: the int8 kernel's own, ggml's Q8_K for the k-quants (256), 32 for
     * the others; ggml's Q8_0 and Q8_1 keep d in fp16 while q is rounded against the float d, so
     * an input is within d/2 + 127 d 2^-11 of q d16 (1.125 x the half step) */
    const bool ggml_acts = strncmp(m.kernel->name, "q4_", 3) == 0 || strncmp(m.kernel->name, "q6_", 3) == 0 ||
                           strncmp(m.kernel->name, "q8_", 3) == 0;
    const int ab = (m.kernel == sq_kernel_for_format("int8") && !m.fallback) || (ggml_acts && m.group == 256)
                       ? m.group : 32;
    const double half_step = ggml_acts && ab == 32 ? 1.125 / 2.0 : 0.5;
    for (int t = 0; t < TOKENS; t++) {
        /* the bound of the int8 activations: half a step d_b / 2 per input, times |w|, and
         * for nf4 the table's error times |x| (scale: the block's absmax) */
        for (int r = 0; r < ROWS; r++) {
            double exact = 0.0, mag = 0.0, act_bound = 0.0, table_bound = 0.0;
            for (int b = 0; b < COLS / ab; b++) {
                double amax = 0.0, wmax = 0.0;
                for (int j = 0; j < ab; j++) {
                    amax = fmax(amax, fabs(x[t * COLS + b * ab + j]));
                    wmax = fmax(wmax, fabs(deq[r * COLS + b * ab + j]));
                }
                for (int j = 0; j < ab; j++) {
                    int k = b * ab + j;
                    exact += (double)x[t * COLS + k] * deq[r * COLS + k];
                    mag += fabs((double)x[t * COLS + k] * deq[r * COLS + k]);
                    act_bound += amax / 127.0 * half_step * fabs(deq[r * COLS + k]);
                    /* absmax of an nf4 block of 64 is at most the absmax of its two 32-halves */
                    table_bound += c.table_error * fabs(x[t * COLS + k]) * 2.0 * wmax;
                }
            }
            const double slop = 1e-5 * mag + 1e-6, got = y_simd[t * ROWS + r], ref = y_ref[t * ROWS + r];
            ck_assert_msg(isfinite(got) && isfinite(ref), "%s: output (%d, %d) not written", c.format, t, r);
            ck_assert_msg(fabs(got - ref) <= slop, "%s %s: scalar %.9g vs avx2 %.9g at (%d, %d)", c.format, what,
                          ref, got, t, r);
            ck_assert_msg(fabs(y_wide[t * ROWS + r] - ref) <= slop, "%s %s: scalar %.9g vs avx512 %.9g at (%d, %d)",
                          c.format, what, ref, y_wide[t * ROWS + r], t, r);
            const double bound = (m.fallback || m.kernel->name[0] == 'f' || m.kernel->name[0] == 'b' ? 0.0
                                                                                                    : act_bound) +
                                 table_bound + slop;
            ck_assert_msg(fabs(ref - exact) <= bound, "%s %s: kernel %.9g vs dequantized %.9g at (%d, %d), bound %.3g",
                          c.format, what, ref, exact, t, r, bound);
            ck_assert_msg(fabs(y32[t * ROWS + r] - exact) <= table_bound + slop,
                          "%s fp32 activations: %.9g vs dequantized %.9g", c.format, y32[t * ROWS + r], exact);
        }
    }
    /* ggml's formats prepared with AVX-512 off keep the stored blocks (no panels): their AVX2
     * kernel gives the scalar results of the panels too */
    if (ggml_acts && !m.fallback && strncmp(c.format, "q", 1) == 0) {
        sq_matrix stored;
        sq_isa_limit(SQ_ISA_AVX2);
        ck_assert_int_eq(sq_matrix_from_qtensor(&qt, NULL, &stored), SQ_OK);
        ck_assert_int_eq(stored.flags, 0); /* the blocks as stored */
        check_rows(&stored, deq, c.format);
        run(&stored, SQ_ISA_AVX2, y_wide, false, &work);
        for (int i = 0; i < TOKENS * ROWS; i++)
            ck_assert_msg(fabsf(y_wide[i] - y_ref[i]) <= 1e-4f * (1.0f + fabsf(y_ref[i])),
                          "%s stored blocks: avx2 %.9g vs scalar %.9g at %d", c.format, y_wide[i], y_ref[i], i);
        sq_matrix_free(&stored);
    }
    /* accumulate adds to what y holds */
    for (int i = 0; i < TOKENS * ROWS; i++)
        y_simd[i] = 1.0f;
    run(&m, SQ_ISA_AVX512, y_simd, true, &work);
    for (int i = 0; i < TOKENS * ROWS; i++)
        ck_assert_float_eq_tol(y_simd[i], y_ref[i] + 1.0f, 1e-4f * (1.0f + fabsf(y_ref[i])));
    /* windows of 1 to 9 tokens: a tile of 8 (the AVX-512 kernels' activations) partly filled,
     * whole, and one past it; the padded tokens' results are never stored */
    for (int T = 1; T <= 9; T++) {
        for (int i = 0; i < TOKENS * ROWS; i++)
            y_ref[i] = y_wide[i] = NAN;
        sq_isa_limit(SQ_ISA_SCALAR);
        sq_matrix_matmul(&m, x, T, y_ref, ROWS, false, &work);
        sq_isa_limit(SQ_ISA_AVX512);
        sq_matrix_matmul(&m, x, T, y_wide, ROWS, false, &work);
        for (int i = 0; i < TOKENS * ROWS; i++) {
            double mag = 0.0;
            for (int k = 0; k < COLS; k++)
                mag += fabs((double)x[(i / ROWS) * COLS + k] * deq[(i % ROWS) * COLS + k]);
            if (i >= T * ROWS)
                ck_assert_msg(isnan(y_wide[i]), "%s: T %d wrote output %d past the window", c.format, T, i);
            else
                ck_assert_msg(fabs(y_wide[i] - y_ref[i]) <= 1e-5 * mag + 1e-6, "%s T %d: avx512 %.9g vs scalar %.9g at %d",
                              c.format, T, y_wide[i], y_ref[i], i);
        }
    }
    sq_matrix_free(&m);
    sq_matrix_free(&m32);
    sq_qtensor_free(&qt);
    sq_kernel_work_free(&work);
}
END_TEST

/* A window shorter than the register blocks, a single token, a single output, and the
 * AVX-512 kernel's pairs of panels with an odd last panel (40 outputs: a pair, then one
 * panel of 8) or a partial second panel of a pair (21 outputs), T not a multiple of 8 or 12. */
START_TEST(test_panel_edges)
{
    enum { K = 64, TMAX = 19, RMAX = 40 };
    static float wv[RMAX * K], xv[TMAX * K], y1[TMAX * RMAX], y2[TMAX * RMAX];
    static const int outputs[] = {1, 3, 21, 32, 40};
    sq_matrix m;
    for (int i = 0; i < RMAX * K; i++)
        wv[i] = unit_random();
    for (int i = 0; i < TMAX * K; i++)
        xv[i] = unit_random();
    for (size_t o = 0; o < sizeof outputs / sizeof *outputs; o++) {
        const int R = outputs[o];
        ck_assert_int_eq(sq_matrix_from_f32(wv, R, K, &m), SQ_OK);
        for (int T = 1; T <= TMAX; T++) {
            sq_isa_limit(SQ_ISA_SCALAR);
            sq_matrix_matmul(&m, xv, T, y1, R, false, NULL);
            sq_isa_limit(SQ_ISA_AVX512);
            sq_matrix_matmul(&m, xv, T, y2, R, false, NULL);
            for (int i = 0; i < T * R; i++) {
                double exact = 0.0;
                for (int k = 0; k < K; k++)
                    exact += (double)xv[(i / R) * K + k] * wv[(i % R) * K + k];
                ck_assert_double_eq_tol(y1[i], exact, 1e-4);
                ck_assert_double_eq_tol(y2[i], exact, 1e-4);
                /* the two kernels differ only in rounding (FMA against multiply and add) */
                ck_assert_msg(fabsf(y2[i] - y1[i]) <= 1e-5f * (1.0f + fabsf(y1[i])),
                              "%d outputs, T %d: avx512 %.9g vs scalar %.9g at %d", R, T, y2[i], y1[i], i);
            }
        }
        sq_matrix_free(&m);
    }
}
END_TEST

/* Stacked weights packed from two sources are the joined weight's panels, and a row read
 * back from fp32 panels (the embedding of a tied head) is the row that went in. */
START_TEST(test_stacked_panels_and_rows)
{
    sq_matrix joined, stacked;
    float row[COLS];
    make_inputs();
    ck_assert_int_eq(sq_matrix_from_f32(w, ROWS, COLS, &joined), SQ_OK);
    ck_assert_int_eq(sq_matrix_from_f32_stacked(w, 20, w + 20 * COLS, ROWS - 20, COLS, &stacked), SQ_OK);
    ck_assert_int_eq(stacked.rows, ROWS);
    ck_assert_uint_eq(stacked.bytes, joined.bytes);
    ck_assert_int_eq(memcmp(stacked.codes, joined.codes, joined.bytes), 0);
    for (int r = 0; r < ROWS; r++) {
        sq_matrix_row(&stacked, r, row);
        ck_assert_int_eq(memcmp(row, w + (size_t)r * COLS, sizeof row), 0);
    }
    sq_matrix_free(&joined);
    sq_matrix_free(&stacked);
}
END_TEST

/* A product on the previous product's input reuses its quantized activations only when they
 * are what that product left (same window, block and kind): int8 after int8 on the same x,
 * 4-bit after int8 (another form), int8 after a ggml kernel that wrote the scratch, ggml's Q8_0
 * formats after each other, Q8_1 after Q8_0, the k-quants' Q8_K after each other, and a second
 * window all give what a fresh product gives. */
#define AGAIN_COUNT 11
START_TEST(test_again_reuses_only_what_it_may)
{
    static const char *const order[AGAIN_COUNT] = {"int8", "int8", "int4", "q8_0", "q4_0", "q4_1",
                                                   "q4_k", "q6_k", "int8", "nf4",  "nf4"};
    static float y_fresh[TOKENS * ROWS], y_again[TOKENS * ROWS], x2[TOKENS * COLS];
    sq_matrix m[AGAIN_COUNT];
    sq_qtensor qt[AGAIN_COUNT];
    sq_kernel_work work = {0}, fresh = {0};
    make_inputs();
    for (int i = 0; i < TOKENS * COLS; i++)
        x2[i] = x[i] * 0.5f + 0.25f;
    ck_assert_int_eq(sq_kernel_work_reserve(&work, TOKENS, COLS), SQ_OK);
    ck_assert_int_eq(sq_kernel_work_reserve(&fresh, TOKENS, COLS), SQ_OK);
    for (int i = 0; i < AGAIN_COUNT; i++) {
        sq_quant_options options;
        sq_quant_options_default(&options);
        for (int k = 0; k < ROWS * COLS; k++)
            w[k] = unit_random() * 0.1f;
        ck_assert_int_eq(sq_quant_format_find(order[i])->quantize("t", w, ROWS, COLS, &options, NULL, &qt[i]), SQ_OK);
        ck_assert_int_eq(sq_matrix_from_qtensor(&qt[i], NULL, &m[i]), SQ_OK);
    }
    for (int i = 0; i < AGAIN_COUNT; i++) {
        const bool last = i == AGAIN_COUNT - 1; /* another window in the same buffer slot */
        const float *in = last ? x2 : x;
        sq_matrix_matmul(&m[i], in, TOKENS, y_fresh, ROWS, false, &fresh);
        if (i == 0 || last)
            sq_matrix_matmul(&m[i], in, TOKENS, y_again, ROWS, false, &work);
        else
            sq_matrix_matmul_again(&m[i], in, TOKENS, y_again, ROWS, false, &work);
        ck_assert_msg(memcmp(y_fresh, y_again, sizeof y_fresh) == 0, "%s after %s", order[i], order[i ? i - 1 : 0]);
    }
    /* and the reuse happens where it may: x changed behind the kernels' back still gives the
     * product of the x that was quantized (int8 after int8, Q4_0 after Q8_0, Q6_K after Q4_K) */
    static const int pairs[][2] = {{0, 1}, {3, 4}, {6, 7}};
    for (int p = 0; p < 3; p++) {
        const sq_matrix *first = &m[pairs[p][0]], *second = &m[pairs[p][1]];
        if (sq_isa_active() < SQ_ISA_AVX512 && p == 0)
            continue; /* int8's reuse is its AVX-512 quantizer's */
        sq_matrix_matmul(second, x, TOKENS, y_fresh, ROWS, false, &fresh);
        sq_matrix_matmul(first, x, TOKENS, y_again, ROWS, false, &work);
        const float saved = x[0];
        x[0] = 1000.0f;
        sq_matrix_matmul_again(second, x, TOKENS, y_again, ROWS, false, &work);
        x[0] = saved;
        ck_assert_msg(memcmp(y_fresh, y_again, sizeof y_fresh) == 0, "%s after %s was not reused",
                      order[pairs[p][1]], order[pairs[p][0]]);
    }
    for (int i = 0; i < AGAIN_COUNT; i++) {
        sq_matrix_free(&m[i]);
        sq_qtensor_free(&qt[i]);
    }
    sq_kernel_work_free(&work);
    sq_kernel_work_free(&fresh);
}
END_TEST

START_TEST(test_every_kernel_has_a_reference)
{
    for (const sq_kernel *const *k = sq_kernel_all(); *k; k++) {
        ck_assert_ptr_nonnull((*k)->matmul_ref);
        ck_assert_ptr_nonnull((*k)->row);
        ck_assert_ptr_eq(sq_kernel_for_format((*k)->format), *k);
    }
    ck_assert_ptr_null(sq_kernel_for_format("q8_0_unknown"));
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("kernels");
    const sq_test_case row = {.name = "kernels",
                              .tests = SQ_TESTS(test_panel_edges, test_every_kernel_has_a_reference, test_again_reuses_only_what_it_may,
                                                test_stacked_panels_and_rows)};
    tcase_add_loop_test(sq_test_add_case(suite, &row), test_format_kernel, 0, CASES);
    return sq_test_run(suite);
}
