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
 * The group functions take any even group size: ggml's blocks use 32, and
 * quant/int4.c (squeeze's group-wise variant, with d and m in side buffers)
 * uses them for its groups.  Storage: ggml_blocks.h.
 */
#include <float.h>
#include <math.h>

#include "quant/ggml_blocks.h"

static inline int min15(int8_t v) { return v < 15 ? v : 15; } /* MIN(15, (int8_t)...) */

float sq_q4_0_group(const float *v, int g, uint8_t *qs)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < g; j++)
        if (amax < fabsf(v[j])) {
            amax = fabsf(v[j]);
            max = v[j];
        }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < g / 2; j++) {
        const int q0 = min15((int8_t)(v[j] * id + 8.5f));
        const int q1 = min15((int8_t)(v[j + g / 2] * id + 8.5f));
        qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
    return d;
}

float sq_q4_1_group(const float *v, int g, uint8_t *qs, float *min_out)
{
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < g; j++) {
        if (v[j] < min) min = v[j];
        if (v[j] > max) max = v[j];
    }
    const float d = (max - min) / 15;  /* ((1 << 4) - 1) */
    const float id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < g / 2; j++) {
        const int q0 = min15((int8_t)((v[j] - min) * id + 0.5f));
        const int q1 = min15((int8_t)((v[j + g / 2] - min) * id + 0.5f));
        qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
    *min_out = min;
    return d;
}

void sq_q4_0_group_values(const uint8_t *qs, int g, float d, float *y)
{
    for (int j = 0; j < g / 2; j++) {
        y[j] = ((qs[j] & 0x0f) - 8) * d;
        y[j + g / 2] = ((qs[j] >> 4) - 8) * d;
    }
}

void sq_q4_1_group_values(const uint8_t *qs, int g, float d, float m, float *y)
{
    for (int j = 0; j < g / 2; j++) {
        y[j] = (qs[j] & 0x0f) * d + m;
        y[j + g / 2] = (qs[j] >> 4) * d + m;
    }
}

void sq_ggml_quantize_row_q4_0(const float *x, void *out, int64_t n)
{
    sq_block_q4_0 *y = out;
    for (int64_t i = 0; i < n / SQ_QK4_0; i++)
        y[i].d = sq_f32_to_f16(sq_q4_0_group(x + i * SQ_QK4_0, SQ_QK4_0, y[i].qs));
}

void sq_ggml_dequantize_row_q4_0(const void *in, float *y, int64_t n)
{
    const sq_block_q4_0 *x = in;
    for (int64_t i = 0; i < n / SQ_QK4_0; i++)
        sq_q4_0_group_values(x[i].qs, SQ_QK4_0, sq_f16_to_f32(x[i].d), y + i * SQ_QK4_0);
}

void sq_ggml_quantize_row_q4_1(const float *x, void *out, int64_t n)
{
    sq_block_q4_1 *y = out;
    for (int64_t i = 0; i < n / SQ_QK4_1; i++) {
        float min;
        y[i].d = sq_f32_to_f16(sq_q4_1_group(x + i * SQ_QK4_1, SQ_QK4_1, y[i].qs, &min));
        y[i].m = sq_f32_to_f16(min);
    }
}

void sq_ggml_dequantize_row_q4_1(const void *in, float *y, int64_t n)
{
    const sq_block_q4_1 *x = in;
    for (int64_t i = 0; i < n / SQ_QK4_1; i++)
        sq_q4_1_group_values(x[i].qs, SQ_QK4_1, sq_f16_to_f32(x[i].d), sq_f16_to_f32(x[i].m), y + i * SQ_QK4_1);
}
