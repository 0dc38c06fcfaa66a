/* test_quant_ggml.c - ggml block formats (q8_0, q4_0, q4_1, q4_k, q6_k):
 * byte-identical to the blocks that tests/reference/ggml_vectors.py derives
 * from ggml's public definition, on synthetic rows (random magnitudes, zeros,
 * ties, outliers, tiny values) and on rows of the bundled model's weights;
 * the stated fallbacks for rows that do not fit; dequantization bounds. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "quant/format.h"
#include "quant/ggml_blocks.h"
#include "test_support.h"

static const char *const kinds[] = {"q8_0", "q4_0", "q4_1", "q4_k", "q6_k"};

/* Quantizes rows x cols with every kind whose block fits and compares with the
 * committed expected bytes of the case. Returns the number of kinds compared. */
static int compare_case(const char *name, const float *values, int64_t rows, int64_t cols)
{
    int compared = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_format(kinds[k]);
        ck_assert_ptr_nonnull(kind);
        if (cols % kind->block_values)
            continue;
        char path[512];
        size_t size = 0;
        snprintf(path, sizeof path, "%s/quant/ggml/%s.%s", SQ_TEST_DATA, name, kinds[k]);
        unsigned char *expected = (unsigned char *)read_whole_file(path, &size);
        sq_qtensor qt;
        ck_assert_int_eq(sq_quant_format_find(kinds[k])->quantize(name, values, rows, cols, NULL, NULL, &qt), SQ_OK);
        ck_assert_str_eq(qt.format, kinds[k]);
        const sq_qbuffer *blocks = sq_qtensor_buffer(&qt, "blocks");
        ck_assert_ptr_nonnull(blocks);
        ck_assert_int_eq(blocks->shape[0] * blocks->shape[1], size);
        const unsigned char *got = blocks->data;
        for (long i = 0; i < (long)size; i++)
            ck_assert_msg(got[i] == expected[i], "%s as %s: byte %ld (block %ld) is 0x%02x, ggml writes 0x%02x", name,
                          kinds[k], i, i / kind->block_bytes, got[i], expected[i]);
        /* Dequantization reads back what the blocks say: finite, and the
         * block's largest error is bounded by its scale. */
        float *back = malloc((size_t)(rows * cols) * sizeof *back);
        ck_assert_int_eq(sq_quant_format_find(kinds[k])->dequantize(&qt, back), SQ_OK);
        for (int64_t i = 0; i < rows * cols; i++)
            ck_assert(isfinite(back[i]));
        free(back);
        sq_qtensor_free(&qt);
        free(expected);
        compared++;
    }
    return compared;
}

static const char *const synthetic[] = {"random", "zeros", "ties", "outliers", "tiny"};

START_TEST(test_synthetic_bytes)
{
    int compared = 0;
    for (size_t c = 0; c < sizeof synthetic / sizeof synthetic[0]; c++) {
        char path[512];
        size_t size = 0;
        snprintf(path, sizeof path, "%s/quant/ggml/%s.f32", SQ_TEST_DATA, synthetic[c]);
        unsigned char *raw = (unsigned char *)read_whole_file(path, &size);
        uint32_t dims[2];
        memcpy(dims, raw, sizeof dims);
        ck_assert_uint_eq(size, 8 + (size_t)dims[0] * dims[1] * 4);
        float *values = malloc((size_t)dims[0] * dims[1] * sizeof *values);
        memcpy(values, raw + 8, (size_t)dims[0] * dims[1] * sizeof *values);
        compared += compare_case(synthetic[c], values, dims[0], dims[1]);
        free(values);
        free(raw);
    }
    ck_assert_int_eq(compared, 5 * 5);
}
END_TEST

START_TEST(test_real_weight_bytes)
{
    static const struct { const char *name, *tensor; int rows; } real[] = {
        {"real_itera_out_proj", "layers.0.ssm.out_proj.weight", 16},
        {"real_itera_delta_proj", "layers.1.ssm.ssm.delta_proj.weight", 16},
        {"real_itera_in_proj", "layers.0.ssm.in_proj.weight", 32},
    };
    sq_tensor_set set;
    ck_assert_int_eq(sq_safetensors_read(SQ_TEST_DATA "/bundled/itera_tiny_bytes.safetensors", &set), SQ_OK);
    int compared = 0;
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        const sq_tensor *t = must_find(&set, real[i].tensor);
        ck_assert(t->dtype == SQ_DTYPE_F32);
        compared += compare_case(real[i].name, t->data, real[i].rows, t->shape[1]);
    }
    ck_assert_int_eq(compared, 5 + 5 + 3);
    sq_tensor_set_free(&set);
}
END_TEST

START_TEST(test_block_sizes_and_types)
{
    /* ggml-common.h sizes and ggml_type ids (GGUF tensor types). */
    static const struct { const char *format; int type, values, bytes; } expect[] = {
        {"q8_0", 8, 32, 34}, {"q4_0", 2, 32, 18}, {"q4_1", 3, 32, 20}, {"q4_k", 12, 256, 144}, {"q6_k", 14, 256, 210},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        const sq_ggml_block_kind *k = sq_ggml_block_kind_of_format(expect[i].format);
        ck_assert_int_eq(k->ggml_type, expect[i].type);
        ck_assert_int_eq(k->block_values, expect[i].values);
        ck_assert_int_eq(k->block_bytes, expect[i].bytes);
        ck_assert_ptr_eq(sq_ggml_block_kind_of_type(expect[i].type), k);
    }
    ck_assert_ptr_null(sq_ggml_block_kind_of_format("int4"));
}
END_TEST

START_TEST(test_fallbacks)
{
    /* Rows of 96: not whole super-blocks (q4_k -> q4_1, q6_k -> q8_0); rows of
     * 40: not whole blocks of 32 (-> fp16).  The stored format says which. */
    static const struct { const char *asked; int cols; const char *stored; } cases[] = {
        {"q4_k", 96, "q4_1"}, {"q6_k", 96, "q8_0"}, {"q4_k", 40, "fp16"}, {"q6_k", 40, "fp16"},
        {"q8_0", 40, "fp16"}, {"q4_0", 40, "fp16"}, {"q4_1", 40, "fp16"},
    };
    float w[2 * 96];
    uint64_t state = 7;
    for (int i = 0; i < 2 * 96; i++)
        w[i] = uniform(&state) - 0.5f;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sq_qtensor qt;
        float back[2 * 96];
        const sq_quant_format *f = sq_quant_format_find(cases[i].asked);
        ck_assert_int_eq(f->quantize("w", w, 2, cases[i].cols, NULL, NULL, &qt), SQ_OK);
        ck_assert_str_eq(qt.format, cases[i].stored);
        ck_assert_int_eq(sq_quant_format_find(qt.format)->dequantize(&qt, back), SQ_OK);
        for (int j = 0; j < 2 * cases[i].cols; j++)
            ck_assert_float_le(fabsf(back[j] - w[j]), 0.1f);
        sq_qtensor_free(&qt);
    }
}
END_TEST

START_TEST(test_round_trip_error)
{
    /* Mean squared error relative to the signal on N(0,1)-like rows: a wrong
     * nibble order or scale would be far off; the bounds are loose multiples of
     * what each format gives (q8_0 ~1e-4, q6_k ~1e-3, 4-bit ~1e-2). */
    static const struct { const char *format; double bound; } cases[] = {
        {"q8_0", 1e-3}, {"q6_k", 5e-3}, {"q4_k", 3e-2}, {"q4_1", 3e-2}, {"q4_0", 3e-2},
    };
    enum { ROWS = 8, COLS = 512 };
    static float w[ROWS * COLS], back[ROWS * COLS];
    uint64_t state = 11;
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = (uniform(&state) + uniform(&state) + uniform(&state) - 1.5f) * 2.0f;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sq_qtensor qt;
        const sq_quant_format *f = sq_quant_format_find(cases[i].format);
        ck_assert_int_eq(f->quantize("w", w, ROWS, COLS, NULL, NULL, &qt), SQ_OK);
        ck_assert_int_eq(f->dequantize(&qt, back), SQ_OK);
        double err = 0, energy = 0;
        for (int j = 0; j < ROWS * COLS; j++) {
            err += (back[j] - w[j]) * (double)(back[j] - w[j]);
            energy += (double)w[j] * w[j];
        }
        ck_assert_msg(err / energy < cases[i].bound, "%s: relative mse %g", cases[i].format, err / energy);
        sq_qtensor_free(&qt);
    }
}
END_TEST

START_TEST(test_refuses_non_finite)
{
    float w[256] = {0};
    w[77] = NAN;
    assert_quantize_refused("q4_k", "blk.0.attn_q.weight", w, 1, 256, "element 77");
}
END_TEST

int main(void)
{
    return sq_test_run_tests("quant_ggml", 0,
                             SQ_TESTS(test_synthetic_bytes, test_real_weight_bytes, test_block_sizes_and_types,
                                      test_fallbacks, test_round_trip_error, test_refuses_non_finite));
}
