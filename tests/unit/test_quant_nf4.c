/* test_quant_nf4.c - NF4 byte for byte against bitsandbytes' definition.
 *
 * tests/data/quant/nf4/ holds what tests/reference/quant_vectors.py computes
 * (numpy, from bitsandbytes' python/CUDA definitions) for inputs this test
 * regenerates with the same integer generator.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quant/format.h"
#include "quant/nf4_codes.h"
#include "test_support.h"

/* The inputs quant_vectors.py draws: case A (lcg_values, one block zeroed, block size 64) and case B. */
#define NF4_A_COUNT 19237
#define NF4_A_SEED 20240601ull
#define NF4_A_ZERO_BLOCK 5
#define NF4_B_COUNT 91
#define NF4_B_SEED 7ull

/* tests/data/quant/nf4/<name> as quant_vectors.py writes it: count values of width bytes, little-endian
 * (float32 read as their bit patterns); the test fails if the file holds another count. Free it. */
static void *vectors(const char *name, size_t count, size_t width)
{
    char path[512];
    size_t size;
    snprintf(path, sizeof path, "%s/quant/nf4/%s", SQ_TEST_DATA, name);
    void *data = read_whole_file(path, &size);
    ck_assert_msg(size == count * width, "%s holds %zu bytes, not %zu", path, size, count * width);
    return data;
}

/* quant_vectors.py::lcg_values */
static float *lcg_values(int64_t n, uint64_t seed)
{
    float *out = malloc((size_t)n * sizeof *out);
    uint64_t state = seed;
    for (int64_t i = 0; i < n; i++) {
        int64_t s = 0;
        for (int k = 0; k < 4; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            s += (int64_t)(state >> 43);
        }
        float v = (float)(s - 2 * (1 << 21)) * 0x1p-25f;
        out[i] = i % 97 == 0 ? v * 8.0f : v;
    }
    return out;
}

static const sq_qbuffer *buffer(const sq_qtensor *qt, const char *name, sq_dtype dtype, int64_t count)
{
    const sq_qbuffer *b = sq_qtensor_buffer(qt, name);
    ck_assert_msg(b != NULL, "buffer %s missing", name);
    ck_assert_int_eq(b->dtype, dtype);
    ck_assert_int_eq(b->shape[0], count);
    return b;
}

START_TEST(test_code_and_tree)
{
    static const float bnb[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                  -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                  0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
                                  0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                                  0.7229568362236023f, 1.0f};
    for (int k = 0; k < 16; k++) {
        ck_assert_uint_eq(to_bits(sq_nf4_code[k]), to_bits(bnb[k]));
        ck_assert_uint_eq(sq_nf4_encode(bnb[k]), k);
    }
    /* Nearest code everywhere away from the midpoints. */
    for (int i = -1000; i <= 1000; i++) {
        float x = (float)i / 1000.0f;
        int best = 0;
        for (int k = 1; k < 16; k++)
            if (fabsf(x - sq_nf4_code[k]) < fabsf(x - sq_nf4_code[best]))
                best = k;
        ck_assert_int_eq(sq_nf4_encode(x), best);
    }
    ck_assert_uint_eq(sq_nf4_encode(NAN), 0); /* the kernel's NaN path */
}
END_TEST

START_TEST(test_dynamic_map_matches_reference)
{
    float map[256];
    uint32_t *bnb = vectors("dynamic_map.f32", 256, 4);
    sq_nf4_dynamic_map(map);
    for (int k = 0; k < 256; k++)
        ck_assert_msg(to_bits(map[k]) == bnb[k], "map[%d] = %.9g, bitsandbytes %.9g", k, (double)map[k],
                      (double)from_bits(bnb[k]));
    ck_assert(map[0] < -0.99f && map[255] == 1.0f && map[127] == 0.0f);
    free(bnb);
}
END_TEST

START_TEST(test_case_a_bytes)
{
    float *x = lcg_values(NF4_A_COUNT, NF4_A_SEED);
    int64_t blocks = (NF4_A_COUNT + 63) / 64;
    uint32_t *first_inputs = vectors("a_first_inputs.f32", 8, 4), *absmax_bits = vectors("a_absmax.f32", blocks, 4);
    uint32_t *nested_bits = vectors("a_nested_absmax.f32", 2, 4), *offset_bits = vectors("a_nested_offset.f32", 1, 4);
    uint8_t *bnb_packed = vectors("a_packed.u8", (NF4_A_COUNT + 1) / 2, 1);
    uint8_t *bnb_absmax_q = vectors("a_absmax_q.u8", blocks, 1);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(to_bits(x[i]), first_inputs[i]);
    memset(x + NF4_A_ZERO_BLOCK * 64, 0, 64 * sizeof *x);
    const sq_quant_format *f = sq_quant_format_find("nf4");
    sq_quant_options plain = block_options(0, false, false), nested = block_options(64, false, true);
    sq_qtensor a, b;
    ck_assert_int_eq(f->quantize("blocks.0.ffn.w1.weight", x, 1, NF4_A_COUNT, &plain, NULL, &a), SQ_OK);
    ck_assert_int_eq(f->quantize("blocks.0.ffn.w1.weight", x, 1, NF4_A_COUNT, &nested, NULL, &b), SQ_OK);

    const sq_qbuffer *packed = buffer(&a, "packed", SQ_DTYPE_U8, (NF4_A_COUNT + 1) / 2);
    ck_assert_int_eq(memcmp(packed->data, bnb_packed, (NF4_A_COUNT + 1) / 2), 0);
    const float *absmax = buffer(&a, "absmax", SQ_DTYPE_F32, blocks)->data;
    for (int64_t i = 0; i < blocks; i++)
        ck_assert_uint_eq(to_bits(absmax[i]), absmax_bits[i]);
    ck_assert_int_eq((int)sq_qtensor_attr(&a, "block_size", 0), 64);

    ck_assert_int_eq(memcmp(buffer(&b, "packed", SQ_DTYPE_U8, (NF4_A_COUNT + 1) / 2)->data, bnb_packed,
                            (NF4_A_COUNT + 1) / 2), 0);
    ck_assert_ptr_null(sq_qtensor_buffer(&b, "absmax"));
    ck_assert_int_eq(memcmp(buffer(&b, "absmax_q", SQ_DTYPE_U8, blocks)->data, bnb_absmax_q, (size_t)blocks), 0);
    const float *nested_absmax = buffer(&b, "nested_absmax", SQ_DTYPE_F32, 2)->data;
    for (int i = 0; i < 2; i++)
        ck_assert_uint_eq(to_bits(nested_absmax[i]), nested_bits[i]);
    ck_assert_uint_eq(to_bits((float)sq_qtensor_attr(&b, "nested_offset", -1)), offset_bits[0]);
    ck_assert_int_eq((int)sq_qtensor_attr(&b, "double_quant", 0), 1);

    /* Round trip: within half the widest code gap (0.2771 * absmax), zeros back for the zero block. */
    float *back = malloc(NF4_A_COUNT * sizeof *back), *back_nested = malloc(NF4_A_COUNT * sizeof *back);
    ck_assert_int_eq(f->dequantize(&a, back), SQ_OK);
    ck_assert_int_eq(f->dequantize(&b, back_nested), SQ_OK);
    double worst = 0, sum_sq = 0, sum_sq_nested = 0, energy = 0;
    for (int64_t i = 0; i < NF4_A_COUNT; i++) {
        float amax = absmax[i / 64];
        ck_assert_msg(fabsf(back[i] - x[i]) <= 0.1520f * amax + 1e-7f, "element %lld", (long long)i);
        worst = fmax(worst, fabs(back[i] - x[i]) / amax);
        sum_sq += (back[i] - x[i]) * (back[i] - x[i]);
        sum_sq_nested += (back_nested[i] - x[i]) * (back_nested[i] - x[i]);
        energy += (double)x[i] * x[i];
    }
    for (int i = NF4_A_ZERO_BLOCK * 64; i < NF4_A_ZERO_BLOCK * 64 + 64; i++) {
        ck_assert(back[i] == 0.0f);
        ck_assert(fabsf(back_nested[i]) < 0.01f * from_bits(offset_bits[0])); /* absmax ~ 0 after 8 bits */
    }
    /* Relative RMS error of NF4 on this (roughly normal) data, plain and double-quantized. */
    double rel = sqrt(sum_sq / energy), rel_nested = sqrt(sum_sq_nested / energy);
    ck_assert_msg(rel < 0.15 && rel_nested < 0.15 && rel_nested >= rel * 0.98, "rel %g nested %g", rel, rel_nested);
    free(back);
    free(back_nested);
    free(x);
    free(first_inputs);
    free(absmax_bits);
    free(nested_bits);
    free(offset_bits);
    free(bnb_packed);
    free(bnb_absmax_q);
    sq_qtensor_free(&a);
    sq_qtensor_free(&b);
}
END_TEST

START_TEST(test_case_b_and_thresholds)
{
    float *x = lcg_values(NF4_B_COUNT, NF4_B_SEED);
    uint8_t *bnb_packed = vectors("b_packed.u8", 46, 1), *bnb_absmax_q = vectors("b_absmax_q.u8", 3, 1);
    uint32_t *absmax_bits = vectors("b_absmax.f32", 3, 4), *nested_bits = vectors("b_nested_absmax.f32", 1, 4);
    uint32_t *offset_bits = vectors("b_nested_offset.f32", 1, 4);
    const sq_quant_format *f = sq_quant_format_find("nf4");
    sq_quant_options o = block_options(32, false, true);
    sq_qtensor qt;
    ck_assert_int_eq(f->quantize("norm_like", x, 7, 13, &o, NULL, &qt), SQ_OK);
    ck_assert_int_eq(memcmp(buffer(&qt, "packed", SQ_DTYPE_U8, 46)->data, bnb_packed, 46), 0);
    ck_assert_int_eq(memcmp(buffer(&qt, "absmax_q", SQ_DTYPE_U8, 3)->data, bnb_absmax_q, 3), 0);
    ck_assert_uint_eq(to_bits(((float *)buffer(&qt, "nested_absmax", SQ_DTYPE_F32, 1)->data)[0]), nested_bits[0]);
    ck_assert_uint_eq(to_bits((float)sq_qtensor_attr(&qt, "nested_offset", -1)), offset_bits[0]);
    float back[NF4_B_COUNT];
    ck_assert_int_eq(f->dequantize(&qt, back), SQ_OK);
    for (int i = 0; i < NF4_B_COUNT; i++) /* the dequantized absmax is within 1% here */
        ck_assert(fabsf(back[i] - x[i]) <= 0.1520f * from_bits(absmax_bits[i / 32]) * 1.01f + 1e-6f);
    sq_qtensor_free(&qt);
    free(x);
    free(bnb_packed);
    free(bnb_absmax_q);
    free(absmax_bits);
    free(nested_bits);
    free(offset_bits);

    float c[64];
    uint32_t *c_bits = vectors("c_input.f32", 64, 4);
    uint8_t *c_packed = vectors("c_packed.u8", 32, 1);
    for (int i = 0; i < 64; i++)
        c[i] = from_bits(c_bits[i]);
    ck_assert_int_eq(f->quantize("thresholds", c, 1, 64, NULL, NULL, &qt), SQ_OK);
    ck_assert_int_eq(memcmp(buffer(&qt, "packed", SQ_DTYPE_U8, 32)->data, c_packed, 32), 0);
    sq_qtensor_free(&qt);
    free(c_bits);
    free(c_packed);
}
END_TEST

START_TEST(test_edges)
{
    const sq_quant_format *f = sq_quant_format_find("nf4");
    float zeros[100] = {0}, back[100];
    sq_qtensor qt;
    for (int dq = 0; dq < 2; dq++) {
        sq_quant_options o = block_options(32, false, dq);
        ck_assert_int_eq(f->quantize("zeros", zeros, 4, 25, &o, NULL, &qt), SQ_OK);
        ck_assert_int_eq(f->dequantize(&qt, back), SQ_OK);
        for (int i = 0; i < 100; i++)
            ck_assert(back[i] == 0.0f);
        sq_qtensor_free(&qt);
    }
    int bad_sizes[] = {16, 48, 8192, 100};
    for (int i = 0; i < 4; i++) {
        sq_quant_options o = block_options(bad_sizes[i], false, false);
        ck_assert_int_eq(f->quantize("mixer.out_proj.weight", zeros, 4, 25, &o, NULL, &qt), SQ_ERR_USAGE);
        assert_message_has("mixer.out_proj.weight");
        assert_message_has("block_size");
    }
    float w[100];
    for (int i = 0; i < 100; i++)
        w[i] = (float)(i % 7) - 3.0f;
    w[77] = INFINITY;
    ck_assert_int_eq(f->quantize("mixer.out_proj.weight", w, 4, 25, NULL, NULL, &qt), SQ_ERR_INPUT);
    assert_message_has("'mixer.out_proj.weight'");
    assert_message_has("element 77");
    /* Bytes: 4096 elements at block 64 = 2048 packed bytes + 64 absmax floats; with double quant
     * 2048 + 64 + 4 (one nested absmax). */
    float *big = lcg_values(4096, 99);
    sq_quant_options plain = block_options(64, false, false), nested = block_options(64, false, true);
    ck_assert_int_eq(f->quantize("big", big, 64, 64, &plain, NULL, &qt), SQ_OK);
    ck_assert_uint_eq(sq_qtensor_bytes(&qt), 2048 + 64 * 4);
    sq_qtensor_free(&qt);
    ck_assert_int_eq(f->quantize("big", big, 64, 64, &nested, NULL, &qt), SQ_OK);
    ck_assert_uint_eq(sq_qtensor_bytes(&qt), 2048 + 64 + 4);
    sq_qtensor_free(&qt);
    free(big);
}
END_TEST

int main(void)
{
    return sq_test_run_tests("quant_nf4", 0,
                             SQ_TESTS(test_code_and_tree, test_dynamic_map_matches_reference, test_case_a_bytes,
                                      test_case_b_and_thresholds, test_edges));
}
