/* test_quant_float.c - fp32/fp16/bf16 storage and tensor.h's exact conversions. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quant/format.h"
#include "tensor/tensor.h"
#include "test_support.h"

/* An independent round-to-nearest-even in double: the representable spacing at
 * x's exponent (clamped at the smallest normal exponent for subnormals), then
 * nearbyint.  mantissa_bits 10 / min_exponent -14 for fp16, 7 / -126 for bf16. */
static float reference_round(float x, int mantissa_bits, int min_exponent, double max_finite)
{
    int e;
    if (x == 0.0f)
        return x;
    frexp((double)x, &e); /* |x| in [2^(e-1), 2^e) */
    int exponent = e - 1 < min_exponent ? min_exponent : e - 1;
    double ulp = ldexp(1.0, exponent - mantissa_bits);
    double r = nearbyint((double)x / ulp) * ulp;
    if (fabs(r) > max_finite)
        return r > 0 ? INFINITY : -INFINITY;
    return (float)r;
}

START_TEST(test_f16_exact_cases)
{
    ck_assert_uint_eq(sq_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(sq_f32_to_f16(-2.0f), 0xc000);
    ck_assert_uint_eq(sq_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(sq_f32_to_f16(65504.0f), 0x7bff);                 /* largest finite */
    ck_assert_uint_eq(sq_f32_to_f16(65519.0f), 0x7bff);                 /* below the halfway point */
    ck_assert_uint_eq(sq_f32_to_f16(65520.0f), 0x7c00);                 /* tie rounds to even = Inf */
    ck_assert_uint_eq(sq_f32_to_f16(1e10f), 0x7c00);                    /* overflow */
    ck_assert_uint_eq(sq_f32_to_f16(-1e10f), 0xfc00);
    ck_assert_uint_eq(sq_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);          /* tie, even below */
    ck_assert_uint_eq(sq_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);      /* tie, even above */
    ck_assert_uint_eq(sq_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01); /* just past the tie */
    ck_assert_uint_eq(sq_f32_to_f16(0x1p-14f), 0x0400);                 /* smallest normal */
    ck_assert_uint_eq(sq_f32_to_f16(0x1p-24f), 0x0001);                 /* smallest subnormal */
    ck_assert_uint_eq(sq_f32_to_f16(0x1p-25f), 0x0000);                 /* tie to even: 0 */
    ck_assert_uint_eq(sq_f32_to_f16(3 * 0x1p-25f), 0x0002);             /* tie to even: 2 */
    ck_assert_uint_eq(sq_f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400);      /* subnormal rounds up into normal */
    ck_assert_uint_eq(sq_f32_to_f16(0x1p-26f), 0x0000);
    ck_assert_uint_eq(sq_f32_to_f16(INFINITY), 0x7c00);
    ck_assert_uint_eq(sq_f32_to_f16(-INFINITY), 0xfc00);
    uint16_t nan = sq_f32_to_f16(NAN);
    ck_assert_uint_eq(nan & 0x7c00, 0x7c00);
    ck_assert_uint_ne(nan & 0x03ff, 0);
    ck_assert(isnan(sq_f16_to_f32(0x7e00)));
    ck_assert(isnan(sq_f16_to_f32(sq_f32_to_f16(from_bits(0x7f800001u))))); /* signalling NaN stays NaN */
    ck_assert(sq_f16_to_f32(0x0001) == 0x1p-24f);
    ck_assert(sq_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);
    ck_assert(sq_f16_to_f32(0x7bff) == 65504.0f);
    ck_assert(isinf(sq_f16_to_f32(0xfc00)) && sq_f16_to_f32(0xfc00) < 0);
}
END_TEST

START_TEST(test_bf16_exact_cases)
{
    ck_assert_uint_eq(sq_f32_to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(sq_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);          /* tie, even below */
    ck_assert_uint_eq(sq_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);      /* tie, even above */
    ck_assert_uint_eq(sq_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    ck_assert_uint_eq(sq_f32_to_bf16(FLT_MAX), 0x7f80);                 /* rounds past the largest: Inf */
    ck_assert_uint_eq(sq_f32_to_bf16(-INFINITY), 0xff80);
    ck_assert_uint_eq(sq_f32_to_bf16(from_bits(0x00010000u)), 0x0001);   /* subnormal kept */
    ck_assert_uint_eq(sq_f32_to_bf16(from_bits(0x00008000u)), 0x0000);   /* subnormal tie to even */
    ck_assert_uint_eq(sq_f32_to_bf16(from_bits(0x00018000u)), 0x0002);
    uint16_t nan = sq_f32_to_bf16(from_bits(0x7f800001u)); /* low payload bits only: must not become Inf */
    ck_assert(isnan(sq_bf16_to_f32(nan)));
    ck_assert(isnan(sq_bf16_to_f32(sq_f32_to_bf16(-NAN))));
    ck_assert(sq_bf16_to_f32(0x3f81) == 1.0f + 0x1p-7f);
}
END_TEST

START_TEST(test_conversions_against_reference)
{
    /* Every fp16 / bf16 bit pattern round-trips through f32. */
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = sq_f16_to_f32((uint16_t)h), b = sq_bf16_to_f32((uint16_t)h);
        if (isnan(f))
            ck_assert(isnan(sq_f16_to_f32(sq_f32_to_f16(f))));
        else
            ck_assert_uint_eq(sq_f32_to_f16(f), h);
        if (isnan(b))
            ck_assert(isnan(sq_bf16_to_f32(sq_f32_to_bf16(b))));
        else
            ck_assert_uint_eq(sq_f32_to_bf16(b), h);
    }
    /* Three hundred thousand pseudo-random f32 patterns against the independent rounding. */
    uint64_t state = 12345;
    for (int i = 0; i < 300000; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        float x = from_bits((uint32_t)(state >> 32));
        if (!isfinite(x))
            continue;
        float f16 = sq_f16_to_f32(sq_f32_to_f16(x));
        float want16 = reference_round(x, 10, -14, 65504.0);
        ck_assert_msg(to_bits(f16) == to_bits(want16), "fp16 of %a: got %a want %a", (double)x, (double)f16,
                      (double)want16);
        float bf = sq_bf16_to_f32(sq_f32_to_bf16(x));
        float want_bf = reference_round(x, 7, -126, (double)from_bits(0x7f7f0000u));
        ck_assert_msg(to_bits(bf) == to_bits(want_bf), "bf16 of %a: got %a want %a", (double)x, (double)bf,
                      (double)want_bf);
    }
}
END_TEST

START_TEST(test_registry)
{
    const char *names[] = {"fp32", "fp16", "bf16", "int8", "nf4", "int4", "gptq",
                           "q8_0", "q4_0", "q4_1", "q4_k", "q6_k"};
    const sq_quant_format *const *all = sq_quant_format_all();
    int count = 0;
    while (all[count])
        count++;
    ck_assert_int_eq(count, 12);
    for (int i = 0; i < 12; i++) {
        const sq_quant_format *f = sq_quant_format_find(names[i]);
        ck_assert_ptr_nonnull(f);
        ck_assert_str_eq(f->name, names[i]);
        ck_assert_ptr_nonnull(f->quantize);
        ck_assert_ptr_nonnull(f->dequantize);
        ck_assert_int_eq(sq_format_needs_hessian(f), strcmp(names[i], "gptq") == 0);
    }
    ck_assert_ptr_null(sq_quant_format_find("q5_0"));
    sq_quant_options o;
    sq_quant_options_default(&o);
    ck_assert_int_eq(o.bits, 4);
    ck_assert_int_eq(o.group_size, -1);
    ck_assert(o.damp == 0.01 && o.weight_percentile == 100.0 && !o.symmetric && !o.act_order);
}
END_TEST

static void round_trip(const char *format, sq_dtype dtype, const float *w, int64_t rows, int64_t cols)
{
    const sq_quant_format *f = sq_quant_format_find(format);
    sq_qtensor qt;
    float *back = calloc((size_t)(rows * cols), sizeof *back);
    ck_assert_int_eq(f->quantize("layer.weight", w, rows, cols, NULL, NULL, &qt), SQ_OK);
    ck_assert_str_eq(qt.format, format);
    ck_assert_int_eq(qt.ndim, 2);
    ck_assert_int_eq(qt.shape[0], rows);
    ck_assert_int_eq(qt.shape[1], cols);
    const sq_qbuffer *data = sq_qtensor_buffer(&qt, "data");
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(data->dtype, dtype);
    ck_assert_uint_eq(sq_qtensor_bytes(&qt), (uint64_t)(rows * cols) * sq_dtype_size(dtype));
    ck_assert_int_eq(f->dequantize(&qt, back), SQ_OK);
    for (int64_t i = 0; i < rows * cols; i++) {
        float want = dtype == SQ_DTYPE_F32   ? w[i]
                     : dtype == SQ_DTYPE_F16 ? sq_f16_to_f32(sq_f32_to_f16(w[i]))
                                             : sq_bf16_to_f32(sq_f32_to_bf16(w[i]));
        ck_assert_uint_eq(to_bits(back[i]), to_bits(want));
        ck_assert(fabsf(back[i] - w[i]) <= fabsf(w[i]) * (dtype == SQ_DTYPE_BF16 ? 0x1p-8f : 0x1p-11f) + 0x1p-24f);
    }
    free(back);
    sq_qtensor_free(&qt);
}

START_TEST(test_float_formats_round_trip)
{
    float w[3 * 7];
    for (int i = 0; i < 21; i++)
        w[i] = sinf((float)i * 0.7f) * powf(10.0f, (float)(i % 5) - 3.0f);
    w[4] = 0.0f;
    w[5] = -0.0f;
    w[6] = 3e-7f; /* fp16 subnormal */
    round_trip("fp32", SQ_DTYPE_F32, w, 3, 7);
    round_trip("fp16", SQ_DTYPE_F16, w, 3, 7);
    round_trip("bf16", SQ_DTYPE_BF16, w, 3, 7);
    round_trip("fp16", SQ_DTYPE_F16, w, 1, 21); /* a 1-D tensor is one row */
}
END_TEST

START_TEST(test_float_formats_refuse_bad_values)
{
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    sq_qtensor qt;
    const char *formats[] = {"fp32", "fp16", "bf16"};
    for (int f = 0; f < 3; f++) {
        w[6] = NAN;
        assert_quantize_refused(formats[f], "blocks.3.mixer.in_proj.weight", w, 2, 4, "element 6");
        assert_message_has("NaN");
        w[6] = -INFINITY;
        assert_quantize_refused(formats[f], "head", w, 2, 4, "Inf");
        w[6] = 7;
    }
    w[2] = 70000.0f; /* finite but beyond fp16 */
    assert_quantize_refused("fp16", "emb", w, 2, 4, "overflows fp16");
    ck_assert_int_eq(sq_quant_format_find("bf16")->quantize("emb", w, 2, 4, NULL, NULL, &qt), SQ_OK);
    sq_qtensor_free(&qt);
}
END_TEST

int main(void)
{
    return sq_test_run_tests("quant_float", 60,
                             SQ_TESTS(test_f16_exact_cases, test_bf16_exact_cases, test_conversions_against_reference,
                                      test_registry, test_float_formats_round_trip,
                                      test_float_formats_refuse_bad_values));
}
