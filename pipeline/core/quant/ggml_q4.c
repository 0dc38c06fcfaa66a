/* ggml_q4.c - ggml's Q4_0 and Q4_1: blocks of 32 values as 4-bit codes.
 *
 * Mirrors ggml-quants.c (the references llama.cpp's quantizer calls without
 * an importance matrix):
 *  - quantize_row_q4_0_ref: max = the value of largest magnitude (the first
 *    one on ties), d = max / -8, id = d ? 1/d : 0,
 *    q = MIN(15, (int8_t)(x * id + 8.5f)) (truncation), x = (q - 8) * d;
 *  - quantize_row_q4_1_ref: d = (max - min) / 15, id = d ? 1/d : 0,
 *    q = MIN(15, (int8_t)((x - min) * id + 0.5f)), x = q * d + m.
 * Byte j of a block holds element j in its low nibble and element j + 16 in
 * its high nibble.  d and m are stored as fp16; the codes use the fp32 values.
 * (quant/int4.c is squeeze's own group-wise variant with side buffers; these
 * are ggml's blocks themselves.)  Storage: ggml_blocks.h.
 */
#include <float.h>
#include <math.h>

#include "quant/ggml_blocks.h"

static inline int min15(int8_t v) { return v < 15 ? v : 15; } /* MIN(15, (int8_t)...) */

static void quantize_row_q4_0(const float *x, void *out, int64_t n)
{
    sq_block_q4_0 *y = out;
    for (int64_t i = 0; i < n / SQ_QK4_0; i++) {
        const float *v = x + i * SQ_QK4_0;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < SQ_QK4_0; j++)
            if (amax < fabsf(v[j])) {
                amax = fabsf(v[j]);
                max = v[j];
            }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = sq_f32_to_f16(d);
        for (int j = 0; j < SQ_QK4_0 / 2; j++) {
            const int q0 = min15((int8_t)(v[j] * id + 8.5f));
            const int q1 = min15((int8_t)(v[j + SQ_QK4_0 / 2] * id + 8.5f));
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void dequantize_row_q4_0(const void *in, float *y, int64_t n)
{
    const sq_block_q4_0 *x = in;
    for (int64_t i = 0; i < n / SQ_QK4_0; i++) {
        const float d = sq_f16_to_f32(x[i].d);
        for (int j = 0; j < SQ_QK4_0 / 2; j++) {
            y[i * SQ_QK4_0 + j] = ((x[i].qs[j] & 0x0f) - 8) * d;
            y[i * SQ_QK4_0 + j + SQ_QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void quantize_row_q4_1(const float *x, void *out, int64_t n)
{
    sq_block_q4_1 *y = out;
    for (int64_t i = 0; i < n / SQ_QK4_1; i++) {
        const float *v = x + i * SQ_QK4_1;
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < SQ_QK4_1; j++) {
            if (v[j] < min) min = v[j];
            if (v[j] > max) max = v[j];
        }
        const float d = (max - min) / 15;  /* ((1 << 4) - 1) */
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = sq_f32_to_f16(d);
        y[i].m = sq_f32_to_f16(min);
        for (int j = 0; j < SQ_QK4_1 / 2; j++) {
            const int q0 = min15((int8_t)((v[j] - min) * id + 0.5f));
            const int q1 = min15((int8_t)((v[j + SQ_QK4_1 / 2] - min) * id + 0.5f));
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void dequantize_row_q4_1(const void *in, float *y, int64_t n)
{
    const sq_block_q4_1 *x = in;
    for (int64_t i = 0; i < n / SQ_QK4_1; i++) {
        const float d = sq_f16_to_f32(x[i].d), m = sq_f16_to_f32(x[i].m);
        for (int j = 0; j < SQ_QK4_1 / 2; j++) {
            y[i * SQ_QK4_1 + j] = (x[i].qs[j] & 0x0f) * d + m;
            y[i * SQ_QK4_1 + j + SQ_QK4_1 / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

const sq_ggml_block_kind sq_ggml_kind_q4_0 = {
    .format = "q4_0", .ggml_name = "Q4_0", .ggml_type = 2, .block_values = SQ_QK4_0,
    .block_bytes = sizeof(sq_block_q4_0), .fallback = "fp16",
    .quantize_row = quantize_row_q4_0, .dequantize_row = dequantize_row_q4_0,
};

const sq_ggml_block_kind sq_ggml_kind_q4_1 = {
    .format = "q4_1", .ggml_name = "Q4_1", .ggml_type = 3, .block_values = SQ_QK4_1,
    .block_bytes = sizeof(sq_block_q4_1), .fallback = "fp16",
    .quantize_row = quantize_row_q4_1, .dequantize_row = dequantize_row_q4_1,
};

static sq_status q4_0_quantize(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                               const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)
{
    (void)calib; /* in the shared signature, unused here */
    return sq_ggml_quantize(&sq_ggml_kind_q4_0, tensor_name, values, rows, cols, options, out);
}

static sq_status q4_0_dequantize(const sq_qtensor *qt, float *out)
{
    return sq_ggml_dequantize(&sq_ggml_kind_q4_0, qt, out);
}

static sq_status q4_1_quantize(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                               const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)
{
    (void)calib; /* in the shared signature, unused here */
    return sq_ggml_quantize(&sq_ggml_kind_q4_1, tensor_name, values, rows, cols, options, out);
}

static sq_status q4_1_dequantize(const sq_qtensor *qt, float *out)
{
    return sq_ggml_dequantize(&sq_ggml_kind_q4_1, qt, out);
}

const sq_quant_format sq_format_q4_0 = {
    .name = "q4_0",
    .description = "ggml Q4_0: blocks of 32, fp16 scale + 4-bit codes (4.5 bits/weight), byte-identical to ggml",
    .format_class = SQ_FORMAT_CLASS_LOWBIT,
    .bits_per_weight = 4.5,
    .block_size = SQ_QK4_0,
    .calibration = SQ_CALIB_NONE,
    .options = sq_format_no_options,
    .quantize = q4_0_quantize,
    .dequantize = q4_0_dequantize,
};

const sq_quant_format sq_format_q4_1 = {
    .name = "q4_1",
    .description = "ggml Q4_1: blocks of 32, fp16 scale and min + 4-bit codes (5 bits/weight), byte-identical "
                   "to ggml",
    .format_class = SQ_FORMAT_CLASS_LOWBIT,
    .bits_per_weight = 5.0,
    .block_size = SQ_QK4_1,
    .calibration = SQ_CALIB_NONE,
    .options = sq_format_no_options,
    .quantize = q4_1_quantize,
    .dequantize = q4_1_dequantize,
};
