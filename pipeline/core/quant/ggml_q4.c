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

void sq_ggml_quantize_row_q4_0(const float *x, void *out, int64_t n)
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

void sq_ggml_dequantize_row_q4_0(const void *in, float *y, int64_t n)
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

void sq_ggml_quantize_row_q4_1(const float *x, void *out, int64_t n)
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

void sq_ggml_dequantize_row_q4_1(const void *in, float *y, int64_t n)
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
